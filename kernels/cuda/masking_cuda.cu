// The masking stage on the GPU: the same streaming STFT and model as cpu/masking_cpu.cpp, with
// every hop that a call completes, for every channel, analysed in one batch: a window kernel,
// cuFFT R2C (plans made once per batch size), the power and threshold kernels, a gain kernel
// (each bin walks its hops in order, for the release), cuFFT C2R and an overlap-add kernel.
// Channels may be the channels of several streams: the batch is what makes the GPU pay.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/common.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/psychoacoustic_cuda.h"
#include "kernels/fastmath.h"
#include "kernels/masking.h"

namespace wavecast {
namespace {

// The same constants as the CPU stage (cpu/masking_cpu.cpp), where their reasons are given.
constexpr float kKneeDb = 6.0f;
constexpr float kRelease = 0.5f;
constexpr int kMaxHopsPerBatch = 128;
// A grid's y dimension is at most 65,535: frames (channels x hops) beyond that are walked by each
// block in steps of the grid's height.
constexpr int kMaxGridY = 65535;
dim3 frames_grid(int x_blocks, int frames) { return dim3(x_blocks, std::min(frames, kMaxGridY)); }

// sig [C][N - hop + H*hop] (history, then the new hops) -> frames [C*H][N], windowed.
__global__ void window_kernel(const float* __restrict__ sig, int sig_len, const float* __restrict__ w, int n, int hop, int hops,
                              int frames_total, float* __restrict__ frames) {
    for (int f = blockIdx.y; f < frames_total; f += gridDim.y) {
        const int c = f / hops, h = f % hops;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
            frames[static_cast<size_t>(f) * n + i] = sig[static_cast<size_t>(c) * sig_len + h * hop + i] * w[i];
    }
}

__global__ void power_kernel(const cufftComplex* __restrict__ spec, int total, float offset_db, float* __restrict__ power_db) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        const float p = spec[i].x * spec[i].x + spec[i].y * spec[i].y;
        power_db[i] = offset_db + 10.0f * log10_approx(p + 1e-30f);
    }
}

// One thread per (channel, bin): the hops in order, so the release sees the previous gain.
__global__ void gain_kernel(cufftComplex* __restrict__ spec, const float* __restrict__ power_db, const float* __restrict__ thr_db,
                            float* __restrict__ gain_state, int channels, int hops, int bins, float masking_db, int bypass,
                            unsigned long long* __restrict__ discarded, double* __restrict__ pe_sum) {
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= channels * bins) return;
    const int c = idx / bins, k = idx % bins;
    float g_prev = gain_state[idx];
    unsigned long long gone = 0;
    double pe = 0;
    for (int h = 0; h < hops; ++h) {
        const size_t i = (static_cast<size_t>(c) * hops + h) * bins + k;
        pe += log2_approx(1.0f + exp_approx((power_db[i] - thr_db[i]) * 0.115129255f));
        float g = 1.0f;
        if (!bypass) {
            const float margin = power_db[i] - (thr_db[i] + masking_db);
            const float target = fminf(fmaxf(1.0f + margin / kKneeDb, 0.0f), 1.0f);
            g = fmaxf(target, g_prev * kRelease);
        }
        g_prev = g;
        gone += g < 0.5f;
        spec[i].x *= g;
        spec[i].y *= g;
    }
    gain_state[idx] = g_prev;
    atomicAdd(discarded, gone);
    atomicAdd(pe_sum, pe);
}

// Output hop h of channel c: the first half of frame h plus the second half of frame h-1 (for
// h = 0, the tail kept from the last batch), windowed and scaled; interleaved into out [H*hop][C].
__global__ void overlap_add_kernel(const float* __restrict__ y, const float* __restrict__ tail, const float* __restrict__ w, int n, int hop,
                                   int hops, int channels, float scale, float* __restrict__ out) {
    for (int f = blockIdx.y; f < channels * hops; f += gridDim.y) {
        const int c = f / hops, h = f % hops;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < hop; i += gridDim.x * blockDim.x) {
            const float now = y[static_cast<size_t>(f) * n + i] * w[i] * scale;
            const float before =
                h == 0 ? tail[static_cast<size_t>(c) * hop + i] : y[static_cast<size_t>(f - 1) * n + hop + i] * w[hop + i] * scale;
            out[(static_cast<size_t>(h) * hop + i) * channels + c] = now + before;
        }
    }
}

