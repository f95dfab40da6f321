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
//
// The stages are cluster_stages.cuh; the kernel here walks them.
#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cluster_pack.h"
#include "kernels/cuda/cluster_stages.cuh"
#include "kernels/cuda/common.h"
#include "kernels/cuda/generator_cluster.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/excitation.h"
#include "kernels/philox.h"

namespace wavecast {
namespace {

using namespace cluster_device;

// One CTA's place in the launch: its cluster, its rank there, its thread, and the lanes its
// cluster serves, [b0, b0 + nb) of the call's.
struct Cta {
    cg::cluster_group& cluster;
    int C, rank, tid, b0, nb;
};

// Once a launch: the CTA's weights into shared memory, the queues' offsets, each lane's last
// class and sounding notes, and x(t - d) of layer 0 for the first sample.
template <int LB, class WT>
__device__ __forceinline__ void load_cta(const ClusterArgs& p, const Smem<WT>& s, unsigned char* sm, const Cta& c) {
    const NetDims& d = p.d;
    const RunArgs& a = p.a;
    const uint4* src = reinterpret_cast<const uint4*>(p.blocks + static_cast<size_t>(c.rank) * p.l.weights_bytes);
    uint4* dst = reinterpret_cast<uint4*>(sm);
    for (size_t i = c.tid; i < p.l.weights_bytes / 16; i += kClusterThreads) dst[i] = src[i];
    if (c.tid == 0)
        for (int layer = 0, q = 0; layer < d.L; ++layer) s.qoff[layer] = q, q += (1 << (layer % d.cycle)) * d.R;
    if (c.tid < LB) s.cls[c.tid] = c.tid < c.nb ? a.prev[c.b0 + c.tid] : 0;
    if (d.X > 0)
        for (int j = c.tid; j < LB * kPitches; j += kClusterThreads)
            s.started[j] = j / kPitches < c.nb ? a.started[static_cast<size_t>(c.b0) * kPitches + j] : kSilent;
    __syncthreads();
    for (int j = c.tid; j < LB * d.R; j += kClusterThreads) s.x_past[j] = past(p, s.qoff, c.b0, c.nb, 0, a.pos0, j / d.R, j % d.R);
}

// Once a frame: its sounding notes, and the own rows' conditioning moving from C[f-1] to C[f].
template <int LB, class WT>
__device__ __forceinline__ void frame_conditioning(const ClusterArgs& p, const Smem<WT>& s, const Cta& c, int f) {
    const NetDims& d = p.d;
    const RunArgs& a = p.a;
    const int rp = p.l.r_per, Cc = 2 * d.R * d.L;
    const unsigned long long frame_start = a.pos0 + static_cast<unsigned long long>(f) * d.hop;
    if (d.X > 0 && c.tid < LB)
        s.note_count[c.tid] = c.tid < c.nb ? frame_notes(a.inputs + (static_cast<size_t>(f + 2) * a.lanes + c.b0 + c.tid) * a.in,
                                                         frame_start, s.started + c.tid * kPitches, s.note_pitch + c.tid * kPitches,
                                                         s.note_vel + c.tid * kPitches, s.note_start + c.tid * kPitches)
                                           : 0;
    for (int j = c.tid; j < LB * d.L * rp * 2; j += kClusterThreads) {
        const int b = j / (d.L * rp * 2), rest = j % (d.L * rp * 2), layer = rest / (rp * 2), k = rest % (rp * 2) / 2, gate = rest % 2;
        const size_t ch = static_cast<size_t>(layer) * 2 * d.R + conv_row(d, p.l, c.rank, k, gate);
        const float last = b < c.nb ? a.cbuf[(static_cast<size_t>(f) * a.lanes + c.b0 + b) * Cc + ch] : 0.0f;
        const float now = b < c.nb ? a.cbuf[(static_cast<size_t>(f + 1) * a.lanes + c.b0 + b) * Cc + ch] : 0.0f;
        s.cond_base[j] = last + s.conv_b[rest];
        s.cond_step[j] = now - last;
    }
    __syncthreads();
}

// The sample's input: the teacher's class where forced, the excitation, and x = embed[class] +
// the excitation's input projection.
template <int LB, class WT>
__device__ __forceinline__ void sample_input(const ClusterArgs& p, const Smem<WT>& s, const WT* __restrict__ embed, const Cta& c, int t,
                                             unsigned long long pos) {
    const NetDims& d = p.d;
    const RunArgs& a = p.a;
    const int R = d.R, X = d.X, T = a.frames * d.hop;
    if (a.forced && c.tid < c.nb) s.cls[c.tid] = a.forced[static_cast<size_t>(c.b0 + c.tid) * T + t];
    for (int j = c.tid; j < LB * X; j += kClusterThreads) {
        const int b = j / X;
        s.exc[j] = b < c.nb ? excitation_channel(pos, a.exc_inc, j % X, s.note_pitch + b * kPitches, s.note_vel + b * kPitches,
                                                 s.note_start + b * kPitches, s.note_count[b])
                            : 0.0f;
    }
    __syncthreads();
    for (int j = c.tid; j < LB * R; j += kClusterThreads) {
        const int b = j / R, r = j % R;
        float e = 0.0f;  // in order of the channel, as the CPU's product
        for (int k = 0; k < X; ++k) e += s.exc_in[r * X + k] * s.exc[b * X + k];
        s.x[j] = to_float(embed[static_cast<size_t>(s.cls[b]) * R + r]) + e;
    }
    __syncthreads();
}

// Every layer: the own gates, the partial sums, and x_{l+1} = x_l + (res_b + the CTAs' partial
// sums, in CTA order), with the next layer's x[t - d] loaded a layer ahead.
template <int LB, class WT>
__device__ __forceinline__ void residual_layers(const ClusterArgs& p, const Smem<WT>& s, const Cta& c, unsigned long long pos, float frac,
                                                float (&skip_acc)[LB]) {
    const int R = p.d.R, L = p.d.L;
    for (int layer = 0; layer < L; ++layer) {
        const int buf = layer & 1;
        const bool more = layer + 1 < L;
        // The next layer's x[t - d], loaded now and stored once this layer is done with the other buffer.
        float ahead[LB];
#pragma unroll
        for (int q = 0; q < LB; ++q) {
            const int j = c.tid + q * kClusterThreads;
            ahead[q] = more && j < LB * R ? past(p, s.qoff, c.b0, c.nb, layer + 1, pos, j / R, j % R) : 0.0f;
        }
        gates<LB>(p, s, layer, frac, s.x_past + buf * LB * R);
        __syncthreads();
        float* res_pub = s.res_pub + buf * LB * R;  // two, so a fast CTA never overwrites what a slow one reads
        partials<LB>(p, s, layer, skip_acc, res_pub);
#pragma unroll
        for (int q = 0; q < LB; ++q) {
            const int j = c.tid + q * kClusterThreads;
            if (more && j < LB * R) s.x_past[(buf ^ 1) * LB * R + j] = ahead[q];
        }
        if (!more) break;
        c.cluster.sync();
        for (int j = c.tid; j < LB * R; j += kClusterThreads) {
            const int b = j / R, r = j % R;
            const float old = s.x[j];
            if (c.rank == 0 && b < c.nb) keep_past(p, s.qoff, c.b0, layer, pos, b, r, old);
            float sum = 0.0f;
            for (int k = 0; k < c.C; ++k) sum += c.cluster.map_shared_rank(res_pub, k)[j];
            s.x[j] = old + (s.res_b[layer * R + r] + sum);
        }
        __syncthreads();
    }
}

// The head: the skip sum reduced in every CTA, the next sample's layer-0 past loaded, out1 and
// out2's own parts, and the logits reduced in every CTA.
template <int LB, class WT>
__device__ __forceinline__ void head_and_logits(const ClusterArgs& p, const Smem<WT>& s, const Cta& c, unsigned long long pos,
                                                float (&skip_acc)[LB]) {
    const int R = p.d.R, S = p.d.S, A = p.d.A, L = p.d.L;
    if (c.tid < S)
#pragma unroll
        for (int b = 0; b < LB; ++b) s.skip_pub[b * S + c.tid] = skip_acc[b], skip_acc[b] = 0.0f;
    c.cluster.sync();
    for (int j = c.tid; j < LB * R; j += kClusterThreads)
        if (c.rank == 0 && j / R < c.nb) keep_past(p, s.qoff, c.b0, L - 1, pos, j / R, j % R, s.x[j]);
    for (int j = c.tid; j < LB * S; j += kClusterThreads) {
        float sum = 0.0f;
        for (int k = 0; k < c.C; ++k) sum += c.cluster.map_shared_rank(s.skip_pub, k)[j];
        s.skip[j] = fmaxf(s.skip_bias[j % S] + sum, 0.0f);
    }
    // The next sample's layer-0 past: every CTA is past this sample's layer-0 barrier, after
    // which rank 0 kept x_0(t).
    float ahead[LB];
#pragma unroll
    for (int q = 0; q < LB; ++q) {
        const int j = c.tid + q * kClusterThreads;
        ahead[q] = j < LB * R ? past(p, s.qoff, c.b0, c.nb, 0, pos + 1, j / R, j % R) : 0.0f;
    }
    __syncthreads();
    head<LB>(p, s);
#pragma unroll
    for (int q = 0; q < LB; ++q) {
        const int j = c.tid + q * kClusterThreads;
        if (j < LB * R) s.x_past[j] = ahead[q];
    }
    c.cluster.sync();
    for (int j = c.tid; j < LB * A; j += kClusterThreads) {
        float sum = 0.0f;
        for (int k = 0; k < c.C; ++k) sum += c.cluster.map_shared_rank(s.logit_pub, k)[j];
        s.logits[j] = s.out2_b[j % A] + sum;
    }
    __syncthreads();
}

template <int LB, class WT>
__global__ void __launch_bounds__(kClusterThreads, 1)
    cluster_generator(const __grid_constant__ ClusterArgs p, const WT* __restrict__ embed) {
    extern __shared__ __align__(16) unsigned char sm[];
    cg::cluster_group cluster = cg::this_cluster();
    const RunArgs& a = p.a;
    const int C = p.l.cluster, b0 = static_cast<int>(blockIdx.x) / C * LB;
    const Cta c{cluster, C, static_cast<int>(cluster.block_rank()), static_cast<int>(threadIdx.x), b0, min(LB, a.lanes - b0)};
    const Smem<WT> s(sm, p.l);
    load_cta<LB>(p, s, sm, c);
    float skip_acc[LB];
#pragma unroll
    for (int b = 0; b < LB; ++b) skip_acc[b] = 0.0f;
    // Every CTA's shared memory is in place before any other reads it.
    cluster.sync();
    for (int f = 0; f < a.frames; ++f) {
        frame_conditioning<LB>(p, s, c, f);
        for (int i = 0; i < p.d.hop; ++i) {
            const int t = f * p.d.hop + i;
            const unsigned long long pos = a.pos0 + static_cast<unsigned long long>(t);
            sample_input<LB>(p, s, embed, c, t, pos);
            residual_layers<LB>(p, s, c, pos, static_cast<float>(i + 1) / static_cast<float>(p.d.hop), skip_acc);
            head_and_logits<LB>(p, s, c, pos, skip_acc);
            if (c.tid / 32 < LB) draw(p, s, c.rank, b0, c.nb, c.tid / 32, t, pos);
            __syncthreads();
        }
    }
    if (c.rank == 0) {
        if (c.tid < c.nb) a.prev[b0 + c.tid] = s.cls[c.tid];
        if (p.d.X > 0)
            for (int j = c.tid; j < c.nb * kPitches; j += kClusterThreads) a.started[static_cast<size_t>(b0) * kPitches + j] = s.started[j];
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
