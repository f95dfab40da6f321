// A stand-in for the composer (a later issue replaces it): a plain, deterministic pattern per
// track from the style's tempo, key, scale and chord progression, turned into the frame features
// the network is conditioned on. Enough to exercise the whole pipeline; not music with form.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "style.h"

namespace wavecast {

class PlaceholderScore {
public:
    PlaceholderScore(int lanes, int frame_rate_hz_num, int frame_rate_hz_den, uint64_t seed);

    void set_style(std::shared_ptr<const Style> style);
    void set_tempo(double bpm) { tempo_ = bpm; }
    void set_intensity(double v) { intensity_ = v; }

    // Writes `frames` frames of [lanes][F] features (notes-v1) for the lanes, in order.
    void next_frames(int frames, float* features);

    double beat() const { return beat_; }

private:
    struct Note {
        int pitch, velocity;
        double start, end;  // in beats
    };
    void start_step(int64_t step);
    float draw(int lane, int64_t step, int k) const;

    int lanes_;
    double frame_s_;  // seconds per frame
    uint64_t seed_;
    std::shared_ptr<const Style> style_;
    double tempo_ = 100, intensity_ = 0.6;
    double beat_ = 0;  // position on the beat grid: advances with the tempo, so a change stays on it
    int64_t step_ = -1;
    std::vector<std::vector<Note>> notes_;  // sounding notes per lane
    std::vector<int> lead_degree_;
};

}  // namespace wavecast
