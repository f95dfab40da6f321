// The cluster generator: the CPU reference's network (cpu/generator_cpu.cpp, the definition) run
// by a thread-block cluster per group of lanes, with the weights in shared memory for the whole
// launch (cluster_layout.h says who holds what). Per sample and layer, each CTA computes the gates
// of its own residual channels from the whole x (every CTA keeps a copy), then the partial skip sum
// (kept in registers until the head) and the partial residual sum its channels contribute; one
// cluster barrier later every CTA adds all CTAs' partial residual sums, read over distributed
// shared memory, into its x. The head is split the same way (out1 by own rows, out2 by own
// columns, the logits reduced in every CTA), and every CTA draws the same class from the same
// logits, so nothing else is exchanged. x[t - d] is loaded from the dilation queues (rank 0 writes
// them) a layer ahead, off the critical path.
//
// Sums run in another order than the CPU's (split over threads and CTAs), so the outputs match it
// to rounding: the tests bound log p, not bits.
#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cluster_pack.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/generator_cluster.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/excitation.h"
#include "kernels/philox.h"

namespace wavecast {
namespace {

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
        const float u = philox_uniform(p.a.keys[lane], pos) * total;
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

template <int LB, class WT>
__global__ void __launch_bounds__(kClusterThreads, 1)
    cluster_generator(const __grid_constant__ ClusterArgs p, const WT* __restrict__ embed) {
    extern __shared__ __align__(16) unsigned char sm[];
    cg::cluster_group cluster = cg::this_cluster();
    const NetDims& d = p.d;
    const ClusterLayout& l = p.l;
    const RunArgs& a = p.a;
    const int C = l.cluster, rank = static_cast<int>(cluster.block_rank()), tid = threadIdx.x;
    const int b0 = static_cast<int>(blockIdx.x) / C * LB, nb = min(LB, a.lanes - b0);
    const int R = d.R, S = d.S, A = d.A, L = d.L, X = d.X, rp = l.r_per;
    const int T = a.frames * d.hop, Cc = 2 * R * L;

    // The weights, once a launch.
    {
        const uint4* src = reinterpret_cast<const uint4*>(p.blocks + static_cast<size_t>(rank) * l.weights_bytes);
        uint4* dst = reinterpret_cast<uint4*>(sm);
        for (size_t i = tid; i < l.weights_bytes / 16; i += kClusterThreads) dst[i] = src[i];
    }
    const Smem<WT> s(sm, l);
    if (tid == 0)
        for (int layer = 0, q = 0; layer < L; ++layer) s.qoff[layer] = q, q += (1 << (layer % d.cycle)) * R;
    if (tid < LB) s.cls[tid] = tid < nb ? a.prev[b0 + tid] : 0;
    if (X > 0)
        for (int j = tid; j < LB * kPitches; j += kClusterThreads)
            s.started[j] = j / kPitches < nb ? a.started[static_cast<size_t>(b0) * kPitches + j] : kSilent;
    __syncthreads();
    for (int j = tid; j < LB * R; j += kClusterThreads) s.x_past[j] = past(p, s.qoff, b0, nb, 0, a.pos0, j / R, j % R);
    float skip_acc[LB];
#pragma unroll
    for (int b = 0; b < LB; ++b) skip_acc[b] = 0.0f;
    // Every CTA's shared memory is in place before any other reads it.
    cluster.sync();

    for (int f = 0; f < a.frames; ++f) {
        // The frame's sounding notes, and the own rows' conditioning moving from C[f-1] to C[f].
        const unsigned long long frame_start = a.pos0 + static_cast<unsigned long long>(f) * d.hop;
        if (X > 0 && tid < LB)
            s.note_count[tid] = tid < nb ? frame_notes(a.inputs + (static_cast<size_t>(f + 2) * a.lanes + b0 + tid) * a.in, frame_start,
                                                       s.started + tid * kPitches, s.note_pitch + tid * kPitches,
                                                       s.note_vel + tid * kPitches, s.note_start + tid * kPitches)
                                         : 0;
        for (int j = tid; j < LB * L * rp * 2; j += kClusterThreads) {
            const int b = j / (L * rp * 2), rest = j % (L * rp * 2), layer = rest / (rp * 2), k = rest % (rp * 2) / 2, gate = rest % 2;
            const size_t c = static_cast<size_t>(layer) * 2 * R + conv_row(d, l, rank, k, gate);
            const float last = b < nb ? a.cbuf[(static_cast<size_t>(f) * a.lanes + b0 + b) * Cc + c] : 0.0f;
            const float now = b < nb ? a.cbuf[(static_cast<size_t>(f + 1) * a.lanes + b0 + b) * Cc + c] : 0.0f;
            s.cond_base[j] = last + s.conv_b[rest];
            s.cond_step[j] = now - last;
        }
        __syncthreads();

        for (int i = 0; i < d.hop; ++i) {
            const int t = f * d.hop + i;
            const unsigned long long pos = a.pos0 + static_cast<unsigned long long>(t);
            const float frac = static_cast<float>(i + 1) / static_cast<float>(d.hop);
            if (a.forced && tid < nb) s.cls[tid] = a.forced[static_cast<size_t>(b0 + tid) * T + t];
            for (int j = tid; j < LB * X; j += kClusterThreads) {
                const int b = j / X;
                s.exc[j] = b < nb ? excitation_channel(pos, a.exc_inc, j % X, s.note_pitch + b * kPitches, s.note_vel + b * kPitches,
                                                       s.note_start + b * kPitches, s.note_count[b])
                                  : 0.0f;
            }
            __syncthreads();
            for (int j = tid; j < LB * R; j += kClusterThreads) {
                const int b = j / R, r = j % R;
                float e = 0.0f;  // in order of the channel, as the CPU's product
                for (int k = 0; k < X; ++k) e += s.exc_in[r * X + k] * s.exc[b * X + k];
                s.x[j] = to_float(embed[static_cast<size_t>(s.cls[b]) * R + r]) + e;
            }
            __syncthreads();

            for (int layer = 0; layer < L; ++layer) {
                const int buf = layer & 1;
                const bool more = layer + 1 < L;
                // The next layer's x[t - d], loaded now and stored once this layer is done with
                // the other buffer.
                float ahead[LB];
#pragma unroll
                for (int q = 0; q < LB; ++q) {
                    const int j = tid + q * kClusterThreads;
                    ahead[q] = more && j < LB * R ? past(p, s.qoff, b0, nb, layer + 1, pos, j / R, j % R) : 0.0f;
                }
                gates<LB>(p, s, layer, frac, s.x_past + buf * LB * R);
                __syncthreads();
                float* res_pub = s.res_pub + buf * LB * R;  // two, so a fast CTA never overwrites what a slow one reads
                partials<LB>(p, s, layer, skip_acc, res_pub);
#pragma unroll
                for (int q = 0; q < LB; ++q) {
                    const int j = tid + q * kClusterThreads;
                    if (more && j < LB * R) s.x_past[(buf ^ 1) * LB * R + j] = ahead[q];
                }
                if (!more) break;
                cluster.sync();
                // x_{l+1} = x_l + (res_b + the CTAs' partial sums, in CTA order).
                for (int j = tid; j < LB * R; j += kClusterThreads) {
                    const int b = j / R, r = j % R;
                    const float old = s.x[j];
                    if (rank == 0 && b < nb) keep_past(p, s.qoff, b0, layer, pos, b, r, old);
                    float sum = 0.0f;
                    for (int c = 0; c < C; ++c) sum += cluster.map_shared_rank(res_pub, c)[j];
                    s.x[j] = old + (s.res_b[layer * R + r] + sum);
                }
                __syncthreads();
            }

            // The head: the skip sum reduced in every CTA.
            if (tid < S)
#pragma unroll
                for (int b = 0; b < LB; ++b) s.skip_pub[b * S + tid] = skip_acc[b], skip_acc[b] = 0.0f;
            cluster.sync();
            for (int j = tid; j < LB * R; j += kClusterThreads)
                if (rank == 0 && j / R < nb) keep_past(p, s.qoff, b0, L - 1, pos, j / R, j % R, s.x[j]);
            for (int j = tid; j < LB * S; j += kClusterThreads) {
                float sum = 0.0f;
                for (int c = 0; c < C; ++c) sum += cluster.map_shared_rank(s.skip_pub, c)[j];
                s.skip[j] = fmaxf(s.skip_bias[j % S] + sum, 0.0f);
            }
            // The next sample's layer-0 past: every CTA is past this sample's layer-0 barrier, after
            // which rank 0 kept x_0(t).
            float ahead[LB];
#pragma unroll
            for (int q = 0; q < LB; ++q) {
                const int j = tid + q * kClusterThreads;
                ahead[q] = j < LB * R ? past(p, s.qoff, b0, nb, 0, pos + 1, j / R, j % R) : 0.0f;
            }
            __syncthreads();
            head<LB>(p, s);
#pragma unroll
            for (int q = 0; q < LB; ++q) {
                const int j = tid + q * kClusterThreads;
                if (j < LB * R) s.x_past[j] = ahead[q];
            }
            cluster.sync();
            for (int j = tid; j < LB * A; j += kClusterThreads) {
                float sum = 0.0f;
                for (int c = 0; c < C; ++c) sum += cluster.map_shared_rank(s.logit_pub, c)[j];
                s.logits[j] = s.out2_b[j % A] + sum;
            }
            __syncthreads();
            if (tid / 32 < LB) draw(p, s, rank, b0, nb, tid / 32, t, pos);
            __syncthreads();
        }
    }
    if (rank == 0) {
        if (tid < nb) a.prev[b0 + tid] = s.cls[tid];
        if (X > 0)
            for (int j = tid; j < nb * kPitches; j += kClusterThreads) a.started[static_cast<size_t>(b0) * kPitches + j] = s.started[j];
    }
    // No CTA leaves while another may still read its shared memory.
    cluster.sync();
}

template <int LB, class WT>
const void* kernel_for() {
    return reinterpret_cast<const void*>(&cluster_generator<LB, WT>);
}

const void* kernel_for(int lanes, Precision p) {
    switch (p) {
        case Precision::fp16:
            return lanes == 1   ? kernel_for<1, __half>()
                   : lanes == 2 ? kernel_for<2, __half>()
                   : lanes == 4 ? kernel_for<4, __half>()
                                : kernel_for<8, __half>();
        case Precision::bf16:
            return lanes == 1   ? kernel_for<1, __nv_bfloat16>()
                   : lanes == 2 ? kernel_for<2, __nv_bfloat16>()
                   : lanes == 4 ? kernel_for<4, __nv_bfloat16>()
                                : kernel_for<8, __nv_bfloat16>();
        default:
            return lanes == 1   ? kernel_for<1, float>()
                   : lanes == 2 ? kernel_for<2, float>()
                   : lanes == 4 ? kernel_for<4, float>()
                                : kernel_for<8, float>();
    }
}

// How many clusters of this layout the device runs at once (0: none).
int resident_clusters(const ClusterLayout& l, Precision p) {
    const void* k = kernel_for(l.lanes, p);
    // The most any layout takes, not this one's: the attribute belongs to the kernel, which other
    // generators (other shapes) launch too.
    CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kClusterSmemLimit)));
    if (l.cluster > 8) CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(l.cluster));
    cfg.blockDim = dim3(kClusterThreads);
    cfg.dynamicSmemBytes = l.bytes;
    cudaLaunchAttribute attr{};
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = static_cast<unsigned>(l.cluster), attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    int n = 0;
    if (cudaOccupancyMaxActiveClusters(&n, k, &cfg) != cudaSuccess) {
        cudaGetLastError();  // not sticky: a size the device cannot take is an ordinary answer
        return 0;
    }
    return n;
}

