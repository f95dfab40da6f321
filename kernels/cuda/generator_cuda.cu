// The generator on the GPU: the CPU reference's arithmetic (cpu/generator_cpu.cpp, the
// definition), one launch per call.
//
// The conditioning network runs on cuDNN for the whole call first (conditioning_cudnn.h), every
//   (frame, lane) at once; the inputs of the two frames before the call are carried in by the host.
// wavenet_kernel: persistent over the call, one block per LB lanes (generic_layout.h maps its
//   shared memory). Per sample, in stage functions: sample_input (the previous class's embedding
//   and the excitation), residual_layer for each layer, head, draw (Philox keyed by the lane at t, or the
//   distribution itself when teacher-forced). Weights are stored transposed ([in][out]) so that
//   the threads of a warp, one output each, read consecutive words, and one read serves all LB
//   lanes. Where a cluster of SMs can hold the whole model, generator_cluster.cu runs instead.
// Finished audio goes back on a second stream into pinned memory.
//
// Precision: the sample loop's weight matrices are stored in fp32, fp16 or bf16 (the same bits as
// with_precision() gives the CPU reference); activations, biases, accumulation and the
// conditioning network are fp32. Half storage halves the bytes every sample reads.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conditioning_cudnn.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/generator_cluster.h"
#include "kernels/cuda/generator_state.h"
#include "kernels/cuda/generic_layout.h"
#include "kernels/cuda/mma_layout.h"
#include "kernels/cuda/net_math.cuh"
#include "kernels/excitation.h"
#include "kernels/fastmath.h"
#include "kernels/half.h"
#include "kernels/mulaw.h"
#include "kernels/net_layout.h"
#include "kernels/philox.h"
#include "kernels/sampling.h"

