// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel Random Numbers: As Easy
// as 1, 2, 3" (SC'11). A pure function of (counter, key), so the CPU reference and the CUDA
// kernels draw the same number for the same (seed, lane, sample index) without sharing state.
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace wavecast {

struct Philox4 {
    uint32_t v[4];
};

WC_HOST_DEVICE inline uint32_t philox_mulhi(uint32_t a, uint32_t b) { return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32); }

// Multipliers and Weyl increments are the published Philox4x32 constants.
WC_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
    constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        const uint32_t hi0 = philox_mulhi(M0, ctr.v[0]), lo0 = M0 * ctr.v[0];
        const uint32_t hi1 = philox_mulhi(M1, ctr.v[2]), lo1 = M1 * ctr.v[2];
        ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

// The one uniform draw the sampler uses for (seed, lane, sample index): a float in [0, 1) with
// 24 random bits, exact in float so both backends compare against it identically.
WC_HOST_DEVICE inline float philox_uniform(uint64_t seed, uint32_t lane, uint64_t sample) {
    const Philox4 r = philox4x32_10(Philox4{{static_cast<uint32_t>(sample), static_cast<uint32_t>(sample >> 32), lane, 0u}},
                                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    return static_cast<float>(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

// What keys one lane's draws: its generator's seed and its lane number there.
struct LaneKey {
    uint64_t seed = 0;
    uint32_t lane = 0;
};

WC_HOST_DEVICE inline float philox_uniform(const LaneKey& key, uint64_t sample) { return philox_uniform(key.seed, key.lane, sample); }

}  // namespace wavecast
