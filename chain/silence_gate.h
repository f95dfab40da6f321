// Silence that is silent. A sampled network never plays exact zeros: where the score is silent
// the small model's pad lane measured -28.5 dBFS of noise, lifted further by the loudness stage's
// gain. The gate decides from the conditioning alone, never from the sampled audio: a lane whose
// frames sound no note, for longer than its instrument takes to ring out after a note ends
// (Instrument::release_s), fades to zero over kGateFadeSeconds and stays at exact zeros until a
// frame sounds a note again, where it opens at once (a note's sound starts on its frame's first
// sample). A lane that has sounded nothing yet is closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wavecast {

inline constexpr double kGateFadeSeconds = 0.02;

class SilenceGate {
public:
    SilenceGate(int lanes, int sample_rate, int frame_hop);

    // How long each lane may ring after its last sounding frame, in seconds ([lanes]).
    void set_release(const std::vector<float>& release_s);
    // Gates `frames` frames of every lane in place: features [frames][lanes][kFrameFeatures]
    // (frame_features.h), audio [lanes][frames * frame_hop].
    void apply(const float* features, int frames, float* audio);
    // Whether the lane passes sound now (it sounds a note, rings out, or is fading).
    bool open(int lane) const { return lanes_[static_cast<size_t>(lane)].gain > 0.0f; }

private:
    struct Lane {
        int64_t release = 0;  // samples
        int64_t quiet = 0;    // samples since its last sounding frame ended
        float gain = 0.0f;
    };
    int hop_;
    int sample_rate_;
    float fade_step_;
    std::vector<Lane> lanes_;
};

}  // namespace wavecast