namespace wavecast {
namespace {

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

// A weight matrix in the storage precision, rounded on the host by half.h's functions (those
// with_precision() uses), so that the CPU definition and the device hold the same bits.
void upload_matrix(DeviceBuffer<unsigned char>& buf, const std::vector<float>& v, Precision p) {
    std::vector<unsigned char> bytes;
    if (p == Precision::fp32) {
        bytes.resize(v.size() * sizeof(float));
        std::memcpy(bytes.data(), v.data(), bytes.size());
    } else {
        std::vector<uint16_t> h(v.size());
        for (size_t i = 0; i < v.size(); ++i) {
            h[i] = p == Precision::fp16 ? float_to_half(v[i]) : float_to_bf16(v[i]);
            if (p == Precision::fp16 && (h[i] & 0x7FFFu) == 0x7C00u)
                throw std::runtime_error("CUDA generator: a weight of " + std::to_string(v[i]) + " is beyond fp16's range");
        }
        bytes.resize(h.size() * sizeof(uint16_t));
        std::memcpy(bytes.data(), h.data(), bytes.size());
    }
    buf.upload(bytes);
}

void upload_bits(DeviceBuffer<unsigned char>& buf, const std::vector<uint16_t>& bits) {
    std::vector<unsigned char> bytes(bits.size() * sizeof(uint16_t));
    std::memcpy(bytes.data(), bits.data(), bytes.size());
    buf.upload(bytes);
}

template <class T>
void append(std::vector<T>& to, const std::vector<T>& more) {
    to.insert(to.end(), more.begin(), more.end());
}

// W [rows][cols] (PyTorch's layout) -> [cols][rows].
std::vector<float> transposed(const float* w, int rows, int cols) {
    std::vector<float> t(static_cast<size_t>(rows) * cols);
    for (int o = 0; o < rows; ++o)
        for (int i = 0; i < cols; ++i) t[static_cast<size_t>(i) * rows + o] = w[static_cast<size_t>(o) * cols + i];
    return t;
}

class GeneratorCuda final : public Generator {
public:
    GeneratorCuda(std::shared_ptr<const Model> model, const std::vector<LaneKey>& keys, Precision precision, CudaKernel kernel)
        : model_(std::move(model)),
          s_(model_->spec),
          lanes_(static_cast<int>(keys.size())),
          precision_(precision),
          cond_inputs_(*model_, lanes_) {
        const int lanes = lanes_;
        if (lanes < 1) throw std::invalid_argument("a generator needs at least one lane");
        const auto devices = cuda_devices();
        if (devices.empty()) throw std::runtime_error("CUDA generator: no CUDA device");
        const int R = s_.residual_channels, S = s_.skip_channels, A = s_.audio_classes, L = s_.layers;
        const int E = s_.instrument_dim, C = s_.cond_channels();
        in_ = s_.cond_features + E;
        // Lanes per block: one while there are SMs to spare, more (sharing each weight read) beyond.
        // Fewer lanes per block where a block's activations would not fit in shared memory.
        int dev = 0, max_smem = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        const int X = s_.excitation_channels();
        auto bytes = [&](int lb) { return generic_layout(lb, R, S, A, X).bytes; };
        lanes_per_block_ = 1;
        while (lanes_per_block_ < kGenericMaxLanes && lanes_per_block_ * devices[0].sm_count < lanes &&
               bytes(2 * lanes_per_block_) <= static_cast<size_t>(max_smem))
            lanes_per_block_ *= 2;
        smem_ = bytes(lanes_per_block_);
        if (kernel == CudaKernel::automatic || kernel == CudaKernel::cluster) {
            try {
                cluster_ = std::make_unique<ClusterKernel>(*model_, precision_, lanes, kernel == CudaKernel::cluster);
            } catch (const std::runtime_error& e) {
                if (kernel == CudaKernel::cluster) throw;
                generic_because_ = e.what();
            }
        }
        // The tensor kernel: where no cluster takes the lanes, for many lanes in half precision.
        // 16 lanes a block; 32 where blocks of 16 would be four or more an SM, and run in waves.
        const bool tensor_fits = precision_ != Precision::fp32 && bytes(16) <= static_cast<size_t>(max_smem);
        if (kernel == CudaKernel::tensor && !tensor_fits)
            throw std::runtime_error(precision_ == Precision::fp32
                                         ? std::string("CUDA generator: the tensor kernel stores the weights in fp16 or bf16, not fp32")
                                         : "CUDA generator: 16 lanes of " + s_.shape_name() + " do not fit a block's shared memory");
        if (kernel == CudaKernel::tensor || (kernel == CudaKernel::automatic && !cluster_ && tensor_fits && lanes >= 16)) {
            tensor_lanes_ = lanes >= 64 * devices[0].sm_count && bytes(32) <= static_cast<size_t>(max_smem) ? 32 : 16;
            smem_ = bytes(tensor_lanes_);
        }
        if (!cluster_ && smem_ > static_cast<size_t>(max_smem))
            throw std::runtime_error("CUDA generator: shape " + s_.shape_name() + " needs " + std::to_string(smem_) +
                                     " bytes of shared memory per lane; the device has " + std::to_string(max_smem));
        // What the lanes' state needs (dilation queues, conditioning, output), refused up front
        // rather than failing part-way.
        size_t dilations = 0;
        for (int l = 0; l < L; ++l) dilations += static_cast<size_t>(s_.dilation(l));
        const size_t state =
            static_cast<size_t>(lanes) * (dilations * R + static_cast<size_t>(C) * 17 + in_ * 18 + s_.frame_hop * 16) * sizeof(float);
        size_t free_bytes = 0, total_bytes = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
        if (state > free_bytes)
            throw std::runtime_error("CUDA generator: " + std::to_string(lanes) + " lanes of " + s_.shape_name() + " need about " +
                                     std::to_string(state >> 20) + " MiB of device memory (16-frame calls); " +
                                     std::to_string(free_bytes >> 20) + " MiB are free");

        const Weights& w = model_->weights;
        std::vector<float> conv_t, res_t, skip_t, conv_b, res_b;
        for (int l = 0; l < L; ++l) {
            const auto& lw = w.layers[static_cast<size_t>(l)];
            auto ct = transposed(conv_rows(lw, R).data(), 2 * R, 2 * R);
            conv_t.insert(conv_t.end(), ct.begin(), ct.end());
            auto rt = transposed(lw.res_w.data(), R, R);
            res_t.insert(res_t.end(), rt.begin(), rt.end());
            auto st = transposed(lw.skip_w.data(), S, R);
            skip_t.insert(skip_t.end(), st.begin(), st.end());
            conv_b.insert(conv_b.end(), lw.conv_b.begin(), lw.conv_b.end());
            res_b.insert(res_b.end(), lw.res_b.begin(), lw.res_b.end());
        }

        upload_matrix(embed_, w.embed, precision_);
        upload_matrix(conv_t_, conv_t, precision_);
        upload_matrix(res_t_, res_t, precision_);
        upload_matrix(skip_t_, skip_t, precision_);
        upload_matrix(out1_t_, transposed(w.out1_w.data(), A, S), precision_);
        upload_matrix(out2_t_, transposed(w.out2_w.data(), A, A), precision_);
        if (tensor_lanes_) {
            std::vector<uint16_t> conv_p, res_p, skip_p;
            for (int l = 0; l < L; ++l) {
                const auto& lw = w.layers[static_cast<size_t>(l)];
                append(conv_p, pack_mma(conv_rows(lw, R).data(), 2 * R, 2 * R, precision_ == Precision::bf16));
                append(res_p, pack_mma(lw.res_w.data(), R, R, precision_ == Precision::bf16));
                append(skip_p, pack_mma(lw.skip_w.data(), S, R, precision_ == Precision::bf16));
            }
            upload_bits(conv_p_, conv_p);
            upload_bits(res_p_, res_p);
            upload_bits(skip_p_, skip_p);
            upload_bits(out1_p_, pack_mma(w.out1_w.data(), A, S, precision_ == Precision::bf16));
            upload_bits(out2_p_, pack_mma(w.out2_w.data(), A, A, precision_ == Precision::bf16));
        }
        conv_b_.upload(conv_b);
        res_b_.upload(res_b);
        skip_bias_.upload(skip_bias_sum(w, S));
        out1_b_.upload(w.out1_b);
        out2_b_.upload(w.out2_b);
        decode_.upload(decode_table(A));
        if (X) {
            exc_t_.upload(transposed(w.excitation_w.data(), C, X));
            exc_in_t_.upload(transposed(w.excitation_in_w.data(), R, X));
            exc_inc_.upload(excitation_increments(s_.excitation_harmonics, s_.sample_rate));
            started_.upload(std::vector<uint64_t>(static_cast<size_t>(lanes) * kPitches, kSilent));
        }

        int queue = 0;
        for (int l = 0; l < L; ++l) queue += s_.dilation(l) * R;
        queue_per_lane_ = queue;
        queues_.resize(static_cast<size_t>(lanes) * queue);
        CUDA_CHECK(cudaMemset(queues_.p, 0, static_cast<size_t>(lanes) * queue * sizeof(float)));
        prev_.upload(std::vector<int>(static_cast<size_t>(lanes), A / 2));  // mu-law class of silence
        keys_.upload(keys);
        sampling_host_.assign(static_cast<size_t>(lanes), tail_floor(0.0f));
        cbuf_.resize(static_cast<size_t>(lanes) * C);
        CUDA_CHECK(cudaMemset(cbuf_.p, 0, static_cast<size_t>(lanes) * C * sizeof(float)));
        CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
        CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
        CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
        conditioning_ = std::make_unique<ConditioningCudnn>(*model_, compute_);
        if (!cluster_) switch (precision_) {
                case Precision::fp16: allow_smem<__half>(max_smem); break;
                case Precision::bf16: allow_smem<__nv_bfloat16>(max_smem); break;
                default: allow_smem<float>(max_smem); break;
            }
    }

