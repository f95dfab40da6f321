// The generic kernel (and, with TC, the tensor kernel): persistent over a call, one block per LB
// lanes (generic_layout.h maps its shared memory). Per sample, in stage functions: sample_input
// (the previous class's embedding and the excitation), residual_layer for each layer, head, draw
// (Philox keyed by the lane at t, or the distribution itself when teacher-forced). Weights are
// stored transposed ([in][out]) so that the threads of a warp, one output each, read consecutive
// words, and one read serves all LB lanes. The host side is generator_cuda.cu.
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

#include "kernels/cuda/tensor_products.cuh"

namespace wavecast::wavenet_device {

// The sample loop's weights; WT is the matrices' storage type.
template <class WT>
struct NetWeights {
    int R, S, A, L, cycle, hop, C;  // C = 2RL
    const WT* embed;                // [A][R]
    const WT* conv_t;               // per layer [2R (in: tap0 | tap1)][2R (out)]
    const float* conv_b;            // [L][2R]
    const WT* res_t;                // per layer [R][R]
    const float* res_b;             // [L][R]
    const WT* skip_t;               // per layer [R][S]
    const float* skip_bias;         // [S]: the sum over layers, as the CPU reference adds it once
    const WT* out1_t;               // [S][A]
    const float* out1_b;            // [A]
    const WT* out2_t;               // [A][A]
    const float* out2_b;            // [A]
    const float* decode;            // [A]
    int X;                          // excitation channels 2K (0: none)
    const float* exc_t;             // [X][C], fp32 like the biases: X products per output, not R
    const float* exc_in_t;          // [X][R]: into the residual input
    const double* exc_inc;          // [K][128]: excitation_increments(), the host's bits
    // The tensor kernel's copies of the matrices, packed by mma_layout.h (null for the others):
    const uint4 *conv_p, *res_p, *skip_p, *out1_p, *out2_p;  // per layer for the first three
};

// The block's lanes: lanes [b0, b0 + nb) of the call, their regions of shared memory
// (generic_layout.h) and their classes.
struct Block {
    int b0, nb;
    float *x, *in, *z, *act, *skip, *h1, *logits, *exc;
    uint64_t* note_start;
    float* note_vel;
    int* note_pitch;
    int* cls;    // [LB]: the class each lane drew last (its next input)
    int* notes;  // [LB]: how many pitches each lane's frame sounds
};

// One sample's position in the call.
struct Sample {
    int f, i, t;             // frame, sample within it, sample within the call
    unsigned long long pos;  // the lane's absolute sample number
    float frac;              // how far the conditioning has moved from the last frame to this one
};

// y[b][o] = (acc ? y : 0) + bias[o] + sum_i Wt[i][o] x[b][i], for the block's lanes, outputs
// spread over the threads; the sum runs in order of i, as the CPU reference's.
template <int LB, class WT>
__device__ inline void matvec(const WT* __restrict__ wt, const float* __restrict__ bias, const float* x, int ldx, int cols, float* y,
                              int ldy, int rows, int nb, bool accumulate) {
    for (int o = threadIdx.x; o < rows; o += blockDim.x) {
        float acc[LB];
#pragma unroll
        for (int b = 0; b < LB; ++b) acc[b] = 0.0f;
        for (int i = 0; i < cols; ++i) {
            const float wv = to_float(wt[static_cast<size_t>(i) * rows + o]);
#pragma unroll
            for (int b = 0; b < LB; ++b) acc[b] += wv * x[b * ldx + i];
        }
#pragma unroll
        for (int b = 0; b < LB; ++b)
            if (b < nb) y[b * ldy + o] = (accumulate ? y[b * ldy + o] : 0.0f) + (bias ? bias[o] : 0.0f) + acc[b];
    }
}

// One of the sample loop's products, on the tensor cores (TC) or not.
template <int LB, class WT, bool TC>
__device__ inline void product(const WT* wt, const uint4* packed, const float* bias, const float* x, int ldx, int cols, float* y, int ldy,
                               int rows, int nb, bool accumulate) {
    if constexpr (TC) matvec_mma<LB, WT>(packed, bias, x, ldx, cols, y, ldy, rows, nb, accumulate);
    else matvec<LB>(wt, bias, x, ldx, cols, y, ldy, rows, nb, accumulate);
}

// The sample's input: the teacher's class where forced, the excitation (the frame's sounding
// pitches listed once a frame), and x = embed[class] + the excitation's input projection. The
// skip sum starts at its bias.
template <int LB, class WT>
__device__ __forceinline__ void sample_input(const NetWeights<WT>& w, const RunArgs& a, const Block k, const Sample s) {
    const int R = w.R, X = w.X, T = a.frames * w.hop;
    if (a.forced && threadIdx.x < k.nb) k.cls[threadIdx.x] = a.forced[static_cast<size_t>(k.b0 + threadIdx.x) * T + s.t];
    if (X && s.i == 0 && threadIdx.x < k.nb) {
        const int b = threadIdx.x;
        k.notes[b] = frame_notes(a.inputs + (static_cast<size_t>(s.f + 2) * a.lanes + k.b0 + b) * a.in, s.pos,
                                 a.started + static_cast<size_t>(k.b0 + b) * kPitches, k.note_pitch + b * kPitches,
                                 k.note_vel + b * kPitches, k.note_start + b * kPitches);
    }
    __syncthreads();
    for (int j = threadIdx.x; j < LB * X; j += blockDim.x) {
        const int b = j / X;
        if (b < k.nb)
            k.exc[j] = excitation_channel(s.pos, w.exc_inc, j % X, k.note_pitch + b * kPitches, k.note_vel + b * kPitches,
                                          k.note_start + b * kPitches, k.notes[b]);
    }
    if (X) __syncthreads();
    for (int j = threadIdx.x; j < LB * R; j += blockDim.x) {
        const int b = j / R, r = j % R;
        if (b >= k.nb) {
            k.x[j] = 0.0f;
            continue;
        }
        float e = 0.0f;  // in order of the channel, as the CPU's product
        for (int c = 0; c < X; ++c) e += w.exc_in_t[static_cast<size_t>(c) * R + r] * k.exc[b * X + c];
        k.x[j] = to_float(w.embed[static_cast<size_t>(k.cls[b]) * R + r]) + e;
    }
    for (int j = threadIdx.x; j < LB * w.S; j += blockDim.x) k.skip[j] = w.skip_bias[j % w.S];
    __syncthreads();
}

// Layer l, dilation d, its queue `qoff` floats into each lane's: the kernel-2 dilated conv over
// (x[t - d], x[t]) plus the interpolated conditioning and the excitation's projection, the gate,
// then the skip 1x1 into the skip sum and the residual 1x1 into x.
template <int LB, class WT, bool TC>
__device__ __forceinline__ void residual_layer(const NetWeights<WT>& w, const RunArgs& a, const Block k, const Sample s, int l, int d,
                                               size_t qoff) {
    const int R = w.R, S = w.S, X = w.X;
    const int slot = static_cast<int>(s.pos & static_cast<unsigned long long>(d - 1));
    for (int j = threadIdx.x; j < LB * R; j += blockDim.x) {
        const int b = j / R, r = j % R;
        if (b >= k.nb) continue;
        float* q = a.queues + static_cast<size_t>(k.b0 + b) * a.queue_per_lane + qoff + static_cast<size_t>(slot) * R;
        k.in[b * 2 * R + r] = q[r];  // x[t - d]
        k.in[b * 2 * R + R + r] = k.x[j];
        q[r] = k.x[j];  // becomes x[t - d] for sample t + d
    }
    // The conditioning moves from C[f-1] to C[f] within frame f, as on the CPU:
    // (last + conv bias) + frac * (now - last).
    for (int j = threadIdx.x; j < LB * 2 * R; j += blockDim.x) {
        const int b = j / (2 * R), o = j % (2 * R);
        if (b >= k.nb) continue;
        const size_t c = static_cast<size_t>(l) * 2 * R + o;
        const float last = a.cbuf[(static_cast<size_t>(s.f) * a.lanes + k.b0 + b) * w.C + c];
        const float now = a.cbuf[(static_cast<size_t>(s.f + 1) * a.lanes + k.b0 + b) * w.C + c];
        float e = 0.0f;  // in order of the channel, as the CPU's product
        for (int ch = 0; ch < X; ++ch) e += w.exc_t[static_cast<size_t>(ch) * w.C + c] * k.exc[b * X + ch];
        k.z[j] = ((last + w.conv_b[c]) + s.frac * (now - last)) + e;
    }
    __syncthreads();
    const size_t conv_tiles = mma_packed_fragments(2 * R, 2 * R), res_tiles = mma_packed_fragments(R, R),
                 skip_tiles = mma_packed_fragments(S, R);
    product<LB, WT, TC>(w.conv_t + static_cast<size_t>(l) * 4 * R * R, TC ? w.conv_p + l * conv_tiles : nullptr, nullptr, k.in, 2 * R,
                        2 * R, k.z, 2 * R, 2 * R, k.nb, true);
    __syncthreads();
    for (int j = threadIdx.x; j < LB * R; j += blockDim.x) {
        const int b = j / R, r = j % R;
        k.act[j] = tanh_ref(k.z[b * 2 * R + r]) * sigmoid_ref(k.z[b * 2 * R + R + r]);
    }
    __syncthreads();
    product<LB, WT, TC>(w.skip_t + static_cast<size_t>(l) * R * S, TC ? w.skip_p + l * skip_tiles : nullptr, nullptr, k.act, R, R, k.skip,
                        S, S, k.nb, true);
    if (l + 1 < w.L)  // the last layer's residual output feeds nothing
        product<LB, WT, TC>(w.res_t + static_cast<size_t>(l) * R * R, TC ? w.res_p + l * res_tiles : nullptr,
                            w.res_b + static_cast<size_t>(l) * R, k.act, R, R, k.x, R, R, k.nb, true);
    __syncthreads();
}

// logits = out2(relu(out1(relu(skip)))).
template <int LB, class WT, bool TC>
__device__ __forceinline__ void head(const NetWeights<WT>& w, const Block k) {
    const int S = w.S, A = w.A;
    for (int j = threadIdx.x; j < LB * S; j += blockDim.x) k.skip[j] = fmaxf(k.skip[j], 0.0f);
    __syncthreads();
    product<LB, WT, TC>(w.out1_t, w.out1_p, w.out1_b, k.skip, S, S, k.h1, A, A, k.nb, false);
    __syncthreads();
    for (int j = threadIdx.x; j < LB * A; j += blockDim.x) k.h1[j] = fmaxf(k.h1[j], 0.0f);
    __syncthreads();
    product<LB, WT, TC>(w.out2_t, w.out2_p, w.out2_b, k.h1, A, A, k.logits, A, A, k.nb, false);
    __syncthreads();
}

// One thread per lane: the distribution itself where teacher-forced, else a draw from
// softmax(logits / T) with Philox keyed by the lane at pos, summing in class order exactly as the CPU.
template <class WT>
__device__ __forceinline__ void draw(const NetWeights<WT>& w, const RunArgs& a, const Block k, const Sample s) {
    if (threadIdx.x >= k.nb) return;
    const int A = w.A, T = a.frames * w.hop;
    const int b = threadIdx.x, lane = k.b0 + b;
    float* lg = k.logits + b * A;
    int best = 0;
    for (int c = 1; c < A; ++c)
        if (lg[c] > lg[best]) best = c;
    const float m = lg[best];
    if (a.probs) {
        float sum = 0.0f;
        for (int c = 0; c < A; ++c) sum += lg[c] = exp_approx(lg[c] - m);
        float* p = a.probs + (static_cast<size_t>(lane) * T + s.t) * A;
        for (int c = 0; c < A; ++c) p[c] = lg[c] / sum;
        return;
    }
    const float temp = a.temperature[s.f * a.lanes + lane], lowest = a.lowest[lane];
    int drawn = best;
    if (temp > 0.0f) {
        const float inv_t = 1.0f / temp;
        float sum = 0.0f;
        for (int c = 0; c < A; ++c) {
            const float rel = lg[c] - m;
            sum += lg[c] = rel < lowest ? 0.0f : exp_approx(rel * inv_t);
        }
        const float u = philox_uniform(a.keys[lane], s.pos) * sum;
        float acc = 0.0f;
        for (int c = 0; c < A; ++c) {
            acc += lg[c];
            if (u < acc) {
                drawn = c;
                break;
            }
        }
    }
    k.cls[b] = drawn;
    a.out[static_cast<size_t>(lane) * T + s.t] = w.decode[drawn];
}

// Persistent over the call: each block owns LB lanes and walks every sample of every frame in
// order, never returning to the host between samples. The host gives each SM about one block, so
// the bounds let a thread have the registers of a block alone on its SM.
template <int LB, class WT, bool TC>
__global__ void __launch_bounds__(kGenericThreads, 1) wavenet_kernel(NetWeights<WT> w, RunArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const GenericLayout g = generic_layout(LB, w.R, w.S, w.A, w.X);
    auto at = [&](size_t off) { return reinterpret_cast<float*>(smem + off); };
    const int b0 = blockIdx.x * LB;
    const Block k{b0,
                  min(LB, a.lanes - b0),
                  at(g.x),
                  at(g.in),
                  at(g.z),
                  at(g.act),
                  at(g.skip),
                  at(g.h1),
                  at(g.logits),
                  at(g.exc),
                  reinterpret_cast<uint64_t*>(smem + g.note_start),
                  at(g.note_vel),
                  reinterpret_cast<int*>(smem + g.note_pitch),
                  reinterpret_cast<int*>(smem + g.cls),
                  reinterpret_cast<int*>(smem + g.notes)};
    if (threadIdx.x < LB) k.cls[threadIdx.x] = threadIdx.x < k.nb ? a.prev[b0 + threadIdx.x] : 0;
    __syncthreads();

    for (int f = 0; f < a.frames; ++f) {
        for (int i = 0; i < w.hop; ++i) {
            const int t = f * w.hop + i;
            const Sample s{f, i, t, a.pos0 + static_cast<unsigned long long>(t), static_cast<float>(i + 1) / static_cast<float>(w.hop)};
            sample_input<LB>(w, a, k, s);
            size_t qoff = 0;
            for (int l = 0; l < w.L; ++l) {
                const int d = 1 << (l % w.cycle);
                residual_layer<LB, WT, TC>(w, a, k, s, l, d, qoff);
                qoff += static_cast<size_t>(d) * w.R;
            }
            head<LB, WT, TC>(w, k);
            draw(w, a, k, s);
            __syncthreads();
        }
    }
    if (threadIdx.x < k.nb) a.prev[b0 + threadIdx.x] = k.cls[threadIdx.x];
}

}  // namespace wavecast::wavenet_device
