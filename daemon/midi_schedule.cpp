#include "midi_schedule.h"

#include <algorithm>
#include <cmath>

#include "midi_file.h"

namespace wavecast {

void MidiSchedule::queue(StreamOutput& out, const std::vector<MidiEvent>& events, const Style& style, int lanes, bool programs,
                         uint64_t block_start, double ratio, double delay) {
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
    for (const MidiEvent& e : events) {
        if (e.track >= n) continue;
        const StreamOutput::MidiOut m{due(e.sample),
                                      {static_cast<uint8_t>((e.on ? 0x90 : 0x80) | channel(e.track)), static_cast<uint8_t>(e.pitch),
                                       static_cast<uint8_t>(e.on ? e.velocity : 0)},
                                      3};
        out.queue_midi(m);
        sounded.push_back({m.due, e.track, e.on, e.pitch, e.velocity, e.beat, style.tracks[static_cast<size_t>(e.track)].name});
    }
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