__global__ void keep_tail_kernel(const float* __restrict__ y, const float* __restrict__ w, int n, int hop, int hops, float scale,
                                 float* __restrict__ tail) {
    const int c = blockIdx.y;
    const size_t last = static_cast<size_t>(c) * hops + hops - 1;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < hop; i += gridDim.x * blockDim.x)
        tail[static_cast<size_t>(c) * hop + i] = y[last * n + hop + i] * w[hop + i] * scale;
}

// in [H*hop][C] interleaved -> sig [C][history + H*hop], after the history.
__global__ void deinterleave_kernel(const float* __restrict__ in, int frames, int channels, int history, int sig_len,
                                    float* __restrict__ sig) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < frames * channels; i += gridDim.x * blockDim.x)
        sig[static_cast<size_t>(i % channels) * sig_len + history + i / channels] = in[i];
}

__global__ void shift_history_kernel(float* __restrict__ sig, int sig_len, int history, int consumed) {
    const int c = blockIdx.y;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < history; i += gridDim.x * blockDim.x)
        sig[static_cast<size_t>(c) * sig_len + i] = sig[static_cast<size_t>(c) * sig_len + consumed + i];
}

class MaskingCuda final : public Masking {
public:
    MaskingCuda(int sample_rate, int channels)
        : ch_(channels),
          n_(fft_size_on_a_device(sample_rate)),
          hop_(n_ / 2),
          bins_(n_ / 2 + 1),
          tables_(make_psycho_tables(sample_rate, n_)),
          dev_tables_(tables_) {
        if (channels < 1 || channels > 4096) throw std::invalid_argument("masking: 1..4096 channels");
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        window_.upload(masking_window(n_), stream_);
        power_offset_db_ = masking_power_offset_db(n_);

        const size_t frames = static_cast<size_t>(ch_) * kMaxHopsPerBatch;
        sig_len_ = (n_ - hop_) + kMaxHopsPerBatch * hop_;
        sig_ = DeviceBuffer<float>(static_cast<size_t>(ch_) * sig_len_, true, stream_);
        time_ = DeviceBuffer<float>(frames * n_, true, stream_);
        spec_ = DeviceBuffer<cufftComplex>(frames * bins_, true, stream_);
        power_ = DeviceBuffer<float>(frames * bins_, true, stream_);
        thr_ = DeviceBuffer<float>(frames * bins_, true, stream_);
        tail_ = DeviceBuffer<float>(static_cast<size_t>(ch_) * hop_, true, stream_);
        out_dev_ = DeviceBuffer<float>(frames * hop_, true, stream_);
        in_dev_ = DeviceBuffer<float>(frames * hop_, true, stream_);
        discarded_ = DeviceBuffer<unsigned long long>(1, true, stream_);
        pe_ = DeviceBuffer<double>(1, true, stream_);
        gain_.upload(std::vector<float>(static_cast<size_t>(ch_) * bins_, 1.0f), stream_);
        CUDA_CHECK(cudaMallocHost(&in_host_, frames * hop_ * sizeof(float)));
        CUDA_CHECK(cudaMallocHost(&out_host_, frames * hop_ * sizeof(float)));
        // Output lags input by one hop, as in the CPU stage: the first hop out is silence.
        fifo_.assign(static_cast<size_t>(hop_) * ch_, 0.0f);
    }

    ~MaskingCuda() override {
        CUDA_REPORT(cudaStreamSynchronize(stream_));
        plans_.clear();
        CUDA_REPORT(cudaFreeHost(in_host_));
        CUDA_REPORT(cudaFreeHost(out_host_));
        CUDA_REPORT(cudaStreamDestroy(stream_));
    }

