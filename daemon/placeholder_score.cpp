#include "placeholder_score.h"

#include <algorithm>
#include <cmath>

#include "frame_features.h"
#include "philox.h"

namespace wavecast {

PlaceholderScore::PlaceholderScore(int lanes, int num, int den, uint64_t seed)
    : lanes_(lanes), frame_s_(static_cast<double>(den) / num), seed_(seed), notes_(static_cast<size_t>(lanes)),
      lead_degree_(static_cast<size_t>(lanes), 7) {
    for (auto& n : notes_) n.reserve(16);
}

void PlaceholderScore::set_style(std::shared_ptr<const Style> style) { style_ = std::move(style); }

float PlaceholderScore::draw(int lane, int64_t step, int k) const {
    return philox_uniform(seed_ ^ 0x5C0E5C0Eull, static_cast<uint32_t>(lane * 8 + k), static_cast<uint64_t>(step));
}

// Sixteenth-note step `step` begins: decide which notes start on it, per track role.
void PlaceholderScore::start_step(int64_t step) {
    const Style& s = *style_;
    const int bar = static_cast<int>(step / 16), pos = static_cast<int>(step % 16);
    const auto& chord = s.progression[static_cast<size_t>(bar) % s.progression.size()];
    auto pitch_of = [&](int degree, int octave) {
        const int n = static_cast<int>(s.scale.size());
        const int oct = degree >= 0 ? degree / n : -((-degree + n - 1) / n);
        return s.root + 12 * (octave + oct) + s.scale[static_cast<size_t>(degree - oct * n)];
    };
    // Swing delays the off-beat eighths by a share of an eighth note.
    const double t0 = static_cast<double>(step) / 4.0 + (pos % 4 == 2 ? s.swing * 0.5 : 0.0);
    const int vel = static_cast<int>(60 + 60 * intensity_);
    for (int lane = 0; lane < lanes_ && lane < static_cast<int>(s.tracks.size()); ++lane) {
        const TrackStyle& tr = s.tracks[static_cast<size_t>(lane)];
        auto& out = notes_[static_cast<size_t>(lane)];
        auto play = [&](int pitch, int v, double steps) { out.push_back({pitch, std::clamp(v, 1, 127), t0, t0 + steps / 4.0}); };
        if (tr.drums) {
            if (pos % 4 == 0) play(36, vel, 1);                                   // kick on the beat
            if (pos % 8 == 4) play(38, vel, 1);                                   // snare on 2 and 4
            if (pos % 2 == 0 && intensity_ > 0.3) play(42, vel - 20, 0.5);       // closed hat on eighths
            if (pos == 15 && draw(lane, step, 0) < intensity_) play(46, vel, 1);  // an open hat into the bar
        } else if (tr.name == "bass") {
            if (pos % 4 == 0) play(pitch_of(chord[0], -2), vel, 3);
            else if (pos % 4 == 2 && intensity_ > 0.6) play(pitch_of(chord[0] + 4, -2), vel - 15, 1.5);
        } else if (tr.name == "lead") {
            if (pos % 2 == 0 && draw(lane, step, 1) < 0.25 + 0.6 * intensity_) {
                int& d = lead_degree_[static_cast<size_t>(lane)];
                d = std::clamp(d + static_cast<int>(std::floor(draw(lane, step, 2) * 5.0f)) - 2, 0, 14);
                play(pitch_of(d, 0), vel - 10 + static_cast<int>(20 * draw(lane, step, 3)), 2);
            }
        } else if (pos == 0) {  // harmony and any other track: the bar's chord, held
            for (int deg : chord) play(pitch_of(deg, -1), vel - 20, 16);
        }
    }
}

void PlaceholderScore::next_frames(int frames, float* features) {
    for (int f = 0; f < frames; ++f) {
        const double beats_per_frame = tempo_ / 60.0 * frame_s_;
        const double begin = beat_, end = beat_ + beats_per_frame;
        // Start every step whose time falls inside this frame.
        while (style_ && static_cast<double>(step_ + 1) / 4.0 < end) start_step(++step_);
        for (int lane = 0; lane < lanes_; ++lane) {
            float* feat = features + (static_cast<size_t>(f) * lanes_ + lane) * kFrameFeatures;
            clear_frame(feat);
            auto& notes = notes_[static_cast<size_t>(lane)];
            notes.erase(std::remove_if(notes.begin(), notes.end(), [&](const Note& n) { return n.end <= begin; }), notes.end());
            for (const Note& n : notes) {
                if (n.start >= end) continue;  // swung: not yet
                const bool onset = n.start >= begin && n.start < end;
                add_note(feat, n.pitch, n.velocity, onset, static_cast<float>(std::max(0.0, begin - n.start) * 60.0 / tempo_));
            }
        }
        beat_ = end;
    }
}

}  // namespace wavecast
