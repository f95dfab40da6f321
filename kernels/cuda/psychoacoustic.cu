#include <cuda_runtime.h>

#include <vector>

#include "kernels/cuda/common.h"
#include "kernels/cuda/psychoacoustic_cuda.h"
#include "kernels/cuda/psychoacoustic_layout.h"
#include "kernels/fastmath.h"

namespace wavecast {
namespace {

constexpr int kThreads = 256;
constexpr float kDead = -1e30f;

// Tonal candidates: local maxima at least 7 dB above the neighbourhood (in parallel; the CPU's
// claim marking does not feed back into the test, so the order does not matter here).
__device__ __forceinline__ void find_tonal(const PsychoTablesDevice& t, const float* P, unsigned char* tonal) {
    const int n = t.bins;
    for (int k = threadIdx.x; k < n; k += blockDim.x) {
        bool is = k >= 2 && k < n - 2 && P[k] > P[k - 1] && P[k] >= P[k + 1];
        const int reach = t.tonal_reach[k];
        for (int j = 2; j <= reach && is; ++j) {
            if (k - j >= 0 && P[k] - P[k - j] < 7.0f) is = false;
            if (k + j < n && P[k] - P[k + j] < 7.0f) is = false;
        }
        tonal[k] = is;
    }
}

// Thread 0: the noise maskers by band after the tonal ones, then decimation exactly as the CPU's:
// below the threshold in quiet, then the weaker of two tonal maskers closer than 0.5 Bark.
// Returns how many maskers are left.
__device__ __forceinline__ int noise_maskers_and_decimation(const PsychoTablesDevice& t, const double* band_sum, DevMasker* m, int c,
                                                            int max_maskers) {
    for (int b = 0; b < t.bands && c < max_maskers; ++b) {
        if (band_sum[b] <= 0) continue;
        const int lo = t.band_start[b], hi = t.band_start[b + 1];
        const double f_lo = fmax(static_cast<double>(t.freq[lo]), static_cast<double>(t.freq[1]));
        const double f_hi = t.freq[hi - 1];
        const double centre = sqrt(f_lo * fmax(f_hi, f_lo));
        const int bin = min(max(static_cast<int>(llround(centre * t.fft_size / t.sample_rate)), lo), hi - 1);
        m[c++] = {bin, static_cast<float>(10.0 * log10(band_sum[b])), t.bark[bin], 0};
    }
    int w = 0;
    for (int i = 0; i < c; ++i)
        if (!(m[i].level_db < t.ath_db[m[i].bin])) m[w++] = m[i];
    c = w;
    for (int i = 0; i < c; ++i) {
        if (!m[i].tonal || m[i].level_db == kDead) continue;
        for (int j = i + 1; j < c; ++j) {
            if (!m[j].tonal || m[j].level_db == kDead || fabsf(m[j].bark - m[i].bark) >= 0.5f) continue;
            (m[i].level_db >= m[j].level_db ? m[j] : m[i]).level_db = kDead;
        }
    }
    w = 0;
    for (int i = 0; i < c; ++i)
        if (m[i].level_db != kDead) m[w++] = m[i];
    return w;
}

// The threshold at every bin: the threshold in quiet plus every masker's spread reach, in dB.
__device__ __forceinline__ void global_threshold(const PsychoTablesDevice& t, const DevMasker* m, int count, float* dst) {
    for (int k = threadIdx.x; k < t.bins; k += blockDim.x) {
        const float z = t.bark[k];
        float acc = db_to_pow(t.ath_db[k]);
        for (int i = 0; i < count; ++i) {
            const DevMasker x = m[i];
            if (!(z >= x.bark + kSpreadLow && z < x.bark + kSpreadHigh)) continue;
            acc += db_to_pow(x.level_db + masking_index(x.tonal, x.bark) + spreading(z - x.bark, x.level_db));
        }
        dst[k] = 10.0f * log10_approx(acc);
    }
}

// A frame a block. Shared memory: psychoacoustic_layout.h.
__global__ void psycho_threshold_kernel(PsychoTablesDevice t, const float* __restrict__ power_db, float* __restrict__ threshold_db) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int n = t.bins;
    const PsychoSmemLayout layout = psycho_smem_layout(n);
    float* P = reinterpret_cast<float*>(smem + layout.power);
    float* lin = reinterpret_cast<float*>(smem + layout.lin);
    unsigned char* tonal = smem + layout.tonal;
    unsigned char* claimed = smem + layout.claimed;
    DevMasker* m = reinterpret_cast<DevMasker*>(smem + layout.maskers);
    __shared__ int count;
    __shared__ double band_sum[32];

