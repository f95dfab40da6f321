// The generator on the GPU, its host side: the CPU reference's arithmetic (cpu/generator_cpu.cpp,
// the definition), one launch per call. The sample loop's kernel is wavenet_kernel.cuh (its
// tensor-core products tensor_products.cuh); where a cluster of SMs can hold the whole model,
// generator_cluster.cu runs instead.
//
// The conditioning network runs on cuDNN for the whole call first (conditioning_cudnn.h), every
// (frame, lane) at once; the inputs of the two frames before the call are carried in by the host.
// Finished audio goes back on a second stream into pinned memory.
//
// Precision: the sample loop's weight matrices are stored in fp32, fp16 or bf16 (the same bits as
// with_precision() gives the CPU reference); activations, biases, accumulation and the
// conditioning network are fp32. Half storage halves the bytes every sample reads.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conditioning_cudnn.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/generator_cluster.h"
#include "kernels/cuda/generator_state.h"
#include "kernels/cuda/generic_layout.h"
#include "kernels/cuda/mma_layout.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/cuda/wavenet_kernel.cuh"
#include "kernels/excitation.h"
#include "kernels/fastmath.h"
#include "kernels/half.h"
#include "kernels/mulaw.h"
#include "kernels/net_layout.h"
#include "kernels/philox.h"
#include "kernels/sampling.h"

namespace wavecast {
namespace {

using namespace wavenet_device;

// A weight matrix in the storage precision, rounded on the host by half.h's functions (those
// with_precision() uses), so that the CPU definition and the device hold the same bits.
void upload_matrix(DeviceBuffer<unsigned char>& buf, const std::vector<float>& v, Precision p) {
    std::vector<unsigned char> bytes;
    if (p == Precision::fp32) {
        bytes.resize(v.size() * sizeof(float));
        std::memcpy(bytes.data(), v.data(), bytes.size());
    } else {
        std::vector<uint16_t> h(v.size());
        for (size_t i = 0; i < v.size(); ++i) {
            h[i] = p == Precision::fp16 ? float_to_half(v[i]) : float_to_bf16(v[i]);
            if (p == Precision::fp16 && (h[i] & 0x7FFFu) == 0x7C00u)
                throw std::runtime_error("CUDA generator: a weight of " + std::to_string(v[i]) + " is beyond fp16's range");
        }
        bytes.resize(h.size() * sizeof(uint16_t));
        std::memcpy(bytes.data(), h.data(), bytes.size());
    }
    buf.upload(bytes);
}

void upload_bits(DeviceBuffer<unsigned char>& buf, const std::vector<uint16_t>& bits) {
    std::vector<unsigned char> bytes(bits.size() * sizeof(uint16_t));
    std::memcpy(bytes.data(), bits.data(), bytes.size());
    buf.upload(bytes);
}

template <class T>
void append(std::vector<T>& to, const std::vector<T>& more) {
    to.insert(to.end(), more.begin(), more.end());
}

// W [rows][cols] (PyTorch's layout) -> [cols][rows].
std::vector<float> transposed(const float* w, int rows, int cols) {
    std::vector<float> t(static_cast<size_t>(rows) * cols);
    for (int o = 0; o < rows; ++o)
        for (int i = 0; i < cols; ++i) t[static_cast<size_t>(i) * rows + o] = w[static_cast<size_t>(o) * cols + i];
    return t;
}

class GeneratorCuda final : public Generator {
public:
    GeneratorCuda(std::shared_ptr<const Model> model, const std::vector<LaneKey>& keys, Precision precision, CudaKernel kernel)
        : model_(std::move(model)),
          s_(model_->spec),
          lanes_(static_cast<int>(keys.size())),
          precision_(precision),
          cond_inputs_(*model_, lanes_) {
        if (lanes_ < 1) throw std::invalid_argument("a generator needs at least one lane");
        const auto devices = cuda_devices();
        if (devices.empty()) throw std::runtime_error("CUDA generator: no CUDA device");
        in_ = s_.cond_features + s_.instrument_dim;
        try {
            // The streams first: the state is zeroed and uploaded on the one the work runs on.
            CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
            CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
            CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
            int dev = 0, max_smem = 0;
            CUDA_CHECK(cudaGetDevice(&dev));
            CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
            choose_kernel(kernel, devices[0].sm_count, max_smem);
            check_memory();
            upload_weights();
            init_state(keys);
            if (!cluster_) switch (precision_) {
                    case Precision::fp16: allow_smem<__half>(max_smem); break;
                    case Precision::bf16: allow_smem<__nv_bfloat16>(max_smem); break;
                    default: allow_smem<float>(max_smem); break;
                }
        } catch (...) {
            release();  // a constructor that throws runs no destructor
            throw;
        }
    }

