#include "kernels/net_layout.h"

#include <stdexcept>
#include <string>

#include "kernels/mulaw.h"

namespace wavecast {

std::vector<float> conv_rows(const LayerWeights& lw, int R) {
    std::vector<float> rows(static_cast<size_t>(2 * R) * 2 * R);
    for (int o = 0; o < 2 * R; ++o)
        for (int i = 0; i < R; ++i)
            for (int k = 0; k < 2; ++k)
                rows[static_cast<size_t>(o) * 2 * R + k * R + i] = lw.conv_w[(static_cast<size_t>(o) * R + i) * 2 + k];
    return rows;
}

std::vector<float> skip_bias_sum(const Weights& w, int S) {
    std::vector<float> sum(static_cast<size_t>(S), 0.0f);
    for (const auto& lw : w.layers)
        for (int o = 0; o < S; ++o) sum[static_cast<size_t>(o)] += lw.skip_b[static_cast<size_t>(o)];
    return sum;
}

std::vector<float> decode_table(int classes) {
    std::vector<float> t(static_cast<size_t>(classes));
    for (int c = 0; c < classes; ++c) t[static_cast<size_t>(c)] = mulaw_decode(c, classes);
    return t;
}

void check_forced_inputs(const int* inputs, size_t count, int classes) {
    for (size_t i = 0; i < count; ++i)
        if (inputs[i] < 0 || inputs[i] >= classes)
            throw std::invalid_argument("teacher_forced: input class " + std::to_string(inputs[i]) + " outside 0.." +
                                        std::to_string(classes - 1));
}

}  // namespace wavecast
