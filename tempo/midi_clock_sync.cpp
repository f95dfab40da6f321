#include "tempo/midi_clock_sync.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cmath>

#include "tempo/beat_phase.h"

namespace wavecast {
namespace {

constexpr int kTicksPerBeat = 24;
constexpr size_t kWindow = kTicksPerBeat + 1;  // a beat of intervals for the tempo
constexpr size_t kMinTicks = kTicksPerBeat / 4 + 1;
// Ticks further apart than this are two runs: at the slowest tempo (20 bpm) they are 125 ms apart.
constexpr double kSilentS = 0.3;
// A tempo that moved less than this stays (the phase pull takes up the rest): hardware clocks
// jitter by a millisecond or so, which over a beat is a few hundredths of a bpm.
constexpr double kTempoStep = 0.05;

}  // namespace

double MidiClockSync::tempo_of(const std::deque<uint32_t>& frames, int rate) {
    const size_t n = frames.size();
    if (n < 2) return 0;
    // Times relative to the first, as unsigned differences: JACK's frame time wraps at 2^32.
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
        const double x = static_cast<double>(i), y = static_cast<double>(static_cast<uint32_t>(frames[i] - frames[0]));
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    const double frames_per_tick = (static_cast<double>(n) * sxy - sx * sy) / (static_cast<double>(n) * sxx - sx * sx);
    return frames_per_tick > 0 ? 60.0 * rate / (kTicksPerBeat * frames_per_tick) : 0;
}

// A clock's Start, Stop and Continue, logged at most once a second: a sender can send
// thousands a second, and each is counted in status anyway.
void MidiClockSync::log_transport(const std::string& what) {
    uint64_t held = 0;
    if (transport_log_.allow(held))
        spdlog::info("MIDI clock: {}{}", what, held ? fmt::format(" ({} starts, stops and continues not logged)", held) : "");
}

bool MidiClockSync::feed(const ControlMidiEvent& e, int rate) {
    if (e.size == 0) return false;
    switch (e.bytes[0]) {
        case 0xF8: {  // clock
            rate_ = rate > 0 ? rate : rate_;
            if (!recent_.empty() && static_cast<uint32_t>(e.frame - recent_.back()) > kSilentS * rate_) recent_.clear();
            recent_.push_back(e.frame);
            if (recent_.size() > kWindow) recent_.pop_front();
            ++view_.ticks;
            last_tick_at_ = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(e.at_ns));
            if (playing_) last_position_ = next_position_++;
            return true;
        }
        case 0xFA:  // start: the next tick is beat 0
            playing_ = true, next_position_ = 0, last_position_ = -1;
            ++view_.starts;
            log_transport("start");
            return true;
        case 0xFB:  // continue from the song position
            playing_ = true, last_position_ = -1;
            ++view_.continues;
            log_transport(fmt::format("continue at beat {:.2f}", static_cast<double>(next_position_) / kTicksPerBeat));
            return true;
        case 0xFC:
            playing_ = false;
            ++view_.stops;
            log_transport("stop");
            return true;
        case 0xF2:  // song position pointer: sixteenths, 14 bits
            if (e.size == 3)
                next_position_ = 6 * (static_cast<int64_t>(e.bytes[1] & 0x7F) | (static_cast<int64_t>(e.bytes[2] & 0x7F) << 7));
            return true;
        default: return false;
    }
}

void MidiClockSync::follow(const std::vector<BeatFollower*>& streams, double /*latency_s*/) {
    const auto now = std::chrono::steady_clock::now();
    const bool ticking = !recent_.empty() && now - last_tick_at_ < std::chrono::duration<double>(kSilentS);
    if (!ticking) recent_.clear();
    view_.state = !ticking ? "waiting" : playing_ ? "playing" : "stopped";

    const double tempo = recent_.size() >= kMinTicks ? tempo_of(recent_, rate_) : 0;
    if (tempo > 0) {
        view_.tempo = tempo;
        const double bpm = std::clamp(std::round(tempo * 100) / 100, 20.0, 300.0);
        // Compared with each stream's own, so a tempo set here gives way to the clock's.
        bool moved = false;
        for (BeatFollower* s : streams)
            if (std::abs(bpm - s->tempo()) >= kTempoStep) s->set_tempo(bpm), moved = true;
        uint64_t held = 0;
        if (moved && std::abs(bpm - logged_tempo_) >= 1 && tempo_log_.allow(held)) {
            spdlog::info("MIDI clock: tempo {:.2f}{}", bpm, held ? fmt::format(" ({} changes not logged)", held) : "");
            logged_tempo_ = bpm;
        }
    }

    if (last_position_ >= 0) view_.beat = static_cast<double>(last_position_) / kTicksPerBeat;
    if (ticking && playing_ && last_position_ >= 0 && !streams.empty()) {
        // The clock's beat at its last tick against ours at that moment: both on the callback's
        // time line, so a clock from another JACK client lines up with its audio. No output
        // latency is added: the clock and our audio leave through the same graph.
        const PhaseReading r = pull_into_phase(streams, view_.beat, last_tick_at_, 0.0, quantum_);
        view_.phase_error_beats = r.error_beats, view_.nudge = r.nudge;
        released_ = false;
    } else if (!released_) {
        release_phase(streams);
        view_.phase_error_beats = 0, view_.nudge = 1;
        released_ = true;
    }
}

}  // namespace wavecast