    // Every batch a call of up to `frames` frames can make: one hop more than they hold, for
    // what an earlier call left pending.
    void reserve(size_t frames) override {
        const int most = static_cast<int>(std::min<size_t>(kMaxHopsPerBatch, frames / static_cast<size_t>(hop_) + 1));
        for (int hops = 1; hops <= most; ++hops) plans_for(hops);
        pending_.reserve((static_cast<size_t>(most) + 1) * hop_ * ch_);
    }

    int latency() const override { return n_; }
    int fft_size() const override { return n_; }
    const char* backend() const override { return "cuda"; }
    MaskingStats stats() const override { return MaskingStats::from_counts(frames_, ch_, bins_seen_, discarded_total_, pe_total_); }

    void process(const float* in, float* out, size_t frames, float masking_db) override {
        pending_.insert(pending_.end(), in, in + frames * ch_);
        size_t hops = pending_.size() / (static_cast<size_t>(hop_) * ch_);
        size_t used = 0;
        while (hops > 0) {
            const int h = static_cast<int>(std::min<size_t>(hops, kMaxHopsPerBatch));
            run_batch(pending_.data() + used, h, masking_db);
            used += static_cast<size_t>(h) * hop_ * ch_;
            hops -= static_cast<size_t>(h);
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
        // The FIFO always holds at least what this call asks for: one hop more than the input so far.
        std::copy_n(fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_read_), frames * ch_, out);
        fifo_read_ += frames * ch_;
        if (fifo_read_ > fifo_.size() / 2) {
            fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_read_));
            fifo_read_ = 0;
        }
    }

