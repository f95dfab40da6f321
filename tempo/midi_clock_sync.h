// Following a MIDI clock on control_midi_in (a drum machine, a DAW, a sequencer): its tempo from
// the ticks (24 a quarter note), and while it plays (after Start or Continue) its beat phase,
// pulled in as Ableton Link's is (beat_phase.h). Start puts the next tick on beat 0, Song Position
// Pointer moves it; Stop leaves the tempo and lets the phase go. A clock that falls silent leaves
// the tempo where it was. All on the control thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "output/control_midi_in.h"
#include "tempo/tempo_source.h"
#include "util/log_limit.h"

namespace wavecast {

class MidiClockSync final : public TempoSource {
public:
    explicit MidiClockSync(double quantum) : quantum_(quantum) {}

    // Takes MIDI clock's real-time messages (tick, start, continue, stop) and Song Position
    // Pointer; false for anything else. `rate`: JACK's frames a second.
    bool feed(const ControlMidiEvent& e, int rate);
    // Each control turn: gives every stream the clock's tempo when it moved, and pulls their beat
    // into phase while the clock plays. No output latency is added: the clock and the audio
    // leave through the same graph.
    void follow(const std::vector<BeatFollower*>& streams, double latency_s) override;
    void describe(TempoStatus& into) const override { into.midi_clock = view_; }
    const MidiClockView& view() const { return view_; }

    // The tempo a run of ticks `frames` apart (JACK frame times, at `rate`) gives: the least-
    // squares slope, so one late tick moves it little. 0 for fewer than 2.
    static double tempo_of(const std::deque<uint32_t>& frames, int rate);

private:
    const double quantum_;
    std::deque<uint32_t> recent_;  // the last beat's tick frames, since the clock last fell silent
    int rate_ = 48000;
    int64_t last_tick_ns_ = 0;
    bool playing_ = false;
    int64_t next_position_ = 0;   // the clock's position of its next tick while playing, in ticks
    int64_t last_position_ = -1;  // the position of the last tick played; -1 before one
    std::chrono::steady_clock::time_point last_tick_at_{};
    double logged_tempo_ = 0;  // logged again only when it moved a whole bpm
    LogLimit transport_log_{std::chrono::seconds(1)}, tempo_log_{std::chrono::seconds(1)};
    void log_transport(const std::string& what);
    bool released_ = true;
    MidiClockView view_;
};

}  // namespace wavecast
