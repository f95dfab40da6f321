// The cluster generator's layout and weight packing (kernels/cuda/cluster_layout.h,
// cluster_pack.cpp), checked on the CPU for every shape the project runs: the regions of each
// CTA's shared memory aligned and apart, the whole within a Hopper CTA's limit, and every weight of
// the model packed exactly once, where the kernel's index functions look for it.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "kernels/cuda/cluster_pack.h"
#include "kernels/half.h"

using namespace wavecast;

namespace {

ModelSpec nv_shape(int R, int S, int A, int L, int cycle) {
    ModelSpec s = named_shape("small");
    s.residual_channels = R, s.skip_channels = S, s.audio_classes = A, s.layers = L, s.dilation_cycle = cycle;
    s.excitation_harmonics = 0;
    return s;
}

std::vector<std::pair<std::string, ModelSpec>> shapes() {
    return {{"tiny", named_shape("tiny")},
            {"small", named_shape("small")},
            {"medium", named_shape("medium")},
            {"R64-S128-A256-L20", nv_shape(64, 128, 256, 20, 10)},
            {"R32-S128-A256-L16", nv_shape(32, 128, 256, 16, 8)},
            {"R64-S256-A256-L30", nv_shape(64, 256, 256, 30, 10)}};
}

float stored(const std::vector<unsigned char>& block, size_t offset, size_t index, Precision p) {
    if (p == Precision::fp32) {
        float v;
        std::memcpy(&v, block.data() + offset + index * 4, 4);
        return v;
    }
    uint16_t h;
    std::memcpy(&h, block.data() + offset + index * 2, 2);
    return p == Precision::fp16 ? half_to_float(h) : bf16_to_float(h);
}

float fp32_at(const std::vector<unsigned char>& block, size_t offset, size_t index) {
    return stored(block, offset, index, Precision::fp32);
}

}  // namespace

TEST(ClusterLayout, RegionsAreAlignedApartAndWithinTheLimitForEveryShape) {
    for (const auto& [name, spec] : shapes())
        for (int wb : {2, 4})
            for (int lanes : {1, 2, 4, 8}) {
                const ClusterLayout l = fitting_cluster_layout(net_dims(spec), wb, lanes);
                if (l.bytes == 0) continue;  // no cluster holds it: the generic kernel serves (checked below)
                const size_t offsets[] = {l.conv_w,    l.res_w,      l.skip_w,     l.out1_w,    l.out2_w,   l.conv_b,  l.exc_w,
                                          l.res_b,     l.exc_in,     l.skip_bias,  l.out1_b,    l.out2_b,   l.decode,  l.weights_bytes,
                                          l.x,         l.x_past,     l.act,        l.res_pub,   l.skip_pub, l.skip,    l.h1,
                                          l.logit_pub, l.logits,     l.cond_base,  l.cond_step, l.exc,      l.started, l.note_start,
                                          l.note_vel,  l.note_pitch, l.note_count, l.cls,       l.qoff,     l.bytes};
                for (size_t i = 0; i < std::size(offsets); ++i) {
                    if (i + 1 < std::size(offsets)) {  // the last is the end: no region starts there
                        EXPECT_EQ(offsets[i] % 16, 0u) << name << " region " << i;
                    }
                    if (i > 0) {
                        EXPECT_GE(offsets[i], offsets[i - 1]) << name << " region " << i;
                    }
                }
                EXPECT_LE(l.bytes, kClusterSmemLimit) << name;
                EXPECT_EQ(l.r_per * l.cluster, spec.residual_channels);
                EXPECT_EQ(l.a_per * l.cluster, spec.audio_classes);
            }
}

// The figures the kernel is for: nv-wavenet's medium shape and the shipped ones must fit a cluster
// in half precision at one lane and at eight.
TEST(ClusterLayout, TheHeadlineShapesFitAClusterInHalfPrecision) {
    for (const char* name : {"small", "medium"})
        for (int lanes : {1, 8}) {
            const ClusterLayout l = fitting_cluster_layout(net_dims(named_shape(name)), 2, lanes);
            EXPECT_GT(l.bytes, 0u) << name << " at " << lanes << " lanes";
            std::printf("%s fp16, %d lanes: %d CTAs, %zu KiB each (weights %zu KiB)\n", name, lanes, l.cluster, l.bytes / 1024,
                        l.weights_bytes / 1024);
        }
    const ClusterLayout m = fitting_cluster_layout(net_dims(named_shape("medium")), 2, 1, 8);
    EXPECT_EQ(m.cluster, 8) << "medium at one lane should take a portable cluster of 8";
}

