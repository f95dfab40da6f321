// Frame features of one lane, layout "notes-v1": what the conditioning network sees of the notes
// a lane is playing during one frame (frame_hop samples). The composer writes these and the
// training data is made from the same writer, so the model sees exactly what it was trained on.
#pragma once

#include <algorithm>
#include <cmath>

namespace wavecast {

inline constexpr int kPitches = 128;
inline constexpr int kVelocityOffset = 0;               // [0,128): velocity / 127 of each sounding pitch
inline constexpr int kOnsetOffset = kPitches;           // [128,256): 1 where that pitch starts in the frame
inline constexpr int kAgeOffset = 2 * kPitches;         // 256: log1p(seconds since the newest onset)
inline constexpr int kActiveOffset = 2 * kPitches + 1;  // 257: 1 while any note sounds
inline constexpr int kFrameFeatures = 2 * kPitches + 2;

inline void clear_frame(float* f) { std::fill(f, f + kFrameFeatures, 0.0f); }

// Adds one sounding note; `age_s` is how long it has sounded at the frame's start.
inline void add_note(float* f, int pitch, int velocity, bool onset, float age_s) {
    if (pitch < 0 || pitch >= kPitches) return;
    f[kVelocityOffset + pitch] = std::max(f[kVelocityOffset + pitch], std::clamp(velocity, 0, 127) / 127.0f);
    if (onset) f[kOnsetOffset + pitch] = 1.0f;
    const float age = std::log1p(std::max(age_s, 0.0f));
    f[kAgeOffset] = f[kActiveOffset] == 0.0f ? age : std::min(f[kAgeOffset], age);
    f[kActiveOffset] = 1.0f;
}

}  // namespace wavecast