    ~GeneratorCuda() override {
        cudaStreamSynchronize(compute_);
        cudaStreamSynchronize(copy_);
        conditioning_.reset();  // before its stream goes
        cudaEventDestroy(done_);
        cudaStreamDestroy(compute_);
        cudaStreamDestroy(copy_);
        cudaFreeHost(pinned_);
    }

    const ModelSpec& spec() const override { return s_; }
    int lanes() const override { return lanes_; }
    std::string backend() const override { return "cuda"; }
    std::string kernel() const override {
        if (cluster_) return "cuda " + cluster_->describe();
        if (tensor_lanes_) return "cuda tensor-core kernel, " + std::to_string(tensor_lanes_) + " lanes a block";
        return "cuda generic kernel, " + std::to_string(lanes_per_block_) + (lanes_per_block_ == 1 ? " lane" : " lanes") + " a block" +
               (generic_because_.empty() ? "" : " (" + generic_because_ + ")");
    }
    uint64_t position() const override { return pos_; }

    void set_instruments(const float* weights) override { cond_inputs_.set_instruments(weights); }
    void set_tail_cut(const float* cut) override {
        for (int b = 0; b < lanes_; ++b) sampling_host_[static_cast<size_t>(b)] = tail_floor(cut[b]);
    }

    void generate(const float* features, const float* temperature, int frames, float* out) override {
        // From pageable memory, so the copy is staged before this returns and the vector may change.
        const size_t temps = static_cast<size_t>(frames) * lanes_;
        sampling_host_.resize(lanes_ + temps);
        std::copy(temperature, temperature + temps, sampling_host_.begin() + lanes_);
        sampling_.resize(sampling_host_.size());
        CUDA_CHECK(
            cudaMemcpyAsync(sampling_.p, sampling_host_.data(), sizeof(float) * sampling_host_.size(), cudaMemcpyHostToDevice, compute_));
        run(features, frames, nullptr, false);
        const size_t n = static_cast<size_t>(lanes_) * frames * s_.frame_hop;
        ensure_pinned(n * sizeof(float));
        // The copy runs on its own stream after the kernel's event, so the next call's work could
        // be queued behind it without waiting for the host.
        CUDA_CHECK(cudaStreamWaitEvent(copy_, done_, 0));
        CUDA_CHECK(cudaMemcpyAsync(pinned_, out_.p, n * sizeof(float), cudaMemcpyDeviceToHost, copy_));
        CUDA_CHECK(cudaStreamSynchronize(copy_));
        std::memcpy(out, pinned_, n * sizeof(float));
    }

