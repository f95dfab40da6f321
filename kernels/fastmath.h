// e^x to about 2 ulp for x in [-87, 88] (clamped outside), identical on the host and in CUDA
// kernels so that both backends compute the same function: x = k ln2 + r with |r| <= ln2/2, e^r
// by its degree-6 Taylor polynomial, 2^k put into the exponent bits. Branch-free, so it also
// vectorises on the CPU (libm's expf does not).
#pragma once

#include <cstdint>
#include <cstring>

#include "host_device.h"

namespace wavecast {

#if !defined(__CUDACC__)
#pragma omp declare simd
#endif
WC_HOST_DEVICE inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    // 1.5 * 2^23 rounds to the nearest integer in the default rounding mode, without a libm call.
    const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - k * 0.693145751953125f) - k * 1.42860682030941723e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
#if defined(__CUDA_ARCH__)
    return p * __int_as_float(bits);
#else
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
#endif
}

// 10^(db/10): a level in dB to a power ratio.
WC_HOST_DEVICE inline float db_to_pow(float db) { return exp_approx(db * 0.230258509f); }

}  // namespace wavecast
