#include "daemon/midi_schedule.h"

#include <algorithm>
#include <cmath>

#include "score/midi_file.h"

namespace wavecast {

void MidiSchedule::queue(StreamOutput& out, const std::vector<MidiEvent>& events, const std::vector<uint64_t>& clock_ticks,
                         const Style& style, int lanes, bool programs, uint64_t block_start, double ratio, double delay) {
    const int n = std::min<int>(lanes, static_cast<int>(style.tracks.size()));
    auto due = [&](uint64_t sample) { return static_cast<uint64_t>(std::llround(static_cast<double>(sample) * ratio + delay)); };
    auto channel = [&](int lane) { return static_cast<uint8_t>(midi_channel(style.tracks[static_cast<size_t>(lane)], lane)); };
    std::vector<std::array<uint8_t, 2>> current;
    if (programs)
        for (int lane = 0; lane < n; ++lane) {
            current.push_back(
                {static_cast<uint8_t>(0xC0 | channel(lane)), static_cast<uint8_t>(style.tracks[static_cast<size_t>(lane)].program)});
            out.queue_midi({due(block_start), {current.back()[0], current.back()[1], 0}, 2});
        }
    std::vector<SoundedNote> sounded;
    // Notes and clock ticks in the order they fall (the callback never goes back within a
    // period); a tick first where both fall on one frame, as real-time messages go first.
    size_t t = 0;
    if (out.take_midi_joined() && clock_ticks_sent_ > 0) clock_rejoin_ = true;
    auto ticks_until = [&](uint64_t frame) {
        for (; t < clock_ticks.size() && due(clock_ticks[t]) <= frame; ++t, ++clock_ticks_sent_) {
            const uint64_t at = due(clock_ticks[t]);
            if (clock_ticks_sent_ == 0) {
                out.queue_midi({at, {0xFA, 0, 0}, 1});
            } else if (clock_rejoin_ && clock_ticks_sent_ % (4 * 24) == 0) {
                // In sixteenths, 14 bits: wrapping every 1024 bars keeps it on a bar line.
                const int64_t sixteenths = (clock_ticks_sent_ / 6) % 16384;
                out.queue_midi({at, {0xF2, static_cast<uint8_t>(sixteenths & 0x7F), static_cast<uint8_t>(sixteenths >> 7)}, 3});
                out.queue_midi({at, {0xFB, 0, 0}, 1});
                clock_rejoin_ = false;
            }
            out.queue_midi({at, {0xF8, 0, 0}, 1});
        }
    };
    for (const MidiEvent& e : events) {
        if (e.track >= n) continue;
        const StreamOutput::MidiOut m{due(e.sample),
                                      {static_cast<uint8_t>((e.on ? 0x90 : 0x80) | channel(e.track)), static_cast<uint8_t>(e.pitch),
                                       static_cast<uint8_t>(e.on ? e.velocity : 0)},
                                      3};
        ticks_until(m.due);
        out.queue_midi(m);
        sounded.push_back({m.due, e.track, e.on, e.pitch, e.velocity, e.beat, style.tracks[static_cast<size_t>(e.track)].name});
    }
    ticks_until(UINT64_MAX);
    if (!programs && sounded.empty()) return;  // most blocks of a live profile's 10 ms: no lock taken
    std::lock_guard lock(mu_);
    if (programs) programs_ = std::move(current);
    notes_.insert(notes_.end(), std::make_move_iterator(sounded.begin()), std::make_move_iterator(sounded.end()));
    while (notes_.size() > 8192) notes_.pop_front();  // bounded, should the control thread stall
}

void MidiSchedule::take_sounded(uint64_t played, std::vector<SoundedNote>& out) {
    std::lock_guard lock(mu_);
    while (!notes_.empty() && notes_.front().due <= played) {
        out.push_back(std::move(notes_.front()));
        notes_.pop_front();
    }
}

std::vector<std::array<uint8_t, 2>> MidiSchedule::programs() const {
    std::lock_guard lock(mu_);
    return programs_;
}

}  // namespace wavecast