private:
    // The FFT size, once a device is known to answer (the tables go to it next).
    static int fft_size_on_a_device(int sample_rate) {
        int devices = 0;
        if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
            cudaGetLastError();
            throw std::runtime_error("masking: no CUDA device");
        }
        return masking_fft_size(sample_rate);
    }

    // A batch size's forward and inverse plans, destroyed with it: a plan made before one that
    // fails is not leaked.
    struct Plan {
        cufftHandle h = 0;
        bool made = false;
        Plan() = default;
        Plan(const Plan&) = delete;
        ~Plan() {
            if (made) cufftDestroy(h);
        }
    };
    struct Plans {
        Plan fwd, inv;
    };

    // Made by reserve() for every batch the stream's blocks give, so that none is made on the
    // block path after kernels are queued; a larger batch (the file tool's) makes its own here.
    const Plans& plans_for(int hops) {
        auto it = plans_.find(hops);
        if (it != plans_.end()) return *it->second;
        auto p = std::make_unique<Plans>();
        int n = n_;
        CUFFT_CHECK(cufftPlanMany(&p->fwd.h, 1, &n, nullptr, 1, n_, nullptr, 1, bins_, CUFFT_R2C, ch_ * hops));
        p->fwd.made = true;
        CUFFT_CHECK(cufftPlanMany(&p->inv.h, 1, &n, nullptr, 1, bins_, nullptr, 1, n_, CUFFT_C2R, ch_ * hops));
        p->inv.made = true;
        CUFFT_CHECK(cufftSetStream(p->fwd.h, stream_));
        CUFFT_CHECK(cufftSetStream(p->inv.h, stream_));
        return *plans_.emplace(hops, std::move(p)).first->second;
    }

    void run_batch(const float* in, int hops, float masking_db) {
        const int frames = ch_ * hops, history = n_ - hop_;
        const size_t in_count = static_cast<size_t>(hops) * hop_ * ch_;
        std::copy_n(in, in_count, in_host_);
        CUDA_CHECK(cudaMemcpyAsync(in_dev_.p, in_host_, in_count * sizeof(float), cudaMemcpyHostToDevice, stream_));
        CUDA_CHECK(cudaMemsetAsync(discarded_.p, 0, sizeof(unsigned long long), stream_));
        CUDA_CHECK(cudaMemsetAsync(pe_.p, 0, sizeof(double), stream_));
        deinterleave_kernel<<<64, 256, 0, stream_>>>(in_dev_.p, hops * hop_, ch_, history, sig_len_, sig_.p);
        window_kernel<<<frames_grid((n_ + 255) / 256, frames), 256, 0, stream_>>>(sig_.p, sig_len_, window_.p, n_, hop_, hops, frames,
                                                                                  time_.p);
        CUDA_CHECK(cudaGetLastError());
        const Plans& p = plans_for(hops);
        CUFFT_CHECK(cufftExecR2C(p.fwd.h, time_.p, spec_.p));
        power_kernel<<<256, 256, 0, stream_>>>(spec_.p, frames * bins_, power_offset_db_, power_.p);
        launch_psycho_threshold(dev_tables_.view(), power_.p, thr_.p, frames, stream_);
        gain_kernel<<<(ch_ * bins_ + 127) / 128, 128, 0, stream_>>>(spec_.p, power_.p, thr_.p, gain_.p, ch_, hops, bins_, masking_db,
                                                                    masking_db <= kMaskingBypassDb, discarded_.p, pe_.p);
        CUDA_CHECK(cudaGetLastError());
        CUFFT_CHECK(cufftExecC2R(p.inv.h, spec_.p, time_.p));
        const float scale = 1.0f / static_cast<float>(n_);
        overlap_add_kernel<<<frames_grid((hop_ + 255) / 256, frames), 256, 0, stream_>>>(time_.p, tail_.p, window_.p, n_, hop_, hops, ch_,
                                                                                         scale, out_dev_.p);
        keep_tail_kernel<<<dim3((hop_ + 255) / 256, ch_), 256, 0, stream_>>>(time_.p, window_.p, n_, hop_, hops, scale, tail_.p);
        shift_history_kernel<<<dim3((history + 255) / 256, ch_), 256, 0, stream_>>>(sig_.p, sig_len_, history, hops * hop_);
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaMemcpyAsync(out_host_, out_dev_.p, in_count * sizeof(float), cudaMemcpyDeviceToHost, stream_));
        unsigned long long gone = 0;
        double pe = 0;
        CUDA_CHECK(cudaMemcpyAsync(&gone, discarded_.p, sizeof gone, cudaMemcpyDeviceToHost, stream_));
        CUDA_CHECK(cudaMemcpyAsync(&pe, pe_.p, sizeof pe, cudaMemcpyDeviceToHost, stream_));
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        fifo_.insert(fifo_.end(), out_host_, out_host_ + in_count);
        frames_ += static_cast<uint64_t>(hops);
        bins_seen_ += static_cast<uint64_t>(frames) * bins_;
        discarded_total_ += gone;
        pe_total_ += pe;
    }

    const int ch_, n_, hop_, bins_;
    const PsychoTables tables_;
    PsychoTablesOnDevice dev_tables_;
    cudaStream_t stream_ = nullptr;
    std::map<int, std::unique_ptr<Plans>> plans_;
    float power_offset_db_ = 0;
    int sig_len_ = 0;
    DeviceBuffer<float> window_, sig_, time_, power_, thr_, tail_, out_dev_, in_dev_, gain_;
    DeviceBuffer<cufftComplex> spec_;
    DeviceBuffer<unsigned long long> discarded_;
    DeviceBuffer<double> pe_;
    float *in_host_ = nullptr, *out_host_ = nullptr;  // pinned
    std::vector<float> pending_, fifo_;
    size_t fifo_read_ = 0;
    uint64_t frames_ = 0, bins_seen_ = 0, discarded_total_ = 0;
    double pe_total_ = 0;
};

}  // namespace

std::unique_ptr<Masking> make_cuda_masking(int sample_rate, int channels) { return std::make_unique<MaskingCuda>(sample_rate, channels); }

}  // namespace wavecast
