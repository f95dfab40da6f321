// The conditioning stage: each lane's frame inputs (its notes-v1 features and its instrument
// embedding) of frames k-2, k-1 and k through a kernel-3 conv, tanh, and a 1x1 projection to every
// layer's 2R slice, C[k]. One interface: the CPU reference (cpu/conditioning_cpu.h, the
// definition) and cuDNN (cuda/conditioning_cudnn.h); ConditioningInputs prepares what both take.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/model.h"

namespace wavecast {

class Conditioning {
public:
    virtual ~Conditioning() = default;
    // inputs [frames + 2][lanes][inputs_per_lane()] (the first two rows the frames before) ->
    // out [frames][lanes][channels()], both in the backend's memory (host for the CPU; the device
    // for CUDA, queued on the stage's stream).
    virtual void run(const float* inputs, int frames, int lanes, float* out) = 0;
    virtual int inputs_per_lane() const = 0;
    virtual int channels() const = 0;
    virtual std::string describe() const = 0;  // the backend, and what it chose to run

    // For callers without memory of their own on the backend (the bench): buffers there for
    // `frames` x `lanes` (the inputs zero), valid until the next call; and a wait for what is queued.
    struct Buffers {
        float* inputs;
        float* out;
    };
    virtual Buffers buffers(int frames, int lanes) = 0;
    virtual void finish() = 0;
};

std::unique_ptr<Conditioning> make_cpu_conditioning(const Model& model);
// `stream`: the cudaStream_t the stage queues on (nullptr: its own). Throws where this build has
// no CUDA or no device answers.
std::unique_ptr<Conditioning> make_cuda_conditioning(const Model& model, void* stream = nullptr);

// Each call's inputs as a stage takes them: the two frames carried from the last call, then this
// call's features with each lane's instrument embedding beside them. Every generator prepares
// its conditioning's inputs here, so that none can differ in what the network sees.
class ConditioningInputs {
public:
    ConditioningInputs(const Model& model, int lanes);
    // weights: [lanes][instruments]; a lane's embedding is their weighted sum of the table's rows.
    void set_instruments(const float* weights);
    // features [frames][lanes][F] -> [frames + 2][lanes][F + E] (host), kept until the next call.
    const std::vector<float>& prepare(const float* features, int frames);
    int per_lane() const { return in_; }

private:
    const Model& model_;
    const int lanes_, features_, in_;
    std::vector<float> embed_;    // [lanes][E]
    std::vector<float> history_;  // [2][lanes][F + E]
    std::vector<float> inputs_;
};

}  // namespace wavecast