    ~GeneratorCuda() override { release(); }

    void release() {
        if (compute_) CUDA_REPORT(cudaStreamSynchronize(compute_));
        if (copy_) CUDA_REPORT(cudaStreamSynchronize(copy_));
        conditioning_.reset();  // before its stream goes
        if (done_) CUDA_REPORT(cudaEventDestroy(done_));
        if (compute_) CUDA_REPORT(cudaStreamDestroy(compute_));
        if (copy_) CUDA_REPORT(cudaStreamDestroy(copy_));
        if (pinned_) CUDA_REPORT(cudaFreeHost(pinned_));
        compute_ = copy_ = nullptr, done_ = nullptr, pinned_ = nullptr;
    }

    // Everything a call of `frames` frames sizes: the temperatures, the conditioning's inputs and
    // rows, the output and its pinned copy, and cuDNN's plan for the block.
    void reserve(int frames) override {
        const int C = s_.cond_channels();
        sampling_.resize(static_cast<size_t>(lanes_) * (frames + 1));
        sampling_host_.reserve(static_cast<size_t>(lanes_) * (frames + 1));
        inputs_.resize(static_cast<size_t>(frames + 2) * lanes_ * in_);
        grow_cbuf(static_cast<size_t>(frames + 1) * lanes_ * C);
        out_.resize(static_cast<size_t>(lanes_) * frames * s_.frame_hop);
        ensure_pinned(static_cast<size_t>(lanes_) * frames * s_.frame_hop * sizeof(float));
        conditioning_->plan(frames, lanes_);
    }

    const ModelSpec& spec() const override { return s_; }
    int lanes() const override { return lanes_; }
    std::string backend() const override { return "cuda"; }
    std::string kernel() const override {
        if (cluster_) return "cuda " + cluster_->describe();
        if (tensor_lanes_) return "cuda tensor-core kernel, " + std::to_string(tensor_lanes_) + " lanes a block";
        return "cuda generic kernel, " + std::to_string(lanes_per_block_) + (lanes_per_block_ == 1 ? " lane" : " lanes") + " a block" +
               (generic_because_.empty() ? "" : " (" + generic_because_ + ")");
    }
    uint64_t position() const override { return pos_; }

    void set_instruments(const float* weights) override { cond_inputs_.set_instruments(weights); }
    void set_tail_cut(const float* cut) override {
        for (int b = 0; b < lanes_; ++b) sampling_host_[static_cast<size_t>(b)] = tail_floor(cut[b]);
    }

    void generate(const float* features, const float* temperature, int frames, float* out) override {
        // From pageable memory, so the copy is staged before this returns and the vector may change.
        const size_t temps = static_cast<size_t>(frames) * lanes_;
        sampling_host_.resize(lanes_ + temps);
        std::copy(temperature, temperature + temps, sampling_host_.begin() + lanes_);
        sampling_.resize(sampling_host_.size());
        CUDA_CHECK(
            cudaMemcpyAsync(sampling_.p, sampling_host_.data(), sizeof(float) * sampling_host_.size(), cudaMemcpyHostToDevice, compute_));
        run(features, frames, nullptr, false);
        const size_t n = static_cast<size_t>(lanes_) * frames * s_.frame_hop;
        ensure_pinned(n * sizeof(float));
        // The copy runs on its own stream after the kernel's event, so the next call's work could
        // be queued behind it without waiting for the host.
        CUDA_CHECK(cudaStreamWaitEvent(copy_, done_, 0));
        CUDA_CHECK(cudaMemcpyAsync(pinned_, out_.p, n * sizeof(float), cudaMemcpyDeviceToHost, copy_));
        CUDA_CHECK(cudaStreamSynchronize(copy_));
        std::memcpy(out, pinned_, n * sizeof(float));
    }

