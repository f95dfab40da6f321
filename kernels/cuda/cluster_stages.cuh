// The cluster generator's stages (generator_cluster.cu runs them): the arguments, one CTA's view of
// its shared memory (cluster_layout.h), the dilation queues' reads and writes, and per sample the
// gates of a CTA's own channels, their partial skip and residual sums, the head's own rows and
// columns, and the draw every CTA makes alike.
#pragma once

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/cluster_layout.h"
#include "kernels/cuda/generator_state.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/excitation.h"
#include "kernels/philox.h"

namespace wavecast::cluster_device {

namespace cg = cooperative_groups;
constexpr unsigned kFull = 0xffffffffu;

struct ClusterArgs {
    NetDims d;
    ClusterLayout l;
    RunArgs a;
    const unsigned char* blocks;  // [cluster][weights_bytes]
};

// Pointers into one CTA's shared memory, as cluster_layout.h lays it out.
template <class WT>
struct Smem {
    const WT *conv_w, *res_w, *skip_w, *out1_w, *out2_w;
    const float *conv_b, *exc_w, *res_b, *exc_in, *skip_bias, *out1_b, *out2_b, *decode;
    float *x, *x_past, *act, *res_pub, *skip_pub, *skip, *h1, *logit_pub, *logits, *cond_base, *cond_step, *exc, *note_vel;
    uint64_t *started, *note_start;
    int *note_pitch, *note_count, *cls, *qoff;

