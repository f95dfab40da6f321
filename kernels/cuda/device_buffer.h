// Device memory that frees itself: a movable owner, never a list of cudaFree calls. It only grows.
// Uploads and zeroing go on the stream of the stage that owns the buffer and are waited for, so
// that nothing is ordered on the legacy default stream, which a non-blocking stream does not wait
// for (issue 36: the band tables and prev_ were uploaded there while the work ran elsewhere).
#pragma once

#include <cuda_runtime.h>

#include <utility>
#include <vector>

#include "kernels/cuda/common.h"

namespace wavecast {

template <class T>
struct DeviceBuffer {
    T* p = nullptr;
    size_t n = 0;

    DeviceBuffer() = default;
    // `count` elements, zeroed on `stream` (and waited for) when `zero`.
    explicit DeviceBuffer(size_t count, bool zero = false, cudaStream_t stream = nullptr) {
        resize(count);
        if (zero) this->zero(stream);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : p(std::exchange(o.p, nullptr)), n(std::exchange(o.n, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        std::swap(p, o.p);
        std::swap(n, o.n);
        return *this;
    }
    ~DeviceBuffer() {
        if (p) CUDA_REPORT(cudaFree(p));
    }

    // At least `count` elements; the contents are lost when it grows.
    void resize(size_t count) {
        if (count <= n) return;
        if (p) CUDA_CHECK(cudaFree(p));
        p = nullptr;
        n = 0;
        CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
        n = count;
    }
    void zero(cudaStream_t stream = nullptr) {
        CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(T), stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    // `v` into the buffer on `stream` (the legacy default one where the owner has none yet), waited
    // for, so `v` may change and any stream may read the buffer as soon as this returns.
    void upload(const std::vector<T>& v, cudaStream_t stream = nullptr) {
        resize(v.size());
        CUDA_CHECK(cudaMemcpyAsync(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
    }
};

}  // namespace wavecast
