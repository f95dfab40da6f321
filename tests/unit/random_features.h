// Frame features with a few random notes per lane and frame: fresh generator inputs for the CPU
// tests and for the GPU tests that hold CUDA against the CPU.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "frame_features.h"

inline std::vector<float> random_features(int frames, int lanes, uint64_t seed) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::vector<float> f(static_cast<size_t>(frames) * lanes * wavecast::kFrameFeatures, 0.0f);
    for (int k = 0; k < frames; ++k)
        for (int b = 0; b < lanes; ++b)
            for (int n = 0; n < 3; ++n)
                wavecast::add_note(&f[(static_cast<size_t>(k) * lanes + b) * wavecast::kFrameFeatures], 30 + static_cast<int>(rng() % 60),
                                   static_cast<int>(rng() % 128), rng() % 2, static_cast<float>(rng() % 100) / 50.0f);
    return f;
}
