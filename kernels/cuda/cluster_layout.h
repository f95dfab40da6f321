// Where the cluster generator (generator_cluster.cu) keeps everything: one function, used by the
// host (to pack each CTA's weights and size its shared memory) and by the kernel (to find them),
// and checked on the CPU for every supported shape (tests/unit/cluster_layout_test.cpp).
//
// A cluster of `cluster` CTAs (one per SM) advances `lanes` lanes. CTA c owns residual channels
// [c r_per, (c+1) r_per) and output classes [c a_per, (c+1) a_per): of every layer it holds the
// dilated conv's rows for its channels (the tanh row and the gate's row of each), and the columns
// of the residual and skip 1x1s that read its channels; of the head, out1's rows for its classes
// and out2's columns that read them. Each weight is read from shared memory, never from L2, for
// the life of a launch. What the CTAs exchange per layer is one partial residual sum each, read
// over distributed shared memory after one cluster barrier.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/frame_features.h"
#include "kernels/host_device.h"
#include "kernels/smem_layout.h"

namespace wavecast {

// The sizes of a network as the kernel needs them.
struct NetDims {
    int R, S, A, L, X, cycle, hop;
};

inline constexpr int kClusterThreads = 256;
inline constexpr int kMaxClusterLanes = 8;               // lanes per cluster (the kernel's LB)
inline constexpr size_t kClusterSmemLimit = 227 * 1024;  // a Hopper CTA's dynamic shared memory

struct ClusterLayout {
    int cluster = 0, lanes = 0;  // CTAs per cluster, lanes per cluster
    int r_per = 0, a_per = 0;    // residual channels and output classes per CTA
    int weight_bytes = 0;        // bytes per stored weight: 4 (fp32) or 2 (fp16, bf16)
    // The weights block, first in shared memory and packed in this order by the host, so that a
    // CTA loads it with one copy. Matrices in the storage type:
    size_t conv_w;  // [L][r_per][2 rows: tanh, gate][2R inputs: x[t-d] | x[t]]
    size_t res_w;   // [L][r_per own inputs][R outputs]  (input-major: a thread an output,
    size_t skip_w;  // [L][r_per own inputs][S outputs]   neighbours reading neighbours)
    size_t out1_w;  // [a_per own rows][S]
    size_t out2_w;  // [a_per own inputs][A outputs]
    // and in fp32:
    size_t conv_b;         // [L][r_per][2]
    size_t exc_w;          // [L][r_per][2][X]: the excitation into the own rows of every gate
    size_t res_b;          // [L][R]
    size_t exc_in;         // [R][X]
    size_t skip_bias;      // [S]: every layer's skip bias summed, as the CPU adds it once
    size_t out1_b;         // [a_per]
    size_t out2_b;         // [A]
    size_t decode;         // [A]: class -> sample
    size_t weights_bytes;  // the block's size: what the host packs per CTA
    // State, per lane (b < lanes), fp32 unless said:
    size_t x;           // [lanes][R]: the residual stream x_l(t), every CTA a copy
    size_t x_past;      // [2][lanes][R]: x_l(t - d_l), prefetched a layer ahead
    size_t act;         // [lanes][r_per]: the own channels' gated activations
    size_t res_pub;     // [2][lanes][R]: this CTA's partial residual sums, read by the others
    size_t skip_pub;    // [lanes][S]: the partial skip sums, likewise
    size_t skip;        // [lanes][S]: the skip sum, reduced
    size_t h1;          // [lanes][a_per]
    size_t logit_pub;   // [lanes][A]: the partial logits
    size_t logits;      // [lanes][A]: reduced
    size_t cond_base;   // [lanes][L][r_per][2]: the conditioning at the frame's start, plus conv_b
    size_t cond_step;   // [lanes][L][r_per][2]: its change over the frame
    size_t exc;         // [lanes][X]: e at this sample
    size_t started;     // u64 [lanes][kPitches]: each pitch's note start (excitation.h)
    size_t note_start;  // u64 [lanes][kPitches]: this frame's sounding notes: starts,
    size_t note_vel;    // [lanes][kPitches]: velocities,
    size_t note_pitch;  // int [lanes][kPitches]: pitches,
    size_t note_count;  // int [lanes]: how many,
    size_t cls;         // int [lanes]: the class drawn (or fed) for the sample before
    size_t qoff;        // int [L]: where each layer's dilation queue starts in a lane's queues
    size_t bytes;       // all of it
};

WC_HOST_DEVICE inline int ilog2_exact(int v) {
    int n = 0;
    while ((1 << n) < v) ++n;
    return (1 << n) == v ? n : -1;
}

// The layout for `cluster` CTAs and `lanes` lanes, or one with bytes == 0 where the split does not
// divide the network (R and A must be multiples of `cluster`).
WC_HOST_DEVICE inline ClusterLayout cluster_layout(const NetDims& d, int weight_bytes, int cluster, int lanes) {
    ClusterLayout l;
    l.cluster = cluster, l.lanes = lanes, l.weight_bytes = weight_bytes;
    l.bytes = 0;
    if (cluster < 1 || lanes < 1 || d.R % cluster || d.A % cluster) return l;
    l.r_per = d.R / cluster, l.a_per = d.A / cluster;
    const size_t R = d.R, S = d.S, A = d.A, L = d.L, X = d.X, rp = l.r_per, ap = l.a_per, B = lanes;
    const size_t wb = static_cast<size_t>(weight_bytes);
    SmemCarver c;
    // 16-byte alignment for every weight matrix: the kernel copies and reads them in vectors.
    l.conv_w = c.take(L * rp * 2 * 2 * R * wb, 16);
    l.res_w = c.take(L * R * rp * wb, 16);
    l.skip_w = c.take(L * S * rp * wb, 16);
    l.out1_w = c.take(ap * S * wb, 16);
    l.out2_w = c.take(A * ap * wb, 16);
    l.conv_b = c.take(L * rp * 2 * 4, 16);
    l.exc_w = c.take(L * rp * 2 * X * 4, 16);
    l.res_b = c.take(L * R * 4, 16);
    l.exc_in = c.take(R * X * 4, 16);
    l.skip_bias = c.take(S * 4, 16);
    l.out1_b = c.take(ap * 4, 16);
    l.out2_b = c.take(A * 4, 16);
    l.decode = c.take(A * 4, 16);
    c.take(0, 16);
    l.weights_bytes = c.end;
    l.x = c.take(B * R * 4, 16);
    l.x_past = c.take(2 * B * R * 4, 16);
    l.act = c.take(B * rp * 4, 16);
    l.res_pub = c.take(2 * B * R * 4, 16);
    l.skip_pub = c.take(B * S * 4, 16);
    l.skip = c.take(B * S * 4, 16);
    l.h1 = c.take(B * ap * 4, 16);
    l.logit_pub = c.take(B * A * 4, 16);
    l.logits = c.take(B * A * 4, 16);
    l.cond_base = c.take(B * L * rp * 2 * 4, 16);
    l.cond_step = c.take(B * L * rp * 2 * 4, 16);
    l.exc = c.take(B * (X ? X : 1) * 4, 16);
    const bool notes = X > 0;
    l.started = c.take(notes ? B * kPitches * 8 : 0, 16);
    l.note_start = c.take(notes ? B * kPitches * 8 : 0, 16);
    l.note_vel = c.take(notes ? B * kPitches * 4 : 0, 16);
    l.note_pitch = c.take(notes ? B * kPitches * 4 : 0, 16);
    l.note_count = c.take(B * 4, 16);
    l.cls = c.take(B * 4, 16);
    l.qoff = c.take(L * 4, 16);
    l.bytes = c.end;
    return l;
}

// Whether the kernel can run a network at all: what its fixed per-thread arrays assume.
WC_HOST_DEVICE inline bool cluster_dims_supported(const NetDims& d) {
    return d.R >= 2 && d.R <= 256 && d.S >= 1 && d.S <= kClusterThreads && d.A >= 32 && d.A <= 256 && d.A % 32 == 0 && d.X >= 0 &&
           d.X <= 16 && d.L >= 1 && d.hop >= 1;
}

// The smallest cluster of at least `min_cluster` CTAs (2, 4, 8 or 16) whose layout for `lanes`
// lanes fits a CTA's shared memory; bytes == 0 where none does.
inline ClusterLayout fitting_cluster_layout(const NetDims& d, int weight_bytes, int lanes, int min_cluster = 2) {
    if (!cluster_dims_supported(d)) return ClusterLayout{};
    for (int cluster = min_cluster; cluster <= 16; cluster *= 2) {
        const ClusterLayout l = cluster_layout(d, weight_bytes, cluster, lanes);
        // Every CTA must have a whole number of rows, and each of its channels at least one thread group.
        if (l.bytes > 0 && l.bytes <= kClusterSmemLimit && l.r_per <= kClusterThreads && l.a_per <= kClusterThreads) return l;
    }
    return ClusterLayout{};
}

// Packing indices: where the weights of the model's layout (model.h) go in CTA `cta`'s block, in
// elements of the block's arrays. The host packs with these, the kernel reads with the offsets
// above; the unit test checks that every weight of the model lands exactly once.
WC_HOST_DEVICE inline size_t conv_w_index(const NetDims& d, const ClusterLayout& l, int layer, int k, int gate, int input) {
    return ((static_cast<size_t>(layer) * l.r_per + k) * 2 + gate) * (2 * d.R) + input;
}
// The model row of CTA `cta`'s own channel k, tanh (gate 0) or sigmoid (gate 1).
WC_HOST_DEVICE inline int conv_row(const NetDims& d, const ClusterLayout& l, int cta, int k, int gate) {
    return gate * d.R + cta * l.r_per + k;
}

}  // namespace wavecast
