// Every CUDA, cuFFT and cuDNN call goes through one of these checks: a failure becomes a
// std::runtime_error naming the call, the file and line, and the library's own explanation.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace wavecast {

[[noreturn]] inline void cuda_call_failed(const char* call, const char* file, int line, const std::string& why) {
    throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " + why);
}

// Where a failure cannot be thrown (a destructor): said on stderr once per call site and kind,
// never dropped. A sticky error here is the one the next call will throw.
inline void cuda_release_failed(const char* call, const char* file, int line, cudaError_t err) {
    std::fprintf(stderr, "wavecast: %s failed at %s:%d while releasing: %s: %s\n", call, file, line, cudaGetErrorName(err),
                 cudaGetErrorString(err));
}

}  // namespace wavecast

// For calls in destructors: a failure is reported (cuda_release_failed), not thrown.
#define CUDA_REPORT(call)                                                                                \
    do {                                                                                                 \
        const cudaError_t wc_err_ = (call);                                                              \
        if (wc_err_ != cudaSuccess) ::wavecast::cuda_release_failed(#call, __FILE__, __LINE__, wc_err_); \
    } while (0)

#define CUDA_CHECK(call)                                                                                               \
    do {                                                                                                               \
        const cudaError_t wc_err_ = (call);                                                                            \
        if (wc_err_ != cudaSuccess)                                                                                    \
            ::wavecast::cuda_call_failed(#call, __FILE__, __LINE__,                                                    \
                                         std::string(cudaGetErrorName(wc_err_)) + ": " + cudaGetErrorString(wc_err_)); \
    } while (0)

#define CUFFT_CHECK(call)                                                                                                        \
    do {                                                                                                                         \
        const cufftResult wc_res_ = (call);                                                                                      \
        if (wc_res_ != CUFFT_SUCCESS)                                                                                            \
            ::wavecast::cuda_call_failed(#call, __FILE__, __LINE__, "cufftResult " + std::to_string(static_cast<int>(wc_res_))); \
    } while (0)

#define CUDNN_CHECK(call)                                                                                                         \
    do {                                                                                                                          \
        const cudnnStatus_t wc_st_ = (call);                                                                                      \
        if (wc_st_ != CUDNN_STATUS_SUCCESS) ::wavecast::cuda_call_failed(#call, __FILE__, __LINE__, cudnnGetErrorString(wc_st_)); \
    } while (0)
