#include "kernels/conditioning.h"

#include <cstring>

namespace wavecast {

ConditioningInputs::ConditioningInputs(const Model& model, int lanes)
    : model_(model),
      lanes_(lanes),
      features_(model.spec.cond_features),
      in_(model.spec.cond_features + model.spec.instrument_dim),
      history_(static_cast<size_t>(2) * lanes * in_, 0.0f) {
    set_instruments(default_instrument_weights(model.spec, lanes).data());
}

void ConditioningInputs::set_instruments(const float* weights) { embed_ = blend_instruments(model_, weights, lanes_); }

const std::vector<float>& ConditioningInputs::prepare(const float* features, int frames) {
    const int E = in_ - features_;
    inputs_.resize(static_cast<size_t>(frames + 2) * lanes_ * in_);
    std::memcpy(inputs_.data(), history_.data(), history_.size() * sizeof(float));
    for (int f = 0; f < frames; ++f)
        for (int b = 0; b < lanes_; ++b) {
            float* dst = &inputs_[(static_cast<size_t>(f + 2) * lanes_ + b) * in_];
            std::memcpy(dst, features + (static_cast<size_t>(f) * lanes_ + b) * features_, sizeof(float) * features_);
            std::memcpy(dst + features_, &embed_[static_cast<size_t>(b) * E], sizeof(float) * E);
        }
    std::memcpy(history_.data(), &inputs_[static_cast<size_t>(frames) * lanes_ * in_], history_.size() * sizeof(float));
    return inputs_;
}

}  // namespace wavecast