    void teacher_forced(const float* features, const int* inputs, int frames, float* probs) override {
        const size_t T = static_cast<size_t>(frames) * s_.frame_hop;
        check_forced_inputs(inputs, static_cast<size_t>(lanes_) * T, s_.audio_classes);
        forced_.resize(static_cast<size_t>(lanes_) * T);
        CUDA_CHECK(cudaMemcpyAsync(forced_.p, inputs, sizeof(int) * lanes_ * T, cudaMemcpyHostToDevice, compute_));
        run(features, frames, forced_.p, true);
        const size_t n = static_cast<size_t>(lanes_) * T * s_.audio_classes;
        CUDA_CHECK(cudaStreamSynchronize(compute_));
        CUDA_CHECK(cudaMemcpy(probs, probs_.p, n * sizeof(float), cudaMemcpyDeviceToHost));
    }

private:
    void run(const float* features, int frames, const int* forced, bool want_probs) {
        const int C = s_.cond_channels(), A = s_.audio_classes;
        const size_t T = static_cast<size_t>(frames) * s_.frame_hop;
        // The conditioning's inputs: the two frames carried from the last call, then this call's.
        const std::vector<float>& inputs_host = cond_inputs_.prepare(features, frames);
        inputs_.resize(inputs_host.size());
        CUDA_CHECK(cudaMemcpyAsync(inputs_.p, inputs_host.data(), inputs_host.size() * sizeof(float), cudaMemcpyHostToDevice, compute_));

        // cbuf row 0 holds the last call's final C (zeros at the start); it stays where it is.
        const size_t rows = static_cast<size_t>(frames + 1) * lanes_ * C;
        if (rows > cbuf_.n) {
            DeviceBuffer<float> grown;
            grown.resize(rows);
            CUDA_CHECK(
                cudaMemcpyAsync(grown.p, cbuf_.p, static_cast<size_t>(lanes_) * C * sizeof(float), cudaMemcpyDeviceToDevice, compute_));
            CUDA_CHECK(cudaStreamSynchronize(compute_));
            std::swap(grown.p, cbuf_.p);
            std::swap(grown.n, cbuf_.n);
        }
        conditioning_->run(inputs_.p, frames, lanes_, cbuf_.p + static_cast<size_t>(lanes_) * C);

        if (want_probs) probs_.resize(static_cast<size_t>(lanes_) * T * A);
        else out_.resize(static_cast<size_t>(lanes_) * T);
        RunArgs a{cbuf_.p,
                  inputs_.p,
                  in_,
                  started_.p,
                  frames,
                  lanes_,
                  pos_,
                  keys_.p,
                  sampling_.p + lanes_,
                  sampling_.p,
                  forced,
                  want_probs ? nullptr : out_.p,
                  want_probs ? probs_.p : nullptr,
                  prev_.p,
                  queues_.p,
                  queue_per_lane_,
                  exc_inc_.p};
        switch (precision_) {
            case Precision::fp16: launch<__half>(a); break;
            case Precision::bf16: launch<__nv_bfloat16>(a); break;
            default: launch<float>(a); break;
        }
        CUDA_CHECK(cudaGetLastError());
        // The last frame's C becomes row 0 for the next call.
        CUDA_CHECK(cudaMemcpyAsync(cbuf_.p, cbuf_.p + static_cast<size_t>(frames) * lanes_ * C,
                                   static_cast<size_t>(lanes_) * C * sizeof(float), cudaMemcpyDeviceToDevice, compute_));
        CUDA_CHECK(cudaEventRecord(done_, compute_));
        pos_ += T;
    }

