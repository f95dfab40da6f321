// Every CUDA runtime call goes through CUDA_CHECK: a failure becomes an exception naming the
// call, the file and line, and the runtime's own explanation.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define CUDA_CHECK(call)                                                                                 \
    do {                                                                                                 \
        const cudaError_t wc_err_ = (call);                                                              \
        if (wc_err_ != cudaSuccess)                                                                      \
            throw std::runtime_error(std::string(#call) + " failed at " + __FILE__ + ":" +               \
                                     std::to_string(__LINE__) + ": " + cudaGetErrorName(wc_err_) + ": " + \
                                     cudaGetErrorString(wc_err_));                                       \
    } while (0)