    const float* src = power_db + static_cast<size_t>(blockIdx.x) * n;
    for (int k = threadIdx.x; k < n; k += blockDim.x) {
        P[k] = src[k];
        lin[k] = db_to_pow(P[k]);
        claimed[k] = 0;
    }
    __syncthreads();
    find_tonal(t, P, tonal);
    __syncthreads();
    // The list in the CPU's order: tonal maskers by bin, then noise maskers by band.
    if (threadIdx.x == 0) {
        int c = 0;
        for (int k = 2; k < n - 2; ++k) {
            if (!tonal[k] || c >= layout.max_maskers) continue;
            m[c++] = {k, 10.0f * log10f(lin[k - 1] + lin[k] + lin[k + 1]), t.bark[k], 1};
            const int reach = t.tonal_reach[k];
            for (int j = max(0, k - reach); j <= min(n - 1, k + reach); ++j) claimed[j] = 1;
        }
        count = c;
    }
    __syncthreads();
    for (int b = threadIdx.x; b < t.bands; b += blockDim.x) {
        double sum = 0;
        for (int k = t.band_start[b]; k < t.band_start[b + 1]; ++k)
            if (!claimed[k]) sum += lin[k];
        band_sum[b] = sum;
    }
    __syncthreads();
    if (threadIdx.x == 0) count = noise_maskers_and_decimation(t, band_sum, m, count, layout.max_maskers);
    __syncthreads();
    global_threshold(t, m, count, threshold_db + static_cast<size_t>(blockIdx.x) * n);
}

}  // namespace

PsychoTablesOnDevice::PsychoTablesOnDevice(const PsychoTables& t) {
    if (t.band_start.size() - 1 > 32) throw std::runtime_error("psychoacoustic tables: more than 32 critical bands");
    freq_.upload(t.freq), bark_.upload(t.bark), ath_db_.upload(t.ath_db), tonal_reach_.upload(t.tonal_reach),
        band_start_.upload(t.band_start);
    view_.sample_rate = t.sample_rate, view_.fft_size = t.fft_size, view_.bins = t.bins,
    view_.bands = static_cast<int>(t.band_start.size()) - 1;
    view_.freq = freq_.p, view_.bark = bark_.p, view_.ath_db = ath_db_.p, view_.tonal_reach = tonal_reach_.p,
    view_.band_start = band_start_.p;
    const size_t smem = psycho_smem_layout(t.bins).bytes;
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(psycho_threshold_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
}

void launch_psycho_threshold(const PsychoTablesDevice& t, const float* power_db, float* threshold_db, int frames, void* stream) {
    if (frames <= 0) return;
    psycho_threshold_kernel<<<frames, kThreads, psycho_smem_layout(t.bins).bytes, static_cast<cudaStream_t>(stream)>>>(t, power_db,
                                                                                                                       threshold_db);
    CUDA_CHECK(cudaGetLastError());
}

void cuda_masking_threshold(const PsychoTables& t, const float* power_db, float* threshold_db, int frames) {
    const PsychoTablesOnDevice d(t);
    const size_t n = static_cast<size_t>(frames) * t.bins;
    DeviceBuffer<float> in(n), out(n);
    CUDA_CHECK(cudaMemcpy(in.p, power_db, n * sizeof(float), cudaMemcpyHostToDevice));
    launch_psycho_threshold(d.view(), in.p, out.p, frames, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(threshold_db, out.p, n * sizeof(float), cudaMemcpyDeviceToHost));
}

}  // namespace wavecast
