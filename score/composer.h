// The score tier: turns a style and the live parameters into notes, per stream, forever, and
// hands the network its conditioning frames. Form, not loops: the style's sections in order
// (each with the tracks and density of its kind), chords per bar with a cadence into each new
// section, drum fills and crashes at section edges, a lead motif per section that is varied bar
// by bar and held at phrase ends; then the form again with new motifs. Deterministic for a seed
// and the same sequence of parameter changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "score/style.h"

namespace wavecast {

// A note-on or note-off, at a sample of the model's rate (from the stream's start) and on the
// beat grid; `track` is the lane.
struct MidiEvent {
    uint64_t sample;
    double beat;
    int track;
    bool on;
    int pitch;
    int velocity;
};

// A note of a given score, on the beat grid, for a lane.
struct ScoreNote {
    int lane;
    int pitch, velocity;
    double start, end;  // beats
};

class Composer {
public:
    Composer(int lanes, int sample_rate, int frame_hop, uint64_t seed);

    // Takes effect at the next bar line, so the beat and the phrase stay whole; with `now`, at
    // the next beat (the rest of the bar is written anew in the new style). The first style sets
    // the tempo; after that the tempo is whatever set_tempo() says (the stream moves it).
    void set_style(std::shared_ptr<const Style> style, bool now = false);
    void set_tempo(double bpm) { tempo_ = bpm; }
    void set_intensity(double v) { intensity_ = v; }
    void set_temperature(double v) { temperature_ = v; }
    // Scales every section's density (a crossfade thins the incoming style, then fills it in).
    void set_density_scale(double v) { density_scale_ = v; }
    // The tonic as a pitch class, or -1 for the style's key; from the next bar planned.
    void set_key(int pitch_class) { key_ = pitch_class; }
    // New choices (and new motifs) from the next bar planned.
    void set_seed(uint64_t seed);
    // A performer's cue. A fill: a drum fill over the last beat of this bar if the composer has
    // not reached that beat yet, else of the next. The next section: that fill, then the form's
    // next section from the next bar line. Nothing while a given score plays.
    enum class Cue { fill, next_section };
    void cue(Cue c);

    // Writes `frames` frames of [lanes][F] features (notes-v1) and records the MIDI events.
    void next_frames(int frames, float* features);
    // Plays `notes` (over `beats` beats, then again) instead of composing, on the lanes they name,
    // from the next bar; `style` gives the lanes' instruments. An empty score, or a style, composes again.
    void set_score(std::shared_ptr<const Style> style, std::vector<ScoreNote> notes, double beats);

    // Moves the events since the last call into `out` (appending).
    void take_events(std::vector<MidiEvent>& out);
    // Moves into `out` (appending) the samples, since the last call, at which the beat crossed
    // each 24th of a beat from beat 0 on: MIDI clock's ticks, for sending the clock out.
    void take_clock_ticks(std::vector<uint64_t>& out);

    double beat() const { return beat_; }
    double tempo() const { return tempo_; }
    int64_t bar() const { return bar_; }
    const std::string& section() const { return section_name_; }
    const Style& style() const { return *style_; }
    const std::shared_ptr<const Style>& style_ptr() const { return style_; }

private:
    struct Note {
        int pitch, velocity;
        double start, end;  // beats
        bool sounding;
    };
    void start_bar();
    void plan_bar();  // writes the notes of bar_ from step min_step_ on
    void plan_drums(int lane, const TrackStyle& t, double density, bool fill, bool crash);
    void add_fill(int lane);  // the roll over the last beat of bar_
    void fill_this_bar();     // replaces what the drums have not yet played of the last beat
    void plan_bass(int lane, const TrackStyle& t, const std::vector<int>& chord, double density, int next_root);
    void plan_harmony(int lane, const TrackStyle& t, const std::vector<int>& chord, double density);
    void plan_lead(int lane, const TrackStyle& t, const std::vector<int>& chord, double density, bool phrase_end);
    void add(int lane, int pitch, int velocity, double start_step, double length_steps);
    int degree_pitch(int degree, int octave) const;
    float rand(int lane, int k) const;  // a deterministic uniform per (bar, lane, k)
    double swung(int step) const;

    int lanes_;
    double frame_beats_per_bpm_;  // beats per frame at 1 bpm
    int frame_hop_;
    uint64_t seed_;
    std::shared_ptr<const Style> style_, pending_;
    double tempo_ = 100, intensity_ = 0.6, temperature_ = 1.0;
    int key_ = -1;
    double density_scale_ = 1.0;
    double beat_ = 0;
    uint64_t sample_ = 0;
    int64_t bar_ = -1;
    int64_t form_bar_ = 0;  // bars into the current pass of the form
    int64_t pass_ = 0;      // passes through the form so far
    bool pending_now_ = false;
    bool pending_fill_ = false, pending_next_section_ = false;
    int min_step_ = 0;  // steps of the bar before this one are not written (a switch mid-bar)
    std::string section_name_;
    std::vector<std::vector<Note>> notes_;  // per lane: planned and sounding
    std::vector<std::vector<int>> motif_;   // per lane: the lead motif, scale degrees per step (or -99)
    std::vector<int> last_voicing_centre_;  // per lane: where the last chord sat, for voice leading
    std::vector<MidiEvent> events_;
    std::vector<uint64_t> clock_ticks_;
    int64_t next_tick_ = 0;         // the 24th of a beat the next clock tick falls on
    std::vector<ScoreNote> score_;  // sorted by start
    double score_beats_ = 0;
    int64_t score_from_bar_ = 0;  // the bar the score's beat 0 falls on
    bool score_pending_ = false;
};

}  // namespace wavecast
