// Records what a stream plays, exactly as the JACK callback hands it out (underrun zeros too).
// The callback pushes frames into a lock-free ring and posts a semaphore; a disk thread of the
// recorder's own wakes on it, drains the ring into a WAV or FLAC file through libsndfile, and
// finalises the file when the recording ends. Every write is checked: a recording that cannot
// be written (a full disk) ends there, keeps a valid file of what was written, and says why.
#pragma once

#include <semaphore.h>
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sndfile.h>

#include "output/spsc_ring.h"

namespace wavecast {

// Why a recording was refused.
struct RecorderError : std::runtime_error {
    enum class Kind { bad_request, io, busy };
    Kind kind;
    RecorderError(Kind k, const std::string& message) : std::runtime_error(message), kind(k) {}
};

struct RecordRequest {
    std::string path;       // .wav or .flac, already placed (path_in_folder)
    std::string midi_path;  // .mid, or empty: the MIDI the stream plays, written when it ends
    double seconds = 0;     // <= 0: until stop()
    int bits = 24;          // 16 or 24
    int rate = 48000;
    bool overwrite = false;                        // else existing files are refused
    std::vector<std::array<uint8_t, 2>> programs;  // program changes in force, for the MIDI file
    double tempo_bpm = 120;                        // the MIDI file's bar lines
};

struct RecorderStatus {
    bool active = false;
    std::string path;
    uint64_t frames = 0;   // written to the file so far
    uint64_t dropped = 0;  // frames the disk thread could not keep up with
    std::string last;      // the last finished recording, "PATH (N frames)"
    std::string error;     // why the last recording ended early or lost part of itself; empty if none
};

class Recorder {
public:
    explicit Recorder(double ring_seconds_at_48k = 4.0);
    ~Recorder();

    // Control side. Checks everything, then creates the files, so that a refused request leaves
    // nothing behind and truncates nothing. Throws RecorderError.
    void start(const RecordRequest& request);
    // Ends the recording; returns once the file is finalised, with the frames it holds.
    uint64_t stop();
    RecorderStatus status() const;
    // Control side, while no callback runs (the JACK client is being replaced): the frames to come
    // are at `rate`. A recording at another rate is finalised and goes on in a new file at the
    // new rate beside it (NAME-RATEHz.EXT); returns a line for the log saying so, else "".
    std::string change_rate(int rate);

    // Real-time side: called by the JACK callback with the period it just played.
    void push(const float* left, const float* right, uint32_t frames);
    // Real-time side, before push() in the same period: a MIDI message at `offset` in it.
    void push_midi(uint32_t offset, const uint8_t* bytes, uint8_t size);

private:
    void disk_loop();
    bool drain();                             // false when a write failed (error_ says why)
    void finish();                            // closes the files; with mu_ held
    void disarm();                            // the callback pushes no more once this returns
    void open_files(const RecordRequest& r);  // with mu_ held

    SpscRing<float> ring_;
    struct Midi {
        uint64_t frame;  // from the recording's first frame
        uint8_t bytes[3];
        uint8_t size;
    };
    SpscRing<Midi> midi_ring_{16384};
    std::atomic<uint64_t> pushed_{0};   // frames the callback has pushed into this recording
    std::atomic<bool> armed_{false};    // the callback may push
    std::atomic<bool> in_push_{false};  // the callback is inside push(): see disarm()
    std::atomic<uint64_t> remaining_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> frames_{0};
    std::atomic<bool> quit_{false};
    sem_t wake_;  // posted by the callback (sem_post neither locks nor allocates)

    mutable std::mutex mu_;  // guards everything below between the control and disk threads
    SNDFILE* file_ = nullptr;
    int midi_fd_ = -1;
    RecordRequest request_;  // of the recording in progress
    std::string last_, error_;
    bool failed_ = false;     // a write of this recording failed: the rest is discarded
    std::vector<Midi> midi_;  // drained from midi_ring_ by the disk thread
    std::thread disk_;
    float buf_[8192];
    static constexpr uint32_t kMaxPeriod = 8192;  // JACK's usual largest period
    float interleaved_[2 * kMaxPeriod];           // the callback's, so push() never allocates
};

}  // namespace wavecast