// Every weight lands once, where the kernel's indices read it, rounded as with_precision rounds it.
TEST(ClusterLayout, PackingPutsEveryWeightWhereTheKernelReadsIt) {
    for (const auto& [name, spec] : shapes())
        for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16}) {
            const ClusterLayout l = fitting_cluster_layout(net_dims(spec), p == Precision::fp32 ? 4 : 2, 2);
            if (l.bytes == 0) continue;
            const Model model = random_model(spec, 9);
            const Model rounded = with_precision(model, p);
            const auto packed = pack_cluster_weights(model, l, p);
            ASSERT_EQ(packed.size(), static_cast<size_t>(l.cluster) * l.weights_bytes);
            const NetDims d = net_dims(spec);
            const int R = d.R, S = d.S, A = d.A, X = d.X;
            const Weights& w = rounded.weights;
            std::map<std::string, int> seen;  // conv row -> how many CTAs hold it
            for (int cta = 0; cta < l.cluster; ++cta) {
                const std::vector<unsigned char> block(packed.begin() + static_cast<std::ptrdiff_t>(cta * l.weights_bytes),
                                                       packed.begin() + static_cast<std::ptrdiff_t>((cta + 1) * l.weights_bytes));
                for (int layer = 0; layer < d.L; ++layer) {
                    const auto& lw = w.layers[static_cast<size_t>(layer)];
                    for (int k = 0; k < l.r_per; ++k)
                        for (int gate = 0; gate < 2; ++gate) {
                            const int row = conv_row(d, l, cta, k, gate);
                            ++seen[std::to_string(layer) + "/" + std::to_string(row)];
                            for (int i = 0; i < 2 * R; ++i)
                                ASSERT_EQ(stored(block, l.conv_w, conv_w_index(d, l, layer, k, gate, i), p),
                                          lw.conv_w[(static_cast<size_t>(row) * R + i % R) * 2 + (i < R ? 0 : 1)])
                                    << name << " conv layer " << layer << " row " << row << " input " << i;
                            const size_t rg = (static_cast<size_t>(layer) * l.r_per + k) * 2 + gate;
                            ASSERT_EQ(fp32_at(block, l.conv_b, rg), lw.conv_b[static_cast<size_t>(row)]);
                            for (int x = 0; x < X; ++x)
                                ASSERT_EQ(fp32_at(block, l.exc_w, rg * X + x),
                                          w.excitation_w[(static_cast<size_t>(layer) * 2 * R + row) * X + x]);
                        }
                    for (int k = 0; k < l.r_per; ++k) {
                        const int in = cta * l.r_per + k;
                        for (int o = 0; o < R; ++o)
                            ASSERT_EQ(stored(block, l.res_w, (static_cast<size_t>(layer) * l.r_per + k) * R + o, p),
                                      lw.res_w[static_cast<size_t>(o) * R + in]);
                        for (int o = 0; o < S; ++o)
                            ASSERT_EQ(stored(block, l.skip_w, (static_cast<size_t>(layer) * l.r_per + k) * S + o, p),
                                      lw.skip_w[static_cast<size_t>(o) * R + in]);
                    }
                }
                for (int j = 0; j < l.a_per; ++j)
                    for (int i = 0; i < S; ++i)
                        ASSERT_EQ(stored(block, l.out1_w, static_cast<size_t>(j) * S + i, p),
                                  w.out1_w[static_cast<size_t>(cta * l.a_per + j) * S + i]);
                for (int k = 0; k < l.a_per; ++k)
                    for (int o = 0; o < A; ++o)
                        ASSERT_EQ(stored(block, l.out2_w, static_cast<size_t>(k) * A + o, p),
                                  w.out2_w[static_cast<size_t>(o) * A + cta * l.a_per + k]);
            }
            for (int layer = 0; layer < d.L; ++layer)
                for (int row = 0; row < 2 * R; ++row)
                    ASSERT_EQ((seen[std::to_string(layer) + "/" + std::to_string(row)]), 1)
                        << name << " conv row held by several CTAs or none";
        }
}
