// e^x to about 2 ulp for x in [-87, 88] (clamped outside), identical on the host and in CUDA
// kernels so that both backends compute the same function: x = k ln2 + r with |r| <= ln2/2, e^r
// by its degree-6 Taylor polynomial, 2^k put into the exponent bits. Branch-free, so it also
// vectorises on the CPU (libm's expf does not).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace wavecast {

// A float's bits and back, on the host and in device code (memcpy, not std::bit_cast: nvcc
// compiles these headers as C++17).
WC_HOST_DEVICE inline uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
    return static_cast<uint32_t>(__float_as_int(x));
#else
    uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
#endif
}
WC_HOST_DEVICE inline float bits_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __int_as_float(static_cast<int>(b));
#else
    float x;
    std::memcpy(&x, &b, sizeof x);
    return x;
#endif
}

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
    return p * bits_float(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
}

// log2(x) to 2.5e-7 relative (absolute where |log2 x| < 1) for normal x > 0 (0: -inf, inf: inf, negative or NaN: NaN),
// identical on the host and in CUDA kernels, and branch-free so that the CPU's loops over bins
// vectorise (libm's log10f and log2f do not, and took half the masking stage's time):
// x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) for s = (m - 1) / (m + 1), |s| < 0.172,
// by its series to s^9. Subnormal x is read as though normal; no caller passes one.
#if !defined(__CUDACC__)
#pragma omp declare simd
#endif
WC_HOST_DEVICE inline float log2_approx(float x) {
    const uint32_t bits = float_bits(x);
    int32_t e = static_cast<int32_t>((bits >> 23) & 0xffu) - 127;
    uint32_t mbits = (bits & 0x7fffffu) | 0x3f800000u;
    const bool high = mbits > 0x3fb504f3u;  // m > sqrt(2): halve it
    mbits -= high ? 0x00800000u : 0u;
    e += high ? 1 : 0;
    const float m = bits_float(mbits);
    const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float q = 1.0f / 9.0f;
    q = q * s2 + 1.0f / 7.0f;
    q = q * s2 + 1.0f / 5.0f;
    q = q * s2 + 1.0f / 3.0f;
    q = q * s2 + 1.0f;
    const float r = static_cast<float>(e) + (2.0f * 1.44269504088896341f) * s * q;
    return x > 0.0f && x <= 3.40282347e38f ? r : (x == 0.0f ? -INFINITY : (x > 0.0f ? INFINITY : NAN));
}

// log10(x), as log2_approx.
WC_HOST_DEVICE inline float log10_approx(float x) { return 0.301029995663981195f * log2_approx(x); }

// 10^(db/10): a level in dB to a power ratio.
WC_HOST_DEVICE inline float db_to_pow(float db) { return exp_approx(db * 0.230258509f); }

}  // namespace wavecast
