// The tensor kernel's matrices (generator_cuda.cu with tensor cores): each weight matrix W
// [rows][cols] cut into 16x16 tiles and stored in the order mma.sync.m16n8k16 takes them, so that
// a lane loads its whole A fragment of a tile with one 16-byte read and a warp reads 512
// consecutive bytes. The lanes of the stream are the products' N dimension, 8 a tile.
//
// The element maps are the PTX ISA's ("Matrix Fragments for mma.m16n8k16 with floating point
// type"); the kernel indexes with them and the CPU test (tests/unit/mma_layout_test.cpp) runs
// the kernel's indexing against a product written out from them, for every shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/half.h"
#include "kernels/host_device.h"

namespace wavecast {

inline constexpr int kMmaM = 16, kMmaN = 8, kMmaK = 16;

WC_HOST_DEVICE inline int mma_tiles(int n, int tile) { return (n + tile - 1) / tile; }

// Element i (0..7) of lane `lane`'s A fragment (16x16, rows by k): registers {a0,a1} {a2,a3}
// {a4,a5} {a6,a7}, the lower index in the lower half.
WC_HOST_DEVICE inline int mma_a_row(int lane, int i) { return (lane >> 2) + ((i & 2) ? 8 : 0); }
WC_HOST_DEVICE inline int mma_a_col(int lane, int i) { return (lane & 3) * 2 + (i & 1) + ((i & 4) ? 8 : 0); }
// Element i (0..3) of its B fragment (16x8, k by lanes): registers {b0,b1} {b2,b3}.
WC_HOST_DEVICE inline int mma_b_row(int lane, int i) { return (lane & 3) * 2 + (i & 1) + ((i & 2) ? 8 : 0); }
WC_HOST_DEVICE inline int mma_b_col(int lane) { return lane >> 2; }
// Element i (0..3) of its accumulator (16x8, rows by lanes).
WC_HOST_DEVICE inline int mma_c_row(int lane, int i) { return (lane >> 2) + ((i & 2) ? 8 : 0); }
WC_HOST_DEVICE inline int mma_c_col(int lane, int i) { return (lane & 3) * 2 + (i & 1); }

// Where element i of lane `lane`'s A fragment of tile (mt, kt) is stored, in 16-bit elements, in
// a matrix of `ktiles` tiles along k.
WC_HOST_DEVICE inline size_t mma_packed_index(int mt, int kt, int ktiles, int lane, int i) {
    return ((static_cast<size_t>(mt) * ktiles + kt) * 32 + static_cast<size_t>(lane)) * 8 + static_cast<size_t>(i);
}
// What a lane puts in element i of its B fragment for k-tile kt and lane tile nt, from the
// activations x [lanes][ldx]: 0 past `cols`, where the padding's weights are 0 (and 0 x inf
// would not be).
WC_HOST_DEVICE inline float mma_b_value(const float* x, int ldx, int cols, int kt, int nt, int lane, int i) {
    const int k = kt * kMmaK + mma_b_row(lane, i);
    return k < cols ? x[static_cast<size_t>(nt * kMmaN + mma_b_col(lane)) * ldx + k] : 0.0f;
}

// A packed matrix's size in 16-byte fragments (what one lane loads of one tile).
WC_HOST_DEVICE inline size_t mma_packed_fragments(int rows, int cols) {
    return static_cast<size_t>(mma_tiles(rows, kMmaM)) * static_cast<size_t>(mma_tiles(cols, kMmaK)) * 32;
}

// W [rows][cols] (PyTorch's layout) packed, each weight rounded as with_precision() rounds it
// (fp16, or bf16), the tiles' padding zero.
inline std::vector<uint16_t> pack_mma(const float* w, int rows, int cols, bool bf16) {
    const int mtiles = mma_tiles(rows, kMmaM), ktiles = mma_tiles(cols, kMmaK);
    std::vector<uint16_t> p(mma_packed_fragments(rows, cols) * 8, 0);
    for (int mt = 0; mt < mtiles; ++mt)
        for (int kt = 0; kt < ktiles; ++kt)
            for (int lane = 0; lane < 32; ++lane)
                for (int i = 0; i < 8; ++i) {
                    const int r = mt * kMmaM + mma_a_row(lane, i), c = kt * kMmaK + mma_a_col(lane, i);
                    if (r >= rows || c >= cols) continue;
                    const float v = w[static_cast<size_t>(r) * cols + c];
                    p[mma_packed_index(mt, kt, ktiles, lane, i)] = bf16 ? float_to_bf16(v) : float_to_half(v);
                }
    return p;
}

}  // namespace wavecast
