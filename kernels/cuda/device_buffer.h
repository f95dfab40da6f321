// A device allocation that frees itself; it only grows.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "cuda_check.h"

namespace wavecast {

template <class T>
struct DeviceBuffer {
    T* p = nullptr;
    size_t n = 0;
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() { cudaFree(p); }
    void resize(size_t count) {
        if (count <= n) return;
        cudaFree(p);
        p = nullptr;
        CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
        n = count;
    }
    void upload(const std::vector<T>& v) {
        resize(v.size());
        CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
};

}  // namespace wavecast
