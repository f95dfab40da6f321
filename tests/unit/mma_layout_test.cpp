// The tensor kernel's packing and indexing (kernels/cuda/mma_layout.h), checked on the CPU for
// every matrix of every shape the project runs: every weight packed exactly once, rounded as the
// CPU reference holds it, where the fragment maps say a lane finds it; and the kernel's indexing
// (its B loads and accumulator stores) run through mma.m16n8k16 as the PTX ISA defines it gives
// W x for the block's lanes and writes nothing else.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/mma_layout.h"
#include "kernels/half.h"
#include "kernels/model.h"

using namespace wavecast;

namespace {

struct Dims {
    int rows, cols;
};

// Every matrix the sample loop multiplies by: conv [2R][2R], res [R][R], skip [S][R], out1 [A][S],
// out2 [A][A], for the shipped shapes and nv-wavenet's.
std::vector<Dims> matrices() {
    std::vector<Dims> m;
    for (const auto& [R, S, A] :
         std::vector<std::array<int, 3>>{{8, 16, 64}, {32, 64, 256}, {64, 128, 256}, {32, 128, 256}, {64, 256, 256}, {128, 256, 256}}) {
        m.push_back({2 * R, 2 * R});
        m.push_back({R, R});
        m.push_back({S, R});
        m.push_back({A, S});
        m.push_back({A, A});
    }
    m.push_back({40, 24});  // neither a multiple of 16
    return m;
}

std::vector<float> random_matrix(int rows, int cols, std::mt19937& rng) {
    std::normal_distribution<float> n(0.0f, 0.3f);
    std::vector<float> w(static_cast<size_t>(rows) * cols);
    for (auto& v : w) v = n(rng);
    return w;
}

float unpack(uint16_t bits, bool bf16) { return bf16 ? bf16_to_float(bits) : half_to_float(bits); }

}  // namespace

TEST(MmaLayout, EveryWeightIsPackedOnceRoundedAsTheCpuHoldsIt) {
    std::mt19937 rng(1);
    for (const Dims d : matrices())
        for (const bool bf16 : {false, true}) {
            const auto w = random_matrix(d.rows, d.cols, rng);
            const auto p = pack_mma(w.data(), d.rows, d.cols, bf16);
            ASSERT_EQ(p.size(), mma_packed_fragments(d.rows, d.cols) * 8);
            const int mtiles = mma_tiles(d.rows, kMmaM), ktiles = mma_tiles(d.cols, kMmaK);
            std::vector<int> seen(w.size(), 0);
            for (int mt = 0; mt < mtiles; ++mt)
                for (int kt = 0; kt < ktiles; ++kt)
                    for (int lane = 0; lane < 32; ++lane)
                        for (int i = 0; i < 8; ++i) {
                            const uint16_t bits = p[mma_packed_index(mt, kt, ktiles, lane, i)];
                            const int r = mt * kMmaM + mma_a_row(lane, i), c = kt * kMmaK + mma_a_col(lane, i);
                            if (r >= d.rows || c >= d.cols) {
                                ASSERT_EQ(bits, 0) << "padding at " << r << "," << c;
                                continue;
                            }
                            const size_t at = static_cast<size_t>(r) * d.cols + c;
                            ++seen[at];
                            ASSERT_EQ(bits, bf16 ? float_to_bf16(w[at]) : float_to_half(w[at]))
                                << d.rows << "x" << d.cols << " at " << r << "," << c;
                        }
            for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], 1) << d.rows << "x" << d.cols << " weight " << i;
        }
}

// The fragment maps cover each tile once: a lane's A elements, B elements and accumulators are
// each a distinct cell, and the 32 lanes together hold the whole tile.
TEST(MmaLayout, TheFragmentMapsCoverEachTileOnce) {
    std::set<std::pair<int, int>> a, b, c;
    for (int lane = 0; lane < 32; ++lane) {
        for (int i = 0; i < 8; ++i) a.insert({mma_a_row(lane, i), mma_a_col(lane, i)});
        for (int i = 0; i < 4; ++i) b.insert({mma_b_row(lane, i), mma_b_col(lane)});
        for (int i = 0; i < 4; ++i) c.insert({mma_c_row(lane, i), mma_c_col(lane, i)});
    }
    EXPECT_EQ(a.size(), 256u);
    EXPECT_EQ(b.size(), 128u);
    EXPECT_EQ(c.size(), 128u);
    for (const auto& [r, k] : a) EXPECT_TRUE(r >= 0 && r < 16 && k >= 0 && k < 16);
    for (const auto& [k, n] : b) EXPECT_TRUE(k >= 0 && k < 16 && n >= 0 && n < 8);
    for (const auto& [r, n] : c) EXPECT_TRUE(r >= 0 && r < 16 && n >= 0 && n < 8);
}