    void teacher_forced(const float* features, const int* inputs, int frames, float* probs) override {
        const size_t T = static_cast<size_t>(frames) * s_.frame_hop;
        check_forced_inputs(inputs, static_cast<size_t>(lanes_) * T, s_.audio_classes);
        forced_.resize(static_cast<size_t>(lanes_) * T);
        CUDA_CHECK(cudaMemcpyAsync(forced_.p, inputs, sizeof(int) * lanes_ * T, cudaMemcpyHostToDevice, compute_));
        run(features, frames, forced_.p, true);
        const size_t n = static_cast<size_t>(lanes_) * T * s_.audio_classes;
        CUDA_CHECK(cudaStreamSynchronize(compute_));
        CUDA_CHECK(cudaMemcpy(probs, probs_.p, n * sizeof(float), cudaMemcpyDeviceToHost));
    }

private:
    void run(const float* features, int frames, const int* forced, bool want_probs) {
        const int C = s_.cond_channels(), A = s_.audio_classes;
        const size_t T = static_cast<size_t>(frames) * s_.frame_hop;
        // The conditioning's inputs: the two frames carried from the last call, then this call's.
        const std::vector<float>& inputs_host = cond_inputs_.prepare(features, frames);
        inputs_.resize(inputs_host.size());
        CUDA_CHECK(cudaMemcpyAsync(inputs_.p, inputs_host.data(), inputs_host.size() * sizeof(float), cudaMemcpyHostToDevice, compute_));

        // cbuf row 0 holds the last call's final C (zeros at the start); it stays where it is.
        grow_cbuf(static_cast<size_t>(frames + 1) * lanes_ * C);
        conditioning_->run(inputs_.p, frames, lanes_, cbuf_.p + static_cast<size_t>(lanes_) * C);

        if (want_probs) probs_.resize(static_cast<size_t>(lanes_) * T * A);
        else out_.resize(static_cast<size_t>(lanes_) * T);
        RunArgs a{cbuf_.p,
                  inputs_.p,
                  in_,
                  started_.p,
                  frames,
                  lanes_,
                  pos_,
                  keys_.p,
                  sampling_.p + lanes_,
                  sampling_.p,
                  forced,
                  want_probs ? nullptr : out_.p,
                  want_probs ? probs_.p : nullptr,
                  prev_.p,
                  queues_.p,
                  queue_per_lane_,
                  exc_inc_.p};
        switch (precision_) {
            case Precision::fp16: launch<__half>(a); break;
            case Precision::bf16: launch<__nv_bfloat16>(a); break;
            default: launch<float>(a); break;
        }
        CUDA_CHECK(cudaGetLastError());
        // The last frame's C becomes row 0 for the next call.
        CUDA_CHECK(cudaMemcpyAsync(cbuf_.p, cbuf_.p + static_cast<size_t>(frames) * lanes_ * C,
                                   static_cast<size_t>(lanes_) * C * sizeof(float), cudaMemcpyDeviceToDevice, compute_));
        CUDA_CHECK(cudaEventRecord(done_, compute_));
        pos_ += T;
    }

