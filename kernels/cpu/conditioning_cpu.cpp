#include "kernels/cpu/conditioning_cpu.h"

#include <algorithm>
#include <cstring>

namespace wavecast {

ConditioningCpu::ConditioningCpu(const Model& model)
    : spec_(model.spec), w_(model.weights), in_(spec_.cond_features + spec_.instrument_dim) {
    conv_ = vec::Packed(cond_conv_by_tap(model).data(), spec_.cond_hidden, 3 * in_);
    proj_ = vec::Packed(w_.cond_proj_w.data(), spec_.cond_channels(), spec_.cond_hidden);
}

void ConditioningCpu::run(const float* inputs, int frames, int lanes, float* out) {
    const int H = spec_.cond_hidden, C = channels();
    window_.resize(static_cast<size_t>(lanes) * 3 * in_);
    hidden_.resize(static_cast<size_t>(lanes) * H);
    for (int f = 0; f < frames; ++f) {
        for (int b = 0; b < lanes; ++b)
            for (int k = 0; k < 3; ++k)
                std::memcpy(&window_[(static_cast<size_t>(b) * 3 + k) * in_], inputs + (static_cast<size_t>(f + k) * lanes + b) * in_,
                            sizeof(float) * in_);
        vec::gemm(conv_, w_.cond_conv_b.data(), window_.data(), 3 * in_, lanes, hidden_.data(), H, false);
        for (auto& v : hidden_) v = vec::tanh_approx(v);
        vec::gemm(proj_, w_.cond_proj_b.data(), hidden_.data(), H, lanes, out + static_cast<size_t>(f) * lanes * C, C, false);
    }
}

Conditioning::Buffers ConditioningCpu::buffers(int frames, int lanes) {
    bench_in_.assign(static_cast<size_t>(frames + 2) * lanes * in_, 0.0f);
    bench_out_.assign(static_cast<size_t>(frames) * lanes * channels(), 0.0f);
    return {bench_in_.data(), bench_out_.data()};
}

std::unique_ptr<Conditioning> make_cpu_conditioning(const Model& model) { return std::make_unique<ConditioningCpu>(model); }

}  // namespace wavecast
