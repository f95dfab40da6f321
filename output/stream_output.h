// The JACK side of a stream: the lock-free ring its producer fills and the process callback
// drains, the MIDI events due in each period, the underrun counts, the clock Ableton Link reads,
// and the recorder fed with exactly what plays. Everything the callback touches is here, and it
// only copies, counts and stores atomics: it never allocates, locks, logs or waits.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

#include "output/recorder.h"
#include "output/spsc_ring.h"

namespace wavecast {

class StreamOutput {
public:
    // `ring_floats`: interleaved stereo capacity, sized by the caller for the look-ahead at the
    // highest rate JACK may run at, so that a rate change never reallocates.
    StreamOutput(std::string name, size_t ring_floats);

    const std::string& name() const { return name_; }

    // Producer side. What did not fit is left to the caller (it waits and writes the rest).
    size_t write(const float* interleaved, size_t floats) { return ring_.write(interleaved, floats); }
    size_t buffered_floats() const { return ring_.size(); }
    // A MIDI message for the output frame `due` (counted in frames taken from the ring, as
    // played() is); dropped when the queue is full (nobody draining it: no JACK).
    struct MidiOut {
        uint64_t due;
        uint8_t bytes[3];
        uint8_t size;
    };
    void queue_midi(const MidiOut& m) { midi_.write(&m, 1); }
    // A port was connected to this stream's MIDI out (JACK's notification thread): MIDI clock out
    // sends it the song position and Continue at the next bar line (midi_schedule.h).
    void midi_joined() { midi_joined_.store(true); }
    bool take_midi_joined() { return midi_joined_.exchange(false); }
    // The rate JACK plays at now: set from any thread, taken up by the producer (0: unchanged).
    void set_rate(int rate) { pending_rate_.store(rate); }
    int take_rate_change() { return pending_rate_.exchange(0); }
    // While no callback of this stream runs (its client is being replaced): the rate the next one
    // plays at. A recording at another rate goes on in a new file; the line returned says so.
    std::string reopened_at(int rate) {
        set_rate(rate);
        return recorder_.change_rate(rate);
    }

    // Real-time side, from the JACK process callback only: one period out of the ring, zeros and
    // counts for what is missing, the period handed to the recorder.
    void process(float* left, float* right, uint32_t frames);
    // Real-time side, before process(): `write(offset, bytes, size)` for each MIDI message due in
    // this period, in order (late ones at the period's start; offsets never go back), each also
    // handed to the recorder but MIDI clock.
    template <class Write>
    void take_midi(uint32_t frames, Write&& write) {
        MidiOut m;
        uint32_t last = 0;
        while (midi_.peek(m) && m.due < played_ + frames) {
            const uint32_t at = std::max(last, m.due > played_ ? static_cast<uint32_t>(m.due - played_) : 0u);
            write(at, m.bytes, m.size);
            if (m.bytes[0] < 0xF0) recorder_.push_midi(at, m.bytes, m.size);  // a MIDI file holds no clock
            last = at;
            midi_.drop();
        }
    }

    // Control side.
    uint64_t played() const { return played_shared_.load(std::memory_order_relaxed); }  // frames taken from the ring
    uint64_t underruns() const { return underruns_.load(); }                            // periods the ring could not fill
    uint64_t underrun_frames() const { return underrun_frames_.load(); }                // zeros written in them
    uint64_t longest_gap_frames() const { return longest_gap_.load(); }                 // the longest run of those zeros
    // The frames taken from the ring when the last period began, and when that was (steady
    // clock, ns; 0 before the first): a consistent pair, read without making the callback wait.
    struct Clock {
        uint64_t played;
        int64_t at_ns;
    };
    Clock clock() const;
    Recorder& recorder() { return recorder_; }
    const Recorder& recorder() const { return recorder_; }

private:
    const std::string name_;
    SpscRing<float> ring_;  // interleaved stereo at the output rate
    SpscRing<MidiOut> midi_{8192};
    std::atomic<int> pending_rate_{0};
    std::atomic<bool> midi_joined_{false};
    std::atomic<uint64_t> underruns_{0}, underrun_frames_{0}, longest_gap_{0};
    uint64_t played_ = 0;  // callback only
    uint64_t gap_ = 0;     // zeros played since the last frame from the ring (callback only)
    std::atomic<uint64_t> played_shared_{0};
    // A seqlock, so the callback never waits and the reader sees a consistent pair.
    std::atomic<uint32_t> clock_seq_{0};
    std::atomic<uint64_t> clock_played_{0};
    std::atomic<int64_t> clock_ns_{0};
    Recorder recorder_;
    float scratch_[2 * 8192];  // one period, interleaved; JACK periods are at most 8192 frames
};

}  // namespace wavecast
