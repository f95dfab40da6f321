// The generator stage: B lanes of the autoregressive network advanced together, frame by frame.
// The engine sees only this interface; cpu/ holds the reference, cuda/ the GPU's kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/model.h"
#include "kernels/philox.h"

namespace wavecast {

// A generator made for one stream keys its lanes' draws (philox.h's LaneKey) (seed, 0), (seed, 1),
// ...; one that several streams share (generator_batch.h) keys each stream's lanes as that
// stream's own generator would, so that a stream sounds the same batched or alone.
std::vector<LaneKey> lane_keys(uint64_t seed, int lanes);

class Generator {
public:
    virtual ~Generator() = default;

    virtual const ModelSpec& spec() const = 0;
    virtual int lanes() const = 0;
    virtual std::string backend() const = 0;
    // What runs it, in a few words (for logs and benchmarks): the backend, and on CUDA the kernel.
    virtual std::string kernel() const { return backend(); }

    // Each lane's instrument as weights over the model's instrument table, [lanes][N]; a blend
    // of several entries morphs the timbre. Takes effect from the next frame.
    virtual void set_instruments(const float* weights) = 0;

    // Each lane's tail cut, [lanes] in [0, 1] (sampling.h): generate() never draws a class whose
    // probability is below that times the most likely class's. 0, the whole distribution, until set.
    // Takes effect from the next generate().
    virtual void set_tail_cut(const float* cut) = 0;

    // Advances every lane by `frames` frames (frames * frame_hop samples).
    //   features:    [frames][lanes][cond_features], the notes-v1 layout of frame_features.h
    //   temperature: [frames][lanes], >= 0; 0 picks the most likely class (a frame each, so that a
    //                lane's temperature may follow its notes, as the renderer's sustains do)
    //   out:         [lanes][frames * frame_hop] samples in [-1, 1], the mu-law classes decoded:
    //                pre-emphasised where the model is (emphasis.h; the renderer de-emphasises)
    virtual void generate(const float* features, const float* temperature, int frames, float* out) = 0;

    // Teacher forcing, for training parity and backend comparison: advances every lane by `frames`
    // frames as generate() does, but feeds inputs[lane][t] as the class of the sample before t
    // instead of its own draw, and writes the output distribution softmax(logits) of every
    // sample, probs [lanes][frames * frame_hop][audio_classes]. Draws nothing.
    virtual void teacher_forced(const float* features, const int* inputs, int frames, float* probs) {
        (void)features, (void)inputs, (void)frames, (void)probs;
        throw std::logic_error(backend() + " generator: teacher forcing is not implemented");
    }

    // Samples generated per lane since construction (the Philox sample index of the next one).
    virtual uint64_t position() const = 0;

    // Makes ready everything a call of up to `frames` frames needs (device buffers, pinned memory,
    // plans, algorithm choices), without changing what the lanes play: a stream calls it once on
    // the main thread before its producer starts, so that no block allocates or plans (on CUDA,
    // 16 streams doing all of that cold at once met illegal addresses). The CPU's needs none.
    virtual void reserve(int frames) { (void)frames; }
};

// The CPU reference: the definition every other backend is tested against. Its lanes are split
// into `threads` groups, each advanced on its own thread (<= 0: one per core this process may
// use); the samples are the same however many.
std::unique_ptr<Generator> make_cpu_generator(std::shared_ptr<const Model> model, int lanes, uint64_t seed, int threads = 1);
// The same with each lane's key given: keys.size() lanes.
std::unique_ptr<Generator> make_cpu_generator(std::shared_ptr<const Model> model, std::vector<LaneKey> keys, int threads = 1);

// Which kernel runs the CUDA generator's sample loop (automatic): the cluster kernel
// (cuda/generator_cluster.cu) where the weights fit a thread-block cluster's shared memory and the
// lanes' clusters all run at once; else, for 16 lanes or more with weights in fp16 or bf16, the
// tensor kernel (the generic one's sample loop with its products on tensor cores, the lanes their
// N dimension, cuda/mma_layout.h); else the generic one. Or one of them by name, for tests and
// benchmarks (a shape or precision the named one cannot run is refused).
enum class CudaKernel { automatic, cluster, generic, tensor };
CudaKernel parse_cuda_kernel(const std::string& name);  // "auto", "cluster", "generic" or "tensor"

// The CUDA backend (cuda/generator_cuda.cu), its weight matrices stored in `precision` (what it
// computes is the CPU reference's on with_precision(model, precision), to rounding). Throws
// std::runtime_error where this build has no CUDA, no device answers, or the shape does not fit.
std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model> model, int lanes, uint64_t seed,
                                               Precision precision = Precision::fp32, CudaKernel kernel = CudaKernel::automatic);
std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model> model, std::vector<LaneKey> keys,
                                               Precision precision = Precision::fp32, CudaKernel kernel = CudaKernel::automatic);

}  // namespace wavecast
