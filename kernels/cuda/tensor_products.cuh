// The tensor kernel's products: the generic kernel's sample loop with every matrix-vector product
// on mma.sync.m16n8k16, the lanes its N dimension, the weights packed in fragment order
// (mma_layout.h) in fp16 or bf16, each activation split into parts of that type so that the sums
// are fp32's to rounding. wavenet_kernel.cuh runs its loop with these where TC is true.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/generator_state.h"
#include "kernels/cuda/generic_layout.h"
#include "kernels/cuda/mma_layout.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/excitation.h"
#include "kernels/fastmath.h"
#include "kernels/mulaw.h"
#include "kernels/philox.h"
#include "kernels/sampling.h"

namespace wavecast::wavenet_device {

// A weight tile times the activations' parts: d += A (b0, b1), on the tensor cores in the storage
// type, accumulating in fp32.
__device__ inline void mma_16816(float (&d)[4], const uint4& a, uint32_t b0, uint32_t b1, __half) {
#if __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
#else
    __trap();
#endif
}
__device__ inline void mma_16816(float (&d)[4], const uint4& a, uint32_t b0, uint32_t b1, __nv_bfloat16) {
#if __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
#else
    __trap();
#endif
}

__device__ inline uint16_t storage_bits(float v, __half) { return __half_as_ushort(__float2half_rn(v)); }
__device__ inline uint16_t storage_bits(float v, __nv_bfloat16) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
__device__ inline float storage_value(uint16_t b, __half) { return __half2float(__ushort_as_half(b)); }
__device__ inline float storage_value(uint16_t b, __nv_bfloat16) { return __bfloat162float(__ushort_as_bfloat16(b)); }

// An activation as parts in the storage type whose sum is it to fp32's precision (each part
// holds what the ones before it rounded off): 2 of fp16's 11 bits, 3 of bf16's 8. The products
// of the weights, exact in fp32, then sum to what the CPU's fp32 product gives, to rounding.
template <class WT>
inline constexpr int kMmaParts = std::is_same_v<WT, __half> ? 2 : 3;

// y[b][o] as matvec computes it, the weights packed by mma_layout.h: a warp a 16-row tile, the
// block's lanes in tiles of 8, each k-tile's A fragment read once for all of them.
template <int LB, class WT>
__device__ inline void matvec_mma(const uint4* __restrict__ wp, const float* __restrict__ bias, const float* x, int ldx, int cols, float* y,
                                  int ldy, int rows, int nb, bool accumulate) {
    static_assert(LB % kMmaN == 0, "the tensor kernel takes lanes in tiles of 8");
    constexpr int NT = LB / kMmaN, P = kMmaParts<WT>;
    const int lane = threadIdx.x & 31, mtiles = mma_tiles(rows, kMmaM), ktiles = mma_tiles(cols, kMmaK);
    for (int mt = threadIdx.x >> 5; mt < mtiles; mt += blockDim.x >> 5) {
        float d[NT][4];
#pragma unroll
        for (int n = 0; n < NT; ++n) d[n][0] = d[n][1] = d[n][2] = d[n][3] = 0.0f;
        const uint4* tile = wp + static_cast<size_t>(mt) * ktiles * 32 + lane;
        uint4 next = __ldg(tile);
        for (int kt = 0; kt < ktiles; ++kt) {
            // The next tile's weights are on their way from L2 while this one's products run.
            const uint4 a = next;
            if (kt + 1 < ktiles) next = __ldg(tile + static_cast<size_t>(kt + 1) * 32);
#pragma unroll
            for (int n = 0; n < NT; ++n) {
                float v[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) v[i] = mma_b_value(x, ldx, cols, kt, n, lane, i);
#pragma unroll
                for (int p = 0; p < P; ++p) {
                    uint16_t h[4];
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        h[i] = storage_bits(v[i], WT{});
                        v[i] -= storage_value(h[i], WT{});
                    }
                    mma_16816(d[n], a, h[0] | (static_cast<uint32_t>(h[1]) << 16), h[2] | (static_cast<uint32_t>(h[3]) << 16), WT{});
                }
            }
        }
#pragma unroll
        for (int n = 0; n < NT; ++n)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int o = mt * kMmaM + mma_c_row(lane, i), b = n * kMmaN + mma_c_col(lane, i);
                if (o < rows && b < nb) y[b * ldy + o] = (accumulate ? y[b * ldy + o] : 0.0f) + (bias ? bias[o] : 0.0f) + d[n][i];
            }
    }
}

}  // namespace wavecast::wavenet_device