    // Which kernel runs the sample loop and its shared memory: the cluster kernel where it holds the
    // model, else the tensor kernel for many lanes in half precision, else the generic one with
    // one lane a block while there are SMs to spare, more (sharing each weight read) beyond.
    void choose_kernel(CudaKernel kernel, int sm_count, int max_smem) {
        const int lanes = lanes_;
        const int R = s_.residual_channels, S = s_.skip_channels, A = s_.audio_classes;
        // Lanes per block: one while there are SMs to spare, more (sharing each weight read) beyond.
        // Fewer lanes per block where a block's activations would not fit in shared memory.
        const int X = s_.excitation_channels();
        auto bytes = [&](int lb) { return generic_layout(lb, R, S, A, X).bytes; };
        lanes_per_block_ = 1;
        while (lanes_per_block_ < kGenericMaxLanes && lanes_per_block_ * sm_count < lanes &&
               bytes(2 * lanes_per_block_) <= static_cast<size_t>(max_smem))
            lanes_per_block_ *= 2;
        smem_ = bytes(lanes_per_block_);
        if (kernel == CudaKernel::automatic || kernel == CudaKernel::cluster) {
            try {
                cluster_ = std::make_unique<ClusterKernel>(*model_, precision_, lanes, kernel == CudaKernel::cluster);
            } catch (const std::runtime_error& e) {
                if (kernel == CudaKernel::cluster) throw;
                generic_because_ = e.what();
            }
        }
        // The tensor kernel: where no cluster takes the lanes, for many lanes in half precision.
        // 16 lanes a block; 32 where blocks of 16 would be four or more an SM, and run in waves.
        const bool tensor_fits = precision_ != Precision::fp32 && bytes(16) <= static_cast<size_t>(max_smem);
        if (kernel == CudaKernel::tensor && !tensor_fits)
            throw std::runtime_error(precision_ == Precision::fp32
                                         ? std::string("CUDA generator: the tensor kernel stores the weights in fp16 or bf16, not fp32")
                                         : "CUDA generator: 16 lanes of " + s_.shape_name() + " do not fit a block's shared memory");
        if (kernel == CudaKernel::tensor || (kernel == CudaKernel::automatic && !cluster_ && tensor_fits && lanes >= 16)) {
            tensor_lanes_ = lanes >= 64 * sm_count && bytes(32) <= static_cast<size_t>(max_smem) ? 32 : 16;
            smem_ = bytes(tensor_lanes_);
        }
        if (!cluster_ && smem_ > static_cast<size_t>(max_smem))
            throw std::runtime_error("CUDA generator: shape " + s_.shape_name() + " needs " + std::to_string(smem_) +
                                     " bytes of shared memory per lane; the device has " + std::to_string(max_smem));
    }

    void check_memory() const {
        const int R = s_.residual_channels, L = s_.layers, C = s_.cond_channels(), lanes = lanes_;
        // What the lanes' state needs (dilation queues, conditioning, output), refused up front
        // rather than failing part-way.
        size_t dilations = 0;
        for (int l = 0; l < L; ++l) dilations += static_cast<size_t>(s_.dilation(l));
        const size_t state =
            static_cast<size_t>(lanes) * (dilations * R + static_cast<size_t>(C) * 17 + in_ * 18 + s_.frame_hop * 16) * sizeof(float);
        size_t free_bytes = 0, total_bytes = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
        if (state > free_bytes)
            throw std::runtime_error("CUDA generator: " + std::to_string(lanes) + " lanes of " + s_.shape_name() + " need about " +
                                     std::to_string(state >> 20) + " MiB of device memory (16-frame calls); " +
                                     std::to_string(free_bytes >> 20) + " MiB are free");
    }

    // The sample loop's weights, transposed for the generic kernel and packed for the tensor one,
    // in the storage precision.
    void upload_weights() {
        const int R = s_.residual_channels, S = s_.skip_channels, A = s_.audio_classes, L = s_.layers;
        const int C = s_.cond_channels(), X = s_.excitation_channels(), lanes = lanes_;
        const Weights& w = model_->weights;
        std::vector<float> conv_t, res_t, skip_t, conv_b, res_b;
        for (int l = 0; l < L; ++l) {
            const auto& lw = w.layers[static_cast<size_t>(l)];
            auto ct = transposed(conv_rows(lw, R).data(), 2 * R, 2 * R);
            conv_t.insert(conv_t.end(), ct.begin(), ct.end());
            auto rt = transposed(lw.res_w.data(), R, R);
            res_t.insert(res_t.end(), rt.begin(), rt.end());
            auto st = transposed(lw.skip_w.data(), S, R);
            skip_t.insert(skip_t.end(), st.begin(), st.end());
            conv_b.insert(conv_b.end(), lw.conv_b.begin(), lw.conv_b.end());
            res_b.insert(res_b.end(), lw.res_b.begin(), lw.res_b.end());
        }

        upload_matrix(embed_, w.embed, precision_);
        upload_matrix(conv_t_, conv_t, precision_);
        upload_matrix(res_t_, res_t, precision_);
        upload_matrix(skip_t_, skip_t, precision_);
        upload_matrix(out1_t_, transposed(w.out1_w.data(), A, S), precision_);
        upload_matrix(out2_t_, transposed(w.out2_w.data(), A, A), precision_);
        if (tensor_lanes_) {
            std::vector<uint16_t> conv_p, res_p, skip_p;
            for (int l = 0; l < L; ++l) {
                const auto& lw = w.layers[static_cast<size_t>(l)];
                append(conv_p, pack_mma(conv_rows(lw, R).data(), 2 * R, 2 * R, precision_ == Precision::bf16));
                append(res_p, pack_mma(lw.res_w.data(), R, R, precision_ == Precision::bf16));
                append(skip_p, pack_mma(lw.skip_w.data(), S, R, precision_ == Precision::bf16));
            }
            upload_bits(conv_p_, conv_p);
            upload_bits(res_p_, res_p);
            upload_bits(skip_p_, skip_p);
            upload_bits(out1_p_, pack_mma(w.out1_w.data(), A, S, precision_ == Precision::bf16));
            upload_bits(out2_p_, pack_mma(w.out2_w.data(), A, A, precision_ == Precision::bf16));
        }
        conv_b_.upload(conv_b);
        res_b_.upload(res_b);
        skip_bias_.upload(skip_bias_sum(w, S));
        out1_b_.upload(w.out1_b);
        out2_b_.upload(w.out2_b);
        decode_.upload(decode_table(A));
        if (X) {
            exc_t_.upload(transposed(w.excitation_w.data(), C, X));
            exc_in_t_.upload(transposed(w.excitation_in_w.data(), R, X));
            exc_inc_.upload(excitation_increments(s_.excitation_harmonics, s_.sample_rate));
            started_.upload(std::vector<uint64_t>(static_cast<size_t>(lanes) * kPitches, kSilent), compute_);
        }
    }

