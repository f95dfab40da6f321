// Frame features with a few random notes per lane: fresh generator inputs for the CPU tests and
// for the GPU tests that hold CUDA against the CPU. Notes are held across frames now and then
// (some struck again, some sounding on without an onset flag), so that the excitation's note
// starts carry across frames and calls.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "kernels/frame_features.h"

inline std::vector<float> random_features(int frames, int lanes, uint64_t seed) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::vector<float> f(static_cast<size_t>(frames) * lanes * wavecast::kFrameFeatures, 0.0f);
    std::vector<std::vector<std::pair<int, int>>> held(static_cast<size_t>(lanes));  // (pitch, velocity)
    for (int k = 0; k < frames; ++k)
        for (int b = 0; b < lanes; ++b) {
            float* frame = &f[(static_cast<size_t>(k) * lanes + b) * wavecast::kFrameFeatures];
            std::vector<std::pair<int, int>> next;
            for (auto [pitch, vel] : held[static_cast<size_t>(b)]) {
                if (rng() % 4 == 0) continue;  // released
                wavecast::add_note(frame, pitch, vel, rng() % 8 == 0, static_cast<float>(rng() % 100) / 50.0f);
                next.emplace_back(pitch, vel);
            }
            while (next.size() < 3) {
                const int pitch = 30 + static_cast<int>(rng() % 60), vel = static_cast<int>(rng() % 128);
                wavecast::add_note(frame, pitch, vel, rng() % 2, static_cast<float>(rng() % 100) / 50.0f);
                next.emplace_back(pitch, vel);
            }
            held[static_cast<size_t>(b)] = next;
        }
    return f;
}
