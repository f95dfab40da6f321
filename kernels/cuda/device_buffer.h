// Device memory that frees itself: a movable owner, never a list of cudaFree calls. It only grows.
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
    explicit DeviceBuffer(size_t count, bool zero = false) {
        resize(count);
        if (zero) CUDA_CHECK(cudaMemset(p, 0, count * sizeof(T)));
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : p(std::exchange(o.p, nullptr)), n(std::exchange(o.n, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        std::swap(p, o.p);
        std::swap(n, o.n);
        return *this;
    }
    ~DeviceBuffer() { cudaFree(p); }

    void resize(size_t count) {
        if (count <= n) return;
        cudaFree(p);
        p = nullptr;
        n = 0;
        CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
        n = count;
    }
    void upload(const std::vector<T>& v) {
        resize(v.size());
        CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
};

}  // namespace wavecast
