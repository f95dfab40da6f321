// The device side of the network's arithmetic, shared by both generator kernels: the storage
// types' conversions and the activations, as the CPU reference computes them (cpu/vec.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/fastmath.h"

namespace wavecast {

__device__ inline float tanh_ref(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }
__device__ inline float sigmoid_ref(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

__device__ inline float to_float(float v) { return v; }
__device__ inline float to_float(__half v) { return __half2float(v); }
__device__ inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

}  // namespace wavecast
