#include "conditioning_cpu.h"

#include <algorithm>
#include <cstring>

#include "vec.h"

namespace wavecast {

ConditioningCpu::ConditioningCpu(const Model& model, int lanes)
    : model_(model), spec_(model.spec), w_(model.weights), lanes_(lanes), in_(spec_.cond_features + spec_.instrument_dim) {
    const int H = spec_.cond_hidden;
    hist_.assign(static_cast<size_t>(lanes) * 3 * in_, 0.0f);
    hidden_.assign(static_cast<size_t>(lanes) * H, 0.0f);
    conv_ = vec::Packed(cond_conv_by_tap(model).data(), H, 3 * in_);
    proj_ = vec::Packed(w_.cond_proj_w.data(), spec_.cond_channels(), H);
    set_instruments(default_instrument_weights(spec_, lanes).data());
}

void ConditioningCpu::set_instruments(const float* weights) { embed_ = blend_instruments(model_, weights, lanes_); }

void ConditioningCpu::run(const float* features, int frames, float* out) {
    const int F = spec_.cond_features, E = spec_.instrument_dim, H = spec_.cond_hidden, C = channels();
    for (int f = 0; f < frames; ++f) {
        for (int b = 0; b < lanes_; ++b) {
            float* h = &hist_[static_cast<size_t>(b) * 3 * in_];
            std::memmove(h, h + in_, sizeof(float) * 2 * in_);  // k-1 -> k-2, k -> k-1
            float* now = h + 2 * in_;
            std::memcpy(now, features + (static_cast<size_t>(f) * lanes_ + b) * F, sizeof(float) * F);
            std::memcpy(now + F, &embed_[static_cast<size_t>(b) * E], sizeof(float) * E);
        }
        vec::gemm(conv_, w_.cond_conv_b.data(), hist_.data(), 3 * in_, lanes_, hidden_.data(), H, false);
        for (auto& v : hidden_) v = vec::tanh_approx(v);
        vec::gemm(proj_, w_.cond_proj_b.data(), hidden_.data(), H, lanes_, out + static_cast<size_t>(f) * lanes_ * C, C,
                  false);
    }
}

}  // namespace wavecast
