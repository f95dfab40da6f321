// The conditioning network on the CPU, the definition (see conditioning.h): per frame and lane,
// the inputs of frames k-2, k-1, k through the causal kernel-3 conv, tanh, and the projection.
#pragma once

#include <vector>

#include "kernels/conditioning.h"
#include "kernels/cpu/vec.h"

namespace wavecast {

class ConditioningCpu final : public Conditioning {
public:
    explicit ConditioningCpu(const Model& model);
    void run(const float* inputs, int frames, int lanes, float* out) override;
    int inputs_per_lane() const override { return in_; }
    int channels() const override { return spec_.cond_channels(); }
    std::string describe() const override { return "cpu"; }
    Buffers buffers(int frames, int lanes) override;
    void finish() override {}

private:
    const ModelSpec& spec_;
    const Weights& w_;
    int in_;                     // F + E
    std::vector<float> window_;  // [lanes][3][F + E]: frames k-2, k-1, k of each lane, side by side
    std::vector<float> hidden_;  // [lanes][H]
    std::vector<float> bench_in_, bench_out_;
    vec::Packed conv_;  // [H, 3 (F + E)]: cond_conv_by_tap(), to match the window's [k-2 | k-1 | k]
    vec::Packed proj_;  // [2RL, H]
};

}  // namespace wavecast