    template <class WT>
    NetWeights<WT> net_weights() const {
        auto m = [](const DeviceBuffer<unsigned char>& b) { return reinterpret_cast<const WT*>(b.p); };
        return NetWeights<WT>{s_.residual_channels,
                              s_.skip_channels,
                              s_.audio_classes,
                              s_.layers,
                              s_.dilation_cycle,
                              s_.frame_hop,
                              s_.cond_channels(),
                              m(embed_),
                              m(conv_t_),
                              conv_b_.p,
                              m(res_t_),
                              res_b_.p,
                              m(skip_t_),
                              skip_bias_.p,
                              m(out1_t_),
                              out1_b_.p,
                              m(out2_t_),
                              out2_b_.p,
                              decode_.p,
                              s_.excitation_channels(),
                              exc_t_.p,
                              exc_in_t_.p,
                              exc_inc_.p,
                              packed(conv_p_),
                              packed(res_p_),
                              packed(skip_p_),
                              packed(out1_p_),
                              packed(out2_p_)};
    }
    static const uint4* packed(const DeviceBuffer<unsigned char>& b) { return reinterpret_cast<const uint4*>(b.p); }

    template <class WT>
    // The most the device allows beside the kernel's static shared memory, not this generator's
    // need: the attribute belongs to the kernel, which generators of other shapes launch too (the
    // last to set a smaller one would break the others' launches).
    void allow_smem(int device_max) {
        auto set = [&](auto kernel) {
            cudaFuncAttributes attr{};
            CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
            CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            device_max - static_cast<int>(attr.sharedSizeBytes)));
        };
        set(wavenet_kernel<1, WT, false>);
        set(wavenet_kernel<2, WT, false>);
        set(wavenet_kernel<4, WT, false>);
        set(wavenet_kernel<8, WT, false>);
        if constexpr (!std::is_same_v<WT, float>) {
            set(wavenet_kernel<16, WT, true>);
            set(wavenet_kernel<32, WT, true>);
        }
    }

