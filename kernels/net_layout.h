// The sample loop's weights and tables as every generator uses them, computed here once: the CPU
// reference, the generic CUDA kernel and the cluster kernel's packing all start from these, so
// none can lay a tap or sum a bias differently.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/model.h"

namespace wavecast {

// A layer's dilated conv as rows [2R outputs][x[t-d] (R inputs) | x[t] (R inputs)], from PyTorch's
// [2R][R][2 taps] (tap 0 sees x[t-d]). Rows 0..R-1 feed the tanh, R..2R-1 the sigmoid gate.
std::vector<float> conv_rows(const LayerWeights& layer, int residual_channels);

// Every layer's skip bias summed in layer order: the skip sum starts from it once a sample.
std::vector<float> skip_bias_sum(const Weights& weights, int skip_channels);

// Each class's sample value (mu-law).
std::vector<float> decode_table(int classes);

// Teacher forcing's inputs must be classes; throws std::invalid_argument naming the first that is not.
void check_forced_inputs(const int* inputs, size_t count, int classes);

}  // namespace wavecast