    void init_state(const std::vector<LaneKey>& keys) {
        const int R = s_.residual_channels, A = s_.audio_classes, L = s_.layers, C = s_.cond_channels(), lanes = lanes_;
        int queue = 0;
        for (int l = 0; l < L; ++l) queue += s_.dilation(l) * R;
        queue_per_lane_ = queue;
        // The lanes' state, zeroed and uploaded on the stream the work runs on (and waited for):
        // nothing on the legacy default stream, which the non-blocking streams do not wait for.
        queues_.resize(static_cast<size_t>(lanes) * queue);
        queues_.zero(compute_);
        prev_.upload(std::vector<int>(static_cast<size_t>(lanes), A / 2), compute_);  // mu-law class of silence
        keys_.upload(keys, compute_);
        sampling_host_.assign(static_cast<size_t>(lanes), tail_floor(0.0f));
        cbuf_.resize(static_cast<size_t>(lanes) * C);
        cbuf_.zero(compute_);
        conditioning_ = std::make_unique<ConditioningCudnn>(*model_, compute_);
    }

    template <class WT>
    NetWeights<WT> net_weights() const {
        auto m = [](const DeviceBuffer<unsigned char>& b) { return reinterpret_cast<const WT*>(b.p); };
        return NetWeights<WT>{s_.residual_channels,
                              s_.skip_channels,
                              s_.audio_classes,
                              s_.layers,
                              s_.dilation_cycle,
                              s_.frame_hop,
                              s_.cond_channels(),
                              m(embed_),
                              m(conv_t_),
                              conv_b_.p,
                              m(res_t_),
                              res_b_.p,
                              m(skip_t_),
                              skip_bias_.p,
                              m(out1_t_),
                              out1_b_.p,
                              m(out2_t_),
                              out2_b_.p,
                              decode_.p,
                              s_.excitation_channels(),
                              exc_t_.p,
                              exc_in_t_.p,
                              exc_inc_.p,
                              packed(conv_p_),
                              packed(res_p_),
                              packed(skip_p_),
                              packed(out1_p_),
                              packed(out2_p_)};
    }
    static const uint4* packed(const DeviceBuffer<unsigned char>& b) { return reinterpret_cast<const uint4*>(b.p); }

    template <class WT>
    // The most the device allows beside the kernel's static shared memory, not this generator's
    // need: the attribute belongs to the kernel, which generators of other shapes launch too (the
    // last to set a smaller one would break the others' launches).
    void allow_smem(int device_max) {
        auto set = [&](auto kernel) {
            cudaFuncAttributes attr{};
            CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
            CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            device_max - static_cast<int>(attr.sharedSizeBytes)));
        };
        set(wavenet_kernel<1, WT, false>);
        set(wavenet_kernel<2, WT, false>);
        set(wavenet_kernel<4, WT, false>);
        set(wavenet_kernel<8, WT, false>);
        if constexpr (!std::is_same_v<WT, float>) {
            set(wavenet_kernel<16, WT, true>);
            set(wavenet_kernel<32, WT, true>);
        }
    }