    template <class WT>
    void launch(const RunArgs& a) {
        if (cluster_) {
            cluster_->launch(a, embed_.p, compute_);
            return;
        }
        const NetWeights<WT> w = net_weights<WT>();
        if constexpr (!std::is_same_v<WT, float>) {
            if (tensor_lanes_) {
                const int blocks = (lanes_ + tensor_lanes_ - 1) / tensor_lanes_;
                if (tensor_lanes_ == 16) wavenet_kernel<16, WT, true><<<blocks, kGenericThreads, smem_, compute_>>>(w, a);
                else wavenet_kernel<32, WT, true><<<blocks, kGenericThreads, smem_, compute_>>>(w, a);
                return;
            }
        }
        const int blocks = (lanes_ + lanes_per_block_ - 1) / lanes_per_block_;
        switch (lanes_per_block_) {
            case 1: wavenet_kernel<1, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            case 2: wavenet_kernel<2, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            case 4: wavenet_kernel<4, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
            default: wavenet_kernel<8, WT, false><<<blocks, kGenericThreads, smem_, compute_>>>(w, a); break;
        }
    }

    void ensure_pinned(size_t bytes) {
        if (bytes <= pinned_bytes_) return;
        cudaFreeHost(pinned_);
        pinned_ = nullptr;
        CUDA_CHECK(cudaMallocHost(&pinned_, bytes));
        pinned_bytes_ = bytes;
    }

    std::shared_ptr<const Model> model_;
    const ModelSpec& s_;
    const int lanes_;
    const Precision precision_;
    uint64_t pos_ = 0;
    int in_ = 0, lanes_per_block_ = 1, queue_per_lane_ = 0;
    int tensor_lanes_ = 0;  // lanes a block of the tensor kernel where it runs, else 0
    size_t smem_ = 0;
    DeviceBuffer<unsigned char> embed_, conv_t_, res_t_, skip_t_, out1_t_, out2_t_;  // in the storage precision
    DeviceBuffer<unsigned char> conv_p_, res_p_, skip_p_, out1_p_, out2_p_;          // the tensor kernel's (mma_layout.h)
    DeviceBuffer<float> conv_b_, res_b_, skip_bias_, out1_b_, out2_b_, decode_, exc_t_, exc_in_t_;
    DeviceBuffer<double> exc_inc_;
    DeviceBuffer<uint64_t> started_;
    DeviceBuffer<float> queues_, sampling_, cbuf_, inputs_, out_, probs_;
    std::vector<float> sampling_host_;  // [lanes]: tail_floor() of each tail cut, then [frames][lanes]: temperature
    DeviceBuffer<int> prev_, forced_;
    DeviceBuffer<LaneKey> keys_;
    ConditioningInputs cond_inputs_;
    cudaStream_t compute_ = nullptr, copy_ = nullptr;
    std::unique_ptr<ConditioningCudnn> conditioning_;
    std::unique_ptr<ClusterKernel> cluster_;  // the sample loop's kernel where it holds the model
    std::string generic_because_;             // else why the generic kernel runs it
    cudaEvent_t done_ = nullptr;
    void* pinned_ = nullptr;
    size_t pinned_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model> model, std::vector<LaneKey> keys, Precision precision,
                                               CudaKernel kernel) {
    return std::make_unique<GeneratorCuda>(std::move(model), keys, precision, kernel);
}

}  // namespace wavecast
