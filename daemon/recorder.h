// Records what a stream plays, exactly as the JACK callback hands it out (underrun zeros too).
// The callback pushes frames into a lock-free ring; a disk thread of the recorder's own drains it
// into a WAV or FLAC file through libsndfile and finalises the file when the recording ends.
#pragma once

#include <array>
#include <atomic>
#include <vector>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <sndfile.h>

#include "spsc_ring.h"

namespace wavecast {

struct RecorderStatus {
    bool active = false;
    std::string path;
    uint64_t frames = 0;   // written to the file so far
    uint64_t dropped = 0;  // frames the disk thread could not keep up with
    std::string last;      // the last finished recording, "PATH (N frames)"
};

class Recorder {
public:
    explicit Recorder(double ring_seconds_at_48k = 4.0);
    ~Recorder();

    // Control side. Opens the file at once, so a bad path is refused here (protocol::Error
    // io_error); a second start while one runs is refused (conflict). seconds <= 0: until stop().
    // With `midi_path`, the MIDI the stream plays is written there too when the recording ends,
    // after `programs` (the program changes in force), at `tempo_bpm` for its bar lines.
    void start(const std::string& path, double seconds, int bits, int rate, const std::string& midi_path = "",
               const std::vector<std::array<uint8_t, 2>>& programs = {}, double tempo_bpm = 120);
    // Ends the recording; returns once the file is finalised, with its frame count.
    uint64_t stop();
    RecorderStatus status() const;

    // Real-time side: called by the JACK callback with the period it just played.
    void push(const float* left, const float* right, uint32_t frames);
    // Real-time side, before push() in the same period: a MIDI message at `offset` in it.
    void push_midi(uint32_t offset, const uint8_t* bytes, uint8_t size);

private:
    void disk_loop();
    void drain();
    void finish();

    SpscRing<float> ring_;
    struct Midi {
        uint64_t frame;  // from the recording's first frame
        uint8_t bytes[3];
        uint8_t size;
    };
    SpscRing<Midi> midi_ring_{16384};
    std::atomic<uint64_t> pushed_{0};  // frames the callback has pushed into this recording
    std::atomic<bool> armed_{false};    // the callback may push
    std::atomic<bool> in_push_{false};  // the callback is inside push(): see stop()
    std::atomic<uint64_t> remaining_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> frames_{0};
    std::atomic<bool> quit_{false};

    mutable std::mutex mu_;  // guards file_, path_, last_ between control and disk threads
    SNDFILE* file_ = nullptr;
    std::string path_, last_, midi_path_;
    std::vector<Midi> midi_;  // drained from midi_ring_ by the disk thread
    std::vector<std::array<uint8_t, 2>> programs_;
    double tempo_ = 120;
    int rate_ = 48000;
    std::thread disk_;
    float buf_[8192];
    static constexpr uint32_t kMaxPeriod = 8192;  // JACK's usual largest period
    float interleaved_[2 * kMaxPeriod];           // the callback's, so push() never allocates
};

}  // namespace wavecast
