// IEEE binary16 (fp16) and bfloat16 as 16-bit patterns, converted on the host without a compiler
// extension, so that the CPU reference's rounded weights and the ones the CUDA backend uploads
// are the same bits. Rounding is to nearest, ties to even, as cuda_fp16.h's __float2half_rn.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/fastmath.h"  // float_bits, bits_float

namespace wavecast {

inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return bits_float(bits);
}

inline uint16_t float_to_half(float f) {
    const uint32_t x = float_bits(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t mag = x & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u) return sign | (mag > 0x7F800000u ? 0x7E00u : 0x7C00u);  // NaN stays NaN
    if (mag >= 0x477FF000u) return sign | 0x7C00u;                                  // 65520 and up round to infinity
    if (mag < 0x38800000u) {
        // Below fp16's smallest normal (2^-14): a multiple of 2^-24. The scaling is exact and
        // nearbyint rounds half to even in the default rounding mode; 1024 is the smallest
        // normal's pattern, so a carry lands on the right encoding.
        return sign | static_cast<uint16_t>(std::nearbyint(bits_float(mag) * 16777216.0f));
    }
    // Rebias the exponent (127 -> 15) and drop 13 mantissa bits, rounding half to even; a carry
    // out of the mantissa correctly bumps the exponent.
    return sign | static_cast<uint16_t>((mag - (112u << 23) + 0xFFFu + ((mag >> 13) & 1u)) >> 13);
}

inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_bf16(float f) {
    const uint32_t x = float_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace wavecast