    __device__ Smem(unsigned char* sm, const ClusterLayout& l) {
        auto w = [&](size_t o) { return reinterpret_cast<const WT*>(sm + o); };
        auto f = [&](size_t o) { return reinterpret_cast<float*>(sm + o); };
        conv_w = w(l.conv_w), res_w = w(l.res_w), skip_w = w(l.skip_w), out1_w = w(l.out1_w), out2_w = w(l.out2_w);
        conv_b = f(l.conv_b), exc_w = f(l.exc_w), res_b = f(l.res_b), exc_in = f(l.exc_in), skip_bias = f(l.skip_bias);
        out1_b = f(l.out1_b), out2_b = f(l.out2_b), decode = f(l.decode);
        x = f(l.x), x_past = f(l.x_past), act = f(l.act), res_pub = f(l.res_pub), skip_pub = f(l.skip_pub), skip = f(l.skip);
        h1 = f(l.h1), logit_pub = f(l.logit_pub), logits = f(l.logits), cond_base = f(l.cond_base), cond_step = f(l.cond_step);
        exc = f(l.exc), note_vel = f(l.note_vel);
        started = reinterpret_cast<uint64_t*>(sm + l.started), note_start = reinterpret_cast<uint64_t*>(sm + l.note_start);
        note_pitch = reinterpret_cast<int*>(sm + l.note_pitch), note_count = reinterpret_cast<int*>(sm + l.note_count);
        cls = reinterpret_cast<int*>(sm + l.cls), qoff = reinterpret_cast<int*>(sm + l.qoff);
    }
};

// Sums v over aligned groups of `width` lanes (a power of two up to 32); every lane of the warp
// must call it.
__device__ inline float group_sum(float v, int width) {
    for (int m = width >> 1; m > 0; m >>= 1) v += __shfl_xor_sync(kFull, v, m);
    return v;
}

// Threads per row when `rows` rows share the block: a power of two, at most a warp.
__device__ inline int threads_per_row(int rows) {
    int t = 32;
    while (t > 1 && t * rows > kClusterThreads) t >>= 1;
    return t;
}

// x_l(t - d_l) of lane b (0 beyond the cluster's real lanes), from its dilation queue. Rank 0
// wrote it, on another SM: read from L2 (ld.global.cg), never a line this SM's L1 kept from before.
__device__ inline float past(const ClusterArgs& p, const int* qoff, int b0, int nb, int layer, unsigned long long pos, int b, int r) {
    if (b >= nb) return 0.0f;
    const int d = 1 << (layer % p.d.cycle);
    const size_t slot = static_cast<size_t>(pos & static_cast<unsigned long long>(d - 1));
    return __ldcg(&p.a.queues[static_cast<size_t>(b0 + b) * p.a.queue_per_lane + qoff[layer] + slot * p.d.R + r]);
}

// Rank 0 keeps x_l(t) (the layer's input) in the queue, where sample t + d reads it.
__device__ inline void keep_past(const ClusterArgs& p, const int* qoff, int b0, int layer, unsigned long long pos, int b, int r, float v) {
    const int d = 1 << (layer % p.d.cycle);
    const size_t slot = static_cast<size_t>(pos & static_cast<unsigned long long>(d - 1));
    p.a.queues[static_cast<size_t>(b0 + b) * p.a.queue_per_lane + qoff[layer] + slot * p.d.R + r] = v;
}

// The gates of the CTA's own channels: Tc threads per channel sum both of its conv rows over
// [x[t-d] | x[t]], the first of each group adds the conditioning and the excitation's projection
// and writes tanh(z) * sigmoid(z_gate).
template <int LB, class WT>
__device__ inline void gates(const ClusterArgs& p, const Smem<WT>& s, int layer, float frac, const float* x_past) {
    const int R = p.d.R, X = p.d.X, rp = p.l.r_per, L = p.d.L;
    const int tc = threads_per_row(rp);
    const int k_raw = threadIdx.x / tc, t = threadIdx.x % tc;
    const bool active = k_raw < rp;
    const int k = active ? k_raw : 0;  // idle groups compute a real row, so that every lane shuffles
    const WT* wt = s.conv_w + conv_w_index(p.d, p.l, layer, k, 0, 0);
    const WT* wg = s.conv_w + conv_w_index(p.d, p.l, layer, k, 1, 0);
    float at[LB], ag[LB];
#pragma unroll
    for (int b = 0; b < LB; ++b) at[b] = ag[b] = 0.0f;
    for (int i = t; i < 2 * R; i += tc) {
        const float vt = to_float(wt[i]), vg = to_float(wg[i]);
        const float* in = i < R ? x_past + i : s.x + (i - R);
#pragma unroll
        for (int b = 0; b < LB; ++b) {
            at[b] += vt * in[b * R];
            ag[b] += vg * in[b * R];
        }
    }
#pragma unroll
    for (int b = 0; b < LB; ++b) at[b] = group_sum(at[b], tc), ag[b] = group_sum(ag[b], tc);
    if (!active || t != 0) return;
    const float* ew = s.exc_w + (static_cast<size_t>(layer) * rp + k) * 2 * X;
#pragma unroll
    for (int b = 0; b < LB; ++b) {
        float et = 0.0f, eg = 0.0f;  // in order of the channel, as the CPU's product
        for (int j = 0; j < X; ++j) et += ew[j] * s.exc[b * X + j], eg += ew[X + j] * s.exc[b * X + j];
        const size_t c = ((static_cast<size_t>(b) * L + layer) * rp + k) * 2;
        const float zt = ((s.cond_base[c] + frac * s.cond_step[c]) + et) + at[b];
        const float zg = ((s.cond_base[c + 1] + frac * s.cond_step[c + 1]) + eg) + ag[b];
        s.act[b * rp + k] = tanh_ref(zt) * sigmoid_ref(zg);
    }
}

// What the own channels' activations add to the skip sum (into the thread's registers: thread o
// owns skip output o) and, unless this is the last layer, to every residual output (published).
template <int LB, class WT>
__device__ inline void partials(const ClusterArgs& p, const Smem<WT>& s, int layer, float (&skip_acc)[LB], float* res_pub) {
    const int R = p.d.R, S = p.d.S, rp = p.l.r_per;
    if (threadIdx.x < S) {
        const WT* w = s.skip_w + static_cast<size_t>(layer) * rp * S + threadIdx.x;
        for (int k = 0; k < rp; ++k) {
            const float v = to_float(w[static_cast<size_t>(k) * S]);
#pragma unroll
            for (int b = 0; b < LB; ++b) skip_acc[b] += v * s.act[b * rp + k];
        }
    }
    if (layer + 1 == p.d.L) return;  // the last layer's residual output feeds nothing
    // Residual outputs go to the threads after the skip's first, wrapping round.
    for (int j = (threadIdx.x + kClusterThreads - S % kClusterThreads) % kClusterThreads; j < R; j += kClusterThreads) {
        const WT* w = s.res_w + static_cast<size_t>(layer) * rp * R + j;
        float acc[LB];
#pragma unroll
        for (int b = 0; b < LB; ++b) acc[b] = 0.0f;
        for (int k = 0; k < rp; ++k) {
            const float v = to_float(w[static_cast<size_t>(k) * R]);
#pragma unroll
            for (int b = 0; b < LB; ++b) acc[b] += v * s.act[b * rp + k];
        }
#pragma unroll
        for (int b = 0; b < LB; ++b) res_pub[b * R + j] = acc[b];
    }
}

// out1's own rows (T1 threads a row) then out2's partial logits from the own h1 columns.
template <int LB, class WT>
__device__ inline void head(const ClusterArgs& p, const Smem<WT>& s) {
    const int S = p.d.S, A = p.d.A, ap = p.l.a_per;
    const int t1 = threads_per_row(ap);
    const int j_raw = threadIdx.x / t1, t = threadIdx.x % t1;
    const bool active = j_raw < ap;
    const int j = active ? j_raw : 0;
    const WT* w1 = s.out1_w + static_cast<size_t>(j) * S;
    float acc[LB];
#pragma unroll
    for (int b = 0; b < LB; ++b) acc[b] = 0.0f;
    for (int i = t; i < S; i += t1) {
        const float v = to_float(w1[i]);
#pragma unroll
        for (int b = 0; b < LB; ++b) acc[b] += v * s.skip[b * S + i];
    }
#pragma unroll
    for (int b = 0; b < LB; ++b) acc[b] = group_sum(acc[b], t1);
    if (active && t == 0)
#pragma unroll
        for (int b = 0; b < LB; ++b) s.h1[b * ap + j] = fmaxf(s.out1_b[j] + acc[b], 0.0f);
    __syncthreads();
    for (int o = threadIdx.x; o < A; o += kClusterThreads) {
        float part[LB];
#pragma unroll
        for (int b = 0; b < LB; ++b) part[b] = 0.0f;
        for (int k = 0; k < ap; ++k) {
            const float v = to_float(s.out2_w[static_cast<size_t>(k) * A + o]);
#pragma unroll
            for (int b = 0; b < LB; ++b) part[b] += v * s.h1[b * ap + k];
        }
#pragma unroll
        for (int b = 0; b < LB; ++b) s.logit_pub[b * A + o] = part[b];
    }
}

// One warp per lane: the distribution (teacher-forced) or a draw from softmax(logits / T) with
// Philox keyed by the lane at t: the first class whose cumulative weight passes u * total, as the CPU's.
template <class WT>
__device__ inline void draw(const ClusterArgs& p, const Smem<WT>& s, int rank, int b0, int nb, int b, int t, unsigned long long pos) {
    const int A = p.d.A, per = A / 32, lane_in_warp = threadIdx.x & 31, first = lane_in_warp * per;
    const float* lg = s.logits + b * A;
    float v[8];
    float m = -INFINITY;
    int best = 0;
#pragma unroll
    for (int q = 0; q < 8; ++q)
        if (q < per) {
            v[q] = lg[first + q];
            if (v[q] > m) m = v[q], best = first + q;
        }
    for (int off = 16; off > 0; off >>= 1) {  // the first of the largest, as the CPU's strict >
        const float om = __shfl_xor_sync(kFull, m, off);
        const int ob = __shfl_xor_sync(kFull, best, off);
        if (om > m || (om == m && ob < best)) m = om, best = ob;
    }
    const int lane = b0 + b;
    const size_t T = static_cast<size_t>(p.a.frames) * p.d.hop;
    if (p.a.probs) {
        float own = 0.0f;
#pragma unroll
        for (int q = 0; q < 8; ++q)
            if (q < per) own += v[q] = exp_approx(v[q] - m);
        const float sum = group_sum(own, 32);
        if (rank == 0 && b < nb)
#pragma unroll
            for (int q = 0; q < 8; ++q)
                if (q < per) p.a.probs[(static_cast<size_t>(lane) * T + t) * A + first + q] = v[q] / sum;
        return;
    }
    const float temp = b < nb ? p.a.temperature[(t / p.d.hop) * p.a.lanes + lane] : 1.0f, lowest = b < nb ? p.a.lowest[lane] : -INFINITY;
    int drawn = best;
    if (temp > 0.0f) {
        const float inv_t = 1.0f / temp;
        float own = 0.0f;
#pragma unroll
        for (int q = 0; q < 8; ++q)
            if (q < per) {
                const float rel = v[q] - m;
                own += v[q] = rel < lowest ? 0.0f : exp_approx(rel * inv_t);
            }
        float inclusive = own;
        for (int off = 1; off < 32; off <<= 1) {
            const float up = __shfl_up_sync(kFull, inclusive, off);
            if (lane_in_warp >= off) inclusive += up;
        }
        const float total = __shfl_sync(kFull, inclusive, 31);
        // A padding lane (b >= nb) has no key: it is read only for a real lane, past the end otherwise.
        const float u = (b < nb ? philox_uniform(p.a.keys[lane], pos) : 0.0f) * total;
        float acc = inclusive - own;
        int found = -1;
#pragma unroll
        for (int q = 0; q < 8; ++q)
            if (q < per) {
                acc += v[q];
                if (found < 0 && u < acc) found = first + q;
            }
        const unsigned hit = __ballot_sync(kFull, found >= 0);
        if (hit) drawn = __shfl_sync(kFull, found, __ffs(hit) - 1);
    }
    if (lane_in_warp == 0) {
        s.cls[b] = drawn;
        if (rank == 0 && b < nb) p.a.out[static_cast<size_t>(lane) * T + t] = s.decode[drawn];
    }
}

}  // namespace wavecast::cluster_device
