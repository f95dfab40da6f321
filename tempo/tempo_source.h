// Where the streams' tempo and beat come from when not from their own parameter: JACK transport,
// Ableton Link, a MIDI clock. Each is a TempoSource; the control thread calls follow() on every
// source each turn, and status reads what each did through describe(), into one struct.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wavecast {

// What a tempo source steers: one stream's tempo and the beat a listener hears now.
class BeatFollower {
public:
    virtual ~BeatFollower() = default;
    virtual const std::string& name() const = 0;
    virtual double tempo() const = 0;
    virtual void set_tempo(double bpm) = 0;
    // The beat of the audio leaving at `at`, `extra_s` later still (the output latency).
    virtual double playing_beat(std::chrono::steady_clock::time_point at, double extra_s) const = 0;
    // Scales the tempo played (1: as set) without changing the tempo parameter.
    virtual void set_tempo_nudge(double factor) = 0;
};

struct LinkView {
    size_t peers = 0;
    double tempo = 0;              // the session's
    double phase_error_beats = 0;  // the session's phase less the first stream's, in (-q/2, q/2]
    double nudge = 1;              // the tempo factor pulling it into phase
};

struct MidiClockView {
    std::string state = "waiting";  // "waiting" (no ticks), "stopped" (ticks, not playing), "playing"
    double tempo = 0;               // the ticks' tempo; 0 before a quarter beat of them
    double beat = 0;                // the clock's beat at its last tick while playing
    double phase_error_beats = 0;   // theirs less the first stream's, in (-q/2, q/2]
    double nudge = 1;
    uint64_t ticks = 0, starts = 0, stops = 0, continues = 0;
};

// What every source shows in status: a source that is off leaves its part empty.
struct TempoStatus {
    std::optional<LinkView> link;
    std::optional<MidiClockView> midi_clock;
};

class TempoSource {
public:
    virtual ~TempoSource() = default;
    // Each control turn (tens of ms). `latency_s`: the output latency after the rings.
    virtual void follow(const std::vector<BeatFollower*>& streams, double latency_s) = 0;
    virtual void describe(TempoStatus& into) const = 0;
};

}  // namespace wavecast