int storage_bytes(Precision p) { return p == Precision::fp32 ? 4 : 2; }

}  // namespace

ClusterKernel::ClusterKernel(const Model& model, Precision precision, int lanes, bool allow_waves)
    : dims_(net_dims(model.spec)), precision_(precision) {
    int dev = 0, cc_major = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, dev));
    if (cc_major < 9) throw std::runtime_error("cluster generator: needs thread-block clusters (compute capability 9.0)");
    if (!cluster_dims_supported(dims_))
        throw std::runtime_error("cluster generator: shape " + model.spec.shape_name() + " is not supported");
    // The fewest lanes per cluster whose clusters all run at once; else the most lanes per cluster
    // that fit (the clusters then run in waves). Few lanes take clusters of 8 or more CTAs even
    // where fewer would hold the weights: the chain of each sample is what then limits, and more
    // CTAs make each link shorter.
    const int min_cluster = lanes <= 16 && fitting_cluster_layout(dims_, storage_bytes(precision), 1, 8).bytes > 0 ? 8 : 2;
    for (int lb = 1; lb <= kMaxClusterLanes; lb *= 2) {
        const ClusterLayout l = fitting_cluster_layout(dims_, storage_bytes(precision), lb, min_cluster);
        if (l.bytes == 0) break;
        const int resident = resident_clusters(l, precision);
        if (resident == 0) break;
        layout_ = l, resident_clusters_ = resident;
        if ((lanes + lb - 1) / lb <= resident) break;
    }
    if (layout_.bytes == 0)
        throw std::runtime_error("cluster generator: no cluster of up to 16 CTAs holds " + model.spec.shape_name() + " in " +
                                 precision_name(precision) + " within a CTA's shared memory");
    if (!allow_waves && (lanes + layout_.lanes - 1) / layout_.lanes > resident_clusters_)
        throw std::runtime_error("cluster generator: " + std::to_string(lanes) +
                                 " lanes need more clusters than the device runs at once (" + std::to_string(resident_clusters_) + " of " +
                                 std::to_string(layout_.lanes) + " lanes)");
    blocks_.upload(pack_cluster_weights(model, layout_, precision));
}

void ClusterKernel::launch(const RunArgs& a, const void* embed, cudaStream_t stream) const {
    const ClusterArgs args{dims_, layout_, a, blocks_.p};
    const int clusters = (a.lanes + layout_.lanes - 1) / layout_.lanes;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(clusters * layout_.cluster));
    cfg.blockDim = dim3(kClusterThreads);
    cfg.dynamicSmemBytes = layout_.bytes;
    cfg.stream = stream;
    cudaLaunchAttribute attr{};
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = static_cast<unsigned>(layout_.cluster), attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    void* params[] = {const_cast<ClusterArgs*>(&args), const_cast<void**>(&embed)};
    CUDA_CHECK(cudaLaunchKernelExC(&cfg, kernel_for(layout_.lanes, precision_), params));
}

std::string ClusterKernel::describe() const {
    return "cluster of " + std::to_string(layout_.cluster) + " CTAs x " + std::to_string(layout_.lanes) +
           (layout_.lanes == 1 ? " lane" : " lanes") + ", " + std::to_string(resident_clusters_) + " clusters at once (" +
           std::to_string(layout_.bytes / 1024) + " KiB of shared memory a CTA)";
}

}  // namespace wavecast
