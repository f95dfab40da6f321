// MIDI out for a stream: each block's composer events stamped with the output frame at which their
// audio plays (the block's samples at the output rate, plus the post tier's latency) and queued for
// the JACK callback, program changes whenever the style changes, and the notes kept for the
// telemetry "notes" topic until their audio has played.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "output/stream_output.h"
#include "score/composer.h"
#include "score/style.h"

namespace wavecast {

class MidiSchedule {
public:
    struct SoundedNote {
        uint64_t due;
        int lane;
        bool on;
        int pitch, velocity;
        double beat;
        std::string track;
    };

    // Producer side. `clock_ticks`: model samples of MIDI clock ticks to send among the notes
    // (none: no clock): Start before the first, of beat 0; and after something connects to the
    // MIDI out, Song Position Pointer and Continue before the next bar line's, so that a device
    // that joins later starts on the bar, in phase. `lanes`: the stream's; `programs`: send
    // each lane's channel its program first (at start and after a style change). `ratio`: output
    // frames per model sample; `delay`: the post tier's latency in output frames.
    void queue(StreamOutput& out, const std::vector<MidiEvent>& events, const std::vector<uint64_t>& clock_ticks, const Style& style,
               int lanes, bool programs, uint64_t block_start, double ratio, double delay);

    // Control side: the notes whose audio had played by output frame `played`, taken.
    void take_sounded(uint64_t played, std::vector<SoundedNote>& out);
    // The program change (status, program) of each lane's channel in force now.
    std::vector<std::array<uint8_t, 2>> programs() const;

private:
    // Producer only: MIDI clock out sent so far, and a joining device to tell the song position.
    int64_t clock_ticks_sent_ = 0;
    bool clock_rejoin_ = false;
    mutable std::mutex mu_;  // guards notes_ and programs_
    std::vector<std::array<uint8_t, 2>> programs_;
    std::deque<SoundedNote> notes_;  // queued by the producer, taken once played
};

}  // namespace wavecast
