// A live stream: a producer thread keeps a lock-free ring filled to the look-ahead with the
// renderer's output; the JACK callback takes from the ring (process()), and the control thread
// reads status and changes parameters through atomics.
#pragma once

#include <atomic>
#include <deque>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "composer.h"
#include "midi_file.h"
#include "config.h"
#include "recorder.h"
#include "renderer.h"
#include "spsc_ring.h"

namespace wavecast {

struct StreamStatus {
    std::string name, style;
    BlockParams params;
    uint64_t samples_generated = 0;  // per lane, at the model rate
    uint64_t underruns = 0;          // JACK periods the ring could not fill
    uint64_t underrun_frames = 0;    // frames written as zeros in them
    double longest_gap_ms = 0;       // the longest run of those zeros, at the output rate
    double rtf = 0;                  // model samples generated per second of producer work / model rate
    double ring_ms = 0, lookahead_ms = 0;
    int lanes = 0;
    std::string backend;             // the generator's, which changes should it fail over
    uint64_t generator_failures = 0;
    std::string last_failure;
    double beat = 0;
    int64_t bar = 0;
    std::string section;
    RecorderStatus recorder;
    MaskingStats masking;
    std::string masking_backend;
    Renderer::Failure masking_failures;
    LoudnessStats loudness;
};

class Stream {
public:
    Stream(const StreamConfig& cfg, std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking,
           std::shared_ptr<const Style> style, int output_rate);
    ~Stream();

    // Before start(): what the stream falls back to when its generator fails (Renderer::set_fallback).
    void set_fallback(Renderer::GeneratorFactory fallback) { renderer_.set_fallback(std::move(fallback)); }
    // Before start(), tests only (see faults.h): the producer takes `factor` times real time.
    void slow_down(double factor) { slowdown_ = factor; }
    void start();
    void stop();
    // Blocks until the ring holds the look-ahead (or the timeout passes); true when it does.
    bool wait_primed(double timeout_s) const;

    // Control side.
    const std::string& name() const { return name_; }
    void set_param(const std::string& name, double value);
    void set_style(StyleChange change);
    // Plays a given score (from the next bar) instead of composing, until the next style change.
    void set_score(MidiScore score);
    // The rate JACK plays at (from any thread; the producer takes it up before its next block).
    void set_output_rate(int rate) { pending_rate_.store(rate); }
    // The same, while no JACK callback of this stream runs (its client is being replaced): a
    // recording at another rate goes on in a new file; the line returned says so (else "").
    std::string reopened_at(int rate) {
        set_output_rate(rate);
        return recorder_.change_rate(rate);
    }
    StreamStatus status() const;
    Recorder& recorder() { return recorder_; }
    int output_rate() const { return out_rate_.load(); }

    // Real-time side, from the JACK process callback only: copies one period out of the ring,
    // zeros and counts what is missing, and hands the period to the recorder.
    void process(float* left, float* right, uint32_t frames);
    // Real-time side, before process(): writes the MIDI events whose audio starts in this period
    // into a JACK MIDI port buffer.
    void process_midi(void* port_buffer, uint32_t frames);

    // Control side: the notes whose audio has been played since the last call (for the
    // telemetry "notes" topic), with the names of their tracks.
    struct SoundedNote {
        uint64_t due;
        int lane;
        bool on;
        int pitch, velocity;
        double beat;
        std::string track;
    };
    void take_sounded_notes(std::vector<SoundedNote>& out);
    // The program change (status, program) of each lane's channel in force now.
    std::vector<std::array<uint8_t, 2>> programs() const;
    double tempo() const { return tempo_.load(); }
    // The composer's beat (counted from the start) of the audio leaving the ring now, i.e. the
    // producer's beat less what waits in the ring and the post tier; `extra_s` later still
    // (the output latency after the callback). What Ableton Link compares with the session's beat.
    double playing_beat(double extra_s) const;
    // Scales the tempo the composer plays at (1: as set), without changing the tempo parameter:
    // how Link pulls the beat into phase with the session.
    void set_tempo_nudge(double factor) { nudge_ = factor; }

private:
    void produce_loop();

    const std::string name_;
    const double lookahead_ms_;
    Renderer renderer_;
    const int model_rate_, lanes_;  // the same for any generator the stream falls back to
    double slowdown_ = 0;
    SpscRing<float> ring_;  // interleaved stereo at the output rate
    std::atomic<size_t> target_floats_{0};

    std::atomic<double> temperature_, tempo_, intensity_, gain_db_, masking_db_, key_, seed_;
    BlockParams params() const;
    std::atomic<uint64_t> masking_frames_{0};
    std::atomic<double> masking_discarded_{0}, masking_pe_{0};
    mutable std::mutex published_mu_;  // producer writes these per block, control reads them
    LoudnessStats loudness_;
    std::string backend_, masking_backend_;
    Renderer::Failure failures_, masking_failures_;
    mutable std::mutex style_mu_;
    std::optional<StyleChange> pending_style_;  // handed to the producer under style_mu_
    std::optional<MidiScore> pending_score_;    // likewise
    std::string style_name_;
    std::atomic<int> pending_rate_{0}, out_rate_{0};

    std::atomic<uint64_t> samples_{0}, underruns_{0}, underrun_frames_{0};
    // MIDI out: events stamped with the output frame (counted in frames taken from the ring) at
    // which their audio plays.
    struct MidiOut {
        uint64_t due;
        uint8_t bytes[3];
        uint8_t size;
    };
    SpscRing<MidiOut> midi_{8192};
    uint64_t played_ = 0;  // output frames taken from the ring (callback only)
    uint64_t gap_ = 0;     // zeros played since the last frame from the ring (callback only)
    std::atomic<uint64_t> longest_gap_{0};
    std::atomic<uint64_t> played_shared_{0};  // the same, published for the control thread
    // When the last period began (steady clock, ns) and played_ then, for playing_beat(): a
    // seqlock, so the callback never waits and the reader sees a consistent pair.
    std::atomic<uint32_t> clock_seq_{0};
    std::atomic<uint64_t> clock_played_{0};
    std::atomic<int64_t> clock_ns_{0};
    mutable std::mutex notes_mu_;  // guards notes_ and programs_
    std::vector<std::array<uint8_t, 2>> programs_;
    std::deque<SoundedNote> notes_;  // queued by the producer, taken once played
    void queue_midi(const std::vector<MidiEvent>& events, bool programs, uint64_t block_start);
    std::atomic<int64_t> bar_{0};
    std::string section_;  // under published_mu_
    std::atomic<double> busy_s_{0}, beat_{0};
    std::atomic<double> nudge_{1.0}, playing_tempo_{0}, output_delay_frames_{0};
    double written_beat_ = 0;      // under published_mu_: the composer's beat at the end of what is in the ring
    uint64_t frames_written_ = 0;  // under published_mu_: output frames written to the ring so far
    std::atomic<bool> running_{false};
    std::thread producer_;
    Recorder recorder_;
    float scratch_[2 * 8192];  // one period, interleaved; JACK periods are at most 8192 frames
};

}  // namespace wavecast