    template <class WT>
    void launch(const RunArgs& a) {
        if (cluster_) {
            cluster_->launch(a, embed_.p, compute_);
            return;
        }
        const NetWeights<WT> w = net_weights<WT>();
        if constexpr (!std::is_same_v<WT, float>) {
            if (tensor_lanes_) {
                const int blocks = (lanes_ + tensor_lanes_ - 1) / tensor_lanes_;
                if (tensor_lanes_ == 16) wavenet_kernel<16, WT, true><<<blocks, kGenericThreads, smem_, compute_>>>(w, a);
                else wavenet_kernel<32, WT, true><<<blocks, kGenericThreads, smem_, compute_>>>(w, a);
                return;
            }
        }
        const int blocks = (lanes_ + lanes_per_block_ - 1) / lanes_per_block_;
        switch (lanes_per_block_) {
            case 1: wavenet_kernel<1, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            case 2: wavenet_kernel<2, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            case 4: wavenet_kernel<4, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            default: wavenet_kernel<8, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
        }
    }

    // cbuf to `rows` floats at least, its row 0 (the last call's final C) kept.
    void grow_cbuf(size_t rows) {
        if (rows <= cbuf_.n) return;
        DeviceBuffer<float> grown;
        grown.resize(rows);
        CUDA_CHECK(cudaMemcpyAsync(grown.p, cbuf_.p, static_cast<size_t>(lanes_) * s_.cond_channels() * sizeof(float),
                                   cudaMemcpyDeviceToDevice, compute_));
        CUDA_CHECK(cudaStreamSynchronize(compute_));
        std::swap(grown.p, cbuf_.p);
        std::swap(grown.n, cbuf_.n);
    }

    void ensure_pinned(size_t bytes) {
        if (bytes <= pinned_bytes_) return;
        if (pinned_) CUDA_CHECK(cudaFreeHost(pinned_));
        pinned_ = nullptr;
        CUDA_CHECK(cudaMallocHost(&pinned_, bytes));
        pinned_bytes_ = bytes;
    }

    std::shared_ptr<const Model> model_;
    const ModelSpec& s_;
    const int lanes_;
    const Precision precision_;
    uint64_t pos_ = 0;
    int in_ = 0, lanes_per_block_ = 1, queue_per_lane_ = 0;
    int tensor_lanes_ = 0;  // lanes a block of the tensor kernel where it runs, else 0
    size_t smem_ = 0;
    DeviceBuffer<unsigned char> embed_, conv_t_, res_t_, skip_t_, out1_t_, out2_t_;  // in the storage precision
    DeviceBuffer<unsigned char> conv_p_, res_p_, skip_p_, out1_p_, out2_p_;          // the tensor kernel's (mma_layout.h)
    DeviceBuffer<float> conv_b_, res_b_, skip_bias_, out1_b_, out2_b_, decode_, exc_t_, exc_in_t_;
    DeviceBuffer<double> exc_inc_;
    DeviceBuffer<uint64_t> started_;
    DeviceBuffer<float> queues_, sampling_, cbuf_, inputs_, out_, probs_;
    std::vector<float> sampling_host_;  // [lanes]: tail_floor() of each tail cut, then [frames][lanes]: temperature
    DeviceBuffer<int> prev_, forced_;
    DeviceBuffer<LaneKey> keys_;
    ConditioningInputs cond_inputs_;
    cudaStream_t compute_ = nullptr, copy_ = nullptr;
    std::unique_ptr<ConditioningCudnn> conditioning_;
    std::unique_ptr<ClusterKernel> cluster_;  // the sample loop's kernel where it holds the model
    std::string generic_because_;             // else why the generic kernel runs it
    cudaEvent_t done_ = nullptr;
    void* pinned_ = nullptr;
    size_t pinned_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model> model, std::vector<LaneKey> keys, Precision precision,
                                               CudaKernel kernel) {
    return std::make_unique<GeneratorCuda>(std::move(model), keys, precision, kernel);
}

}  // namespace wavecast
