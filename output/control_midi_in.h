// What arrives on the daemon's JACK MIDI control input (`control_midi_in`): the process callback
// pushes each short message (channel voice messages, MIDI clock's one-byte messages) into a
// lock-free ring and, when it pushed any, makes an eventfd readable so that the control thread
// wakes at once instead of at its next 50 ms turn. Kept apart from the JACK client so that it
// outlives a JACK server that goes and comes back.
#pragma once

#include <atomic>
#include <cstdint>

#include "output/spsc_ring.h"

namespace wavecast {

struct ControlMidiEvent {
    uint8_t bytes[3] = {0, 0, 0};
    uint8_t size = 0;
    // When it falls (steady clock, ns): the period's start as the callback saw it, plus its
    // offset in the period. The time base of StreamOutput::clock(), so a MIDI clock tick compares
    // with the beat the streams were playing at that frame.
    int64_t at_ns = 0;
    // JACK's frame time of it (wrapping at 2^32): exact intervals, whatever the callback's wake-up
    // jitter, for a MIDI clock's tempo.
    uint32_t frame = 0;
};

class ControlMidiIn {
public:
    ControlMidiIn();  // throws std::runtime_error when no eventfd can be made
    ~ControlMidiIn();
    ControlMidiIn(const ControlMidiIn&) = delete;
    ControlMidiIn& operator=(const ControlMidiIn&) = delete;

    // Real-time side (the JACK callback): queues one message of 1 to 3 bytes; longer ones (SysEx)
    // are not control and are skipped. A full ring drops and counts.
    void push(const uint8_t* bytes, size_t size, int64_t at_ns, uint32_t frame);
    // Real-time side, after a period's pushes: one non-blocking write to the eventfd (a counter
    // add in the kernel; it never waits), only when the period pushed something.
    void signal();

    // Control thread: readable while events wait; take() empties it.
    int fd() const { return fd_; }
    size_t take(ControlMidiEvent* out, size_t max);
    uint64_t received() const { return received_.load(std::memory_order_relaxed); }
    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    SpscRing<ControlMidiEvent> ring_{1024};
    int fd_ = -1;
    bool pushed_ = false;  // this period; touched only by the real-time side
    std::atomic<uint64_t> received_{0}, dropped_{0};
};

}  // namespace wavecast
