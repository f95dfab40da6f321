// Loops the compiler turns into SIMD code (omp simd with -fopenmp-simd), kept plain so that they
// read as the definition of the arithmetic. exp_approx (fastmath.h) replaces libm's expf, which
// does not vectorise: it is evaluated per lane-sample thousands of times and dominated the profile.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/fastmath.h"

namespace wavecast::vec {

inline float dot(const float* __restrict a, const float* __restrict b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// A weight matrix W [rows, cols] stored transposed in panels of kPanel outputs, [rows / kPanel]
// [cols][kPanel] with rows padded to a multiple of kTile, so a product walks the inputs in order
// and updates a tile of outputs at once from contiguous loads: no horizontal sums, a weight read
// once serves up to four lanes, and each panel is one sequential stream for the prefetcher (a
// row-strided walk stalled on every load once the matrix outgrew L1). With one or two lanes a
// tile spans several panels so that several independent FMA chains hide latency.
inline constexpr int kTile = 64;
inline constexpr int kPanel = 16;

struct Packed {
    int rows = 0, cols = 0, padded = 0;
    std::vector<float> t;  // [padded / kPanel][cols][kPanel], zero beyond rows

    Packed() = default;
    Packed(const float* W, int rows_, int cols_) : rows(rows_), cols(cols_), padded((rows_ + kTile - 1) / kTile * kTile) {
        t.assign(static_cast<size_t>(cols) * padded, 0.0f);
        for (int o = 0; o < rows; ++o)
            for (int i = 0; i < cols; ++i)
                t[panel(o) + static_cast<size_t>(i) * kPanel + o % kPanel] = W[static_cast<size_t>(o) * cols + i];
    }
    // Where output o's panel starts.
    size_t panel(int o) const { return static_cast<size_t>(o / kPanel) * cols * kPanel; }
};

template <int NB, int WIDTH>
inline void gemm_tile(const Packed& W, int o0, const float* __restrict bias, const float* __restrict X, int ldx, float* __restrict Y,
                      int ldy, bool accumulate) {
    constexpr int P = WIDTH / kPanel;
    float acc[NB][WIDTH] = {};
    const float* __restrict wt = W.t.data() + W.panel(o0);
    const size_t panel_size = static_cast<size_t>(W.cols) * kPanel;
    for (int i = 0; i < W.cols; ++i) {
        for (int b = 0; b < NB; ++b) {
            const float xv = X[static_cast<size_t>(b) * ldx + i];
            for (int p = 0; p < P; ++p) {
                const float* __restrict w = wt + p * panel_size + static_cast<size_t>(i) * kPanel;
#pragma omp simd
                for (int k = 0; k < kPanel; ++k) acc[b][p * kPanel + k] += w[k] * xv;
            }
        }
    }
    const int n = W.rows - o0 < WIDTH ? W.rows - o0 : WIDTH;
    // With few inputs the store is a good part of the tile's time: the loop-invariant choices
    // are taken outside fixed-length loops that vectorise.
    const float* bb = bias ? bias + o0 : nullptr;
    for (int b = 0; b < NB; ++b) {
        float* __restrict y = Y + static_cast<size_t>(b) * ldy + o0;
        const float* a = acc[b];
        if (n < WIDTH) {
            for (int k = 0; k < n; ++k) y[k] = (accumulate ? y[k] : 0.0f) + (bb ? bb[k] : 0.0f) + a[k];
        } else if (accumulate && bb) {
#pragma omp simd
            for (int k = 0; k < WIDTH; ++k) y[k] = (y[k] + bb[k]) + a[k];
        } else if (accumulate) {
#pragma omp simd
            for (int k = 0; k < WIDTH; ++k) y[k] = y[k] + a[k];
        } else if (bb) {
#pragma omp simd
            for (int k = 0; k < WIDTH; ++k) y[k] = bb[k] + a[k];
        } else {
#pragma omp simd
            for (int k = 0; k < WIDTH; ++k) y[k] = a[k];
        }
    }
}

// Y[b][o] = (accumulate ? Y[b][o] : 0) + bias[o] + sum_i W[o][i] X[b][i], the sum taken in order
// of i, for B lanes: X [B][ldx], Y [B][ldy]; bias may be null.
inline void gemm(const Packed& W, const float* bias, const float* X, int ldx, int B, float* Y, int ldy, bool accumulate) {
    for (int b = 0; b < B; b += 4) {
        const float* x = X + static_cast<size_t>(b) * ldx;
        float* y = Y + static_cast<size_t>(b) * ldy;
        switch (B - b < 4 ? B - b : 4) {
            case 1:
                for (int o = 0; o < W.rows; o += 64) gemm_tile<1, 64>(W, o, bias, x, ldx, y, ldy, accumulate);
                break;
            case 2:
                for (int o = 0; o < W.rows; o += 32) gemm_tile<2, 32>(W, o, bias, x, ldx, y, ldy, accumulate);
                break;
            case 3:
                for (int o = 0; o < W.rows; o += 16) gemm_tile<3, 16>(W, o, bias, x, ldx, y, ldy, accumulate);
                break;
            default:
                for (int o = 0; o < W.rows; o += 16) gemm_tile<4, 16>(W, o, bias, x, ldx, y, ldy, accumulate);
                break;
        }
    }
}

using wavecast::exp_approx;

#pragma omp declare simd
inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

#pragma omp declare simd
inline float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }

}  // namespace wavecast::vec