// matvec_mma's walk, a warp's lanes played one by one: each k-tile's A fragment from the packed
// matrix, the B values mma_b_value gives, the product mma.m16n8k16 defines, the accumulators
// stored where mma_c_row/col say. Lanes past nb (and rows past the matrix) must stay untouched;
// the activations past the last column are infinite, which the padding must never multiply.
TEST(MmaLayout, TheKernelsIndexingComputesTheProduct) {
    std::mt19937 rng(2);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (const Dims d : matrices())
        for (const int LB : {16, 32}) {
            const int nb = LB - 3, ldx = d.cols + 5, ldy = d.rows + 3;
            const auto w = random_matrix(d.rows, d.cols, rng);
            const auto p = pack_mma(w.data(), d.rows, d.cols, false);
            std::vector<float> x(static_cast<size_t>(LB) * ldx, INFINITY);
            for (int b = 0; b < LB; ++b)
                for (int i = 0; i < d.cols; ++i) x[static_cast<size_t>(b) * ldx + i] = n(rng);
            std::vector<float> y(static_cast<size_t>(LB) * ldy, std::nanf(""));
            const int mtiles = mma_tiles(d.rows, kMmaM), ktiles = mma_tiles(d.cols, kMmaK);
            for (int mt = 0; mt < mtiles; ++mt) {
                std::vector<std::array<double, 4>> acc(static_cast<size_t>(LB / kMmaN) * 32, {0, 0, 0, 0});
                for (int kt = 0; kt < ktiles; ++kt)
                    for (int nt = 0; nt < LB / kMmaN; ++nt) {
                        double A[16][16], B[16][8], D[16][8] = {};
                        for (int lane = 0; lane < 32; ++lane) {
                            for (int i = 0; i < 8; ++i)
                                A[mma_a_row(lane, i)][mma_a_col(lane, i)] = unpack(p[mma_packed_index(mt, kt, ktiles, lane, i)], false);
                            for (int i = 0; i < 4; ++i)
                                B[mma_b_row(lane, i)][mma_b_col(lane)] = mma_b_value(x.data(), ldx, d.cols, kt, nt, lane, i);
                        }
                        for (int r = 0; r < 16; ++r)
                            for (int c = 0; c < 8; ++c)
                                for (int k = 0; k < 16; ++k) D[r][c] += A[r][k] * B[k][c];
                        for (int lane = 0; lane < 32; ++lane)
                            for (int i = 0; i < 4; ++i)
                                acc[static_cast<size_t>(nt) * 32 + lane][i] += D[mma_c_row(lane, i)][mma_c_col(lane, i)];
                    }
                for (int nt = 0; nt < LB / kMmaN; ++nt)
                    for (int lane = 0; lane < 32; ++lane)
                        for (int i = 0; i < 4; ++i) {
                            const int o = mt * kMmaM + mma_c_row(lane, i), b = nt * kMmaN + mma_c_col(lane, i);
                            if (o < d.rows && b < nb)
                                y[static_cast<size_t>(b) * ldy + o] = static_cast<float>(acc[static_cast<size_t>(nt) * 32 + lane][i]);
                        }
            }
            for (int b = 0; b < LB; ++b)
                for (int o = 0; o < ldy; ++o) {
                    const float got = y[static_cast<size_t>(b) * ldy + o];
                    if (b >= nb || o >= d.rows) {
                        ASSERT_TRUE(std::isnan(got)) << "wrote lane " << b << " row " << o;
                        continue;
                    }
                    double want = 0, scale = 0;
                    for (int i = 0; i < d.cols; ++i) {
                        const double term =
                            half_to_float(float_to_half(w[static_cast<size_t>(o) * d.cols + i])) * x[static_cast<size_t>(b) * ldx + i];
                        want += term, scale += std::fabs(term);
                    }
                    ASSERT_TRUE(std::isfinite(got)) << d.rows << "x" << d.cols << " lane " << b << " row " << o;
                    ASSERT_NEAR(got, want, 1e-6 * scale + 1e-12)
                        << d.rows << "x" << d.cols << " LB " << LB << " lane " << b << " row " << o;
                }
        }
}
