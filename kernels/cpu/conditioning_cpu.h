// The conditioning network on the CPU: each lane's frame features plus its instrument embedding,
// through a causal kernel-3 conv over frames (k-2, k-1, k), tanh, and a 1x1 projection to every
// layer's 2R slice. The generator interpolates consecutive outputs to the sample rate.
#pragma once

#include <vector>

#include "../model.h"
#include "vec.h"

namespace wavecast {

class ConditioningCpu {
public:
    ConditioningCpu(const Model& model, int lanes);

    // weights: [lanes][instruments]; the embedding is their weighted sum of the table's rows.
    void set_instruments(const float* weights);

    // features: [frames][lanes][F] -> out: [frames][lanes][2RL]
    void run(const float* features, int frames, float* out);

    int channels() const { return spec_.cond_channels(); }

private:
    const Model& model_;
    const ModelSpec& spec_;
    const Weights& w_;
    int lanes_;
    int in_;                    // F + E
    std::vector<float> embed_;  // [lanes][E]
    std::vector<float> hist_;   // [lanes][3][F + E]: frames k-2, k-1, k
    std::vector<float> hidden_; // [lanes][H]
    vec::Packed conv_;          // [H, 3 (F + E)]: cond_conv_by_tap(), to match hist's [k-2 | k-1 | k]
    vec::Packed proj_;          // [2RL, H]
};

}  // namespace wavecast
