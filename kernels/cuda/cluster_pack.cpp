#include "kernels/cuda/cluster_pack.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/half.h"
#include "kernels/net_layout.h"

namespace wavecast {

NetDims net_dims(const ModelSpec& s) {
    return {s.residual_channels, s.skip_channels, s.audio_classes, s.layers, s.excitation_channels(), s.dilation_cycle, s.frame_hop};
}

namespace {

// Stores weights into one CTA's block: matrices in the storage precision, the rest in fp32.
class Block {
public:
    Block(unsigned char* base, Precision p) : base_(base), p_(p) {}
    void matrix(size_t offset, size_t index, float v) const {
        if (p_ == Precision::fp32) {
            std::memcpy(base_ + offset + index * 4, &v, 4);
            return;
        }
        const uint16_t h = p_ == Precision::fp16 ? float_to_half(v) : float_to_bf16(v);
        if (p_ == Precision::fp16 && (h & 0x7FFFu) == 0x7C00u)
            throw std::runtime_error("cluster generator: a weight of " + std::to_string(v) + " is beyond fp16's range");
        std::memcpy(base_ + offset + index * 2, &h, 2);
    }
    void fp32(size_t offset, size_t index, float v) const { std::memcpy(base_ + offset + index * 4, &v, 4); }

private:
    unsigned char* base_;
    Precision p_;
};

}  // namespace

std::vector<unsigned char> pack_cluster_weights(const Model& model, const ClusterLayout& l, Precision p) {
    const ModelSpec& s = model.spec;
    const Weights& w = model.weights;
    const NetDims d = net_dims(s);
    if (l.bytes == 0) throw std::invalid_argument("pack_cluster_weights: no layout");
    const int R = d.R, S = d.S, A = d.A, L = d.L, X = d.X, C2 = 2 * R;
    std::vector<unsigned char> out(static_cast<size_t>(l.cluster) * l.weights_bytes, 0);
    const std::vector<float> decode = decode_table(A);
    std::vector<std::vector<float>> rows;  // each layer's conv as [2R][x[t-d] | x[t]]
    for (const auto& lw : w.layers) rows.push_back(conv_rows(lw, R));
    for (int cta = 0; cta < l.cluster; ++cta) {
        const Block b(out.data() + static_cast<size_t>(cta) * l.weights_bytes, p);
        for (int layer = 0; layer < L; ++layer) {
            const LayerWeights& lw = w.layers[static_cast<size_t>(layer)];
            for (int k = 0; k < l.r_per; ++k)
                for (int gate = 0; gate < 2; ++gate) {
                    const int row = conv_row(d, l, cta, k, gate);
                    for (int i = 0; i < C2; ++i)
                        b.matrix(l.conv_w, conv_w_index(d, l, layer, k, gate, i), rows[layer][static_cast<size_t>(row) * C2 + i]);
                    const size_t rg = (static_cast<size_t>(layer) * l.r_per + k) * 2 + gate;
                    b.fp32(l.conv_b, rg, lw.conv_b[static_cast<size_t>(row)]);
                    for (int x = 0; x < X; ++x)
                        b.fp32(l.exc_w, rg * X + x, w.excitation_w[(static_cast<size_t>(layer) * C2 + row) * X + x]);
                }
            for (int o = 0; o < R; ++o) {
                for (int k = 0; k < l.r_per; ++k)
                    b.matrix(l.res_w, (static_cast<size_t>(layer) * l.r_per + k) * R + o,
                             lw.res_w[static_cast<size_t>(o) * R + cta * l.r_per + k]);
                b.fp32(l.res_b, static_cast<size_t>(layer) * R + o, lw.res_b[static_cast<size_t>(o)]);
            }
            for (int o = 0; o < S; ++o)
                for (int k = 0; k < l.r_per; ++k)
                    b.matrix(l.skip_w, (static_cast<size_t>(layer) * l.r_per + k) * S + o,
                             lw.skip_w[static_cast<size_t>(o) * R + cta * l.r_per + k]);
        }
        for (int r = 0; r < R; ++r)
            for (int x = 0; x < X; ++x) b.fp32(l.exc_in, static_cast<size_t>(r) * X + x, w.excitation_in_w[static_cast<size_t>(r) * X + x]);
        const std::vector<float> skip_bias = skip_bias_sum(w, S);
        for (int o = 0; o < S; ++o) b.fp32(l.skip_bias, static_cast<size_t>(o), skip_bias[static_cast<size_t>(o)]);
        for (int j = 0; j < l.a_per; ++j) {
            const int row = cta * l.a_per + j;
            for (int i = 0; i < S; ++i) b.matrix(l.out1_w, static_cast<size_t>(j) * S + i, w.out1_w[static_cast<size_t>(row) * S + i]);
            b.fp32(l.out1_b, static_cast<size_t>(j), w.out1_b[static_cast<size_t>(row)]);
        }
        for (int o = 0; o < A; ++o) {
            for (int k = 0; k < l.a_per; ++k)
                b.matrix(l.out2_w, static_cast<size_t>(k) * A + o, w.out2_w[static_cast<size_t>(o) * A + cta * l.a_per + k]);
            b.fp32(l.out2_b, static_cast<size_t>(o), w.out2_b[static_cast<size_t>(o)]);
            b.fp32(l.decode, static_cast<size_t>(o), decode[static_cast<size_t>(o)]);
        }
    }
    return out;
}

}  // namespace wavecast
