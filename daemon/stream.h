// A live stream: its producer thread renders blocks ahead into the stream's output (the JACK side,
// output/stream_output.h) up to the look-ahead; the control thread sets its live parameters,
// posts style and score changes to its mailbox, and reads its status, which the producer publishes
// once a block from the renderer's report.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chain/renderer.h"
#include "daemon/config.h"
#include "daemon/live_params.h"
#include "daemon/midi_schedule.h"
#include "output/icecast_output.h"
#include "output/network_outputs.h"
#include "output/stream_output.h"
#include "score/midi_file.h"
#include "tempo/tempo_source.h"
#include "util/seqlock.h"

namespace wavecast {

// How long a change takes to reach the stream's JACK ports at most, by its parts (ms): it waits
// for the next block the producer starts (a block), is rendered (render: a block over the rtf),
// then plays after the ring (the look-ahead, the most the ring holds), the masking stage's window
// (not gain_db, applied after it), the limiter's look-ahead and what the resampler holds back
// until the next block pushes it out.
struct LatencyView {
    double block_ms = 0, render_ms = 0, lookahead_ms = 0, masking_ms = 0, limiter_ms = 0, resampler_ms = 0;
    double total_ms = 0;       // the sum: a change of the music
    double gain_total_ms = 0;  // the sum but masking: gain_db
};

struct StreamStatus {
    std::string name, style;
    ParamValues params;
    BlockReport block;             // the last block's (events left out)
    uint64_t underruns = 0;        // JACK periods the ring could not fill
    uint64_t underrun_frames = 0;  // frames written as zeros in them
    double longest_gap_ms = 0;     // the longest run of those zeros, at the output rate
    double rtf = 0;                // model samples generated per second of producer work / model rate
    double ring_ms = 0, lookahead_ms = 0;
    int lanes = 0;
    int producer_priority = 0;  // the producer's realtime priority; 0: normal scheduling
    RecorderStatus recorder;
    std::vector<IcecastStatus> outputs;
    LatencyView latency;
};

class Stream final : public BeatFollower {
public:
    // `block_frames`: model frames a block (10 ms each): a change waits for the next block.
    // `fast_resampler`: PostTier::set_fast_resampler.
    Stream(const StreamConfig& cfg, std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking,
           std::shared_ptr<const Style> style, int output_rate, int block_frames = 2, bool fast_resampler = false);
    ~Stream() override;

    // Before start(): what the stream falls back to when its generator fails (Renderer::set_fallback).
    void set_fallback(Renderer::GeneratorFactory fallback) { renderer_.set_fallback(std::move(fallback)); }
    // Before start(): MIDI clock on STREAM_midi_out with the notes ([midi_clock] send).
    void send_clock(bool on) { send_clock_ = on; }
    // Starts the producer; at SCHED_FIFO `realtime_priority` where that is above 0 and the
    // system allows it (util/realtime.h), else at normal priority, the reason logged.
    void start(int realtime_priority = 0);
    // Tells the producer to finish its block and stop, without waiting for it.
    void request_stop() { running_ = false; }
    // Stops the producer (waits for it) and finalises any recording.
    void stop();
    // Blocks until the ring holds the look-ahead, as near as whole blocks fill it (or the timeout
    // passes); true when it does.
    bool wait_primed(double timeout_s) const;

    // Control side.
    const std::string& name() const override { return out_.name(); }
    void set_param(Param p, double value) { params_.set(p, value); }
    void set_style(StyleChange change);
    // Plays a given score (from the next bar) instead of composing, until the next style change.
    void set_score(MidiScore score);
    // A performer's cue, taken up by the composer before the next block (Composer::cue).
    void cue(Composer::Cue c);
    StreamStatus status() const;
    StreamOutput& output() { return out_; }
    // The network outputs ([[stream.output]]) as `configs` lists them: an output whose settings
    // are unchanged keeps its connection; the others are closed or opened. Any time, from any thread.
    void set_network_outputs(const std::vector<IcecastConfig>& configs);
    Recorder& recorder() { return out_.recorder(); }
    int output_rate() const { return out_rate_.load(); }
    double tempo() const override { return params_.get(Param::tempo); }
    void set_tempo(double bpm) override { set_param(Param::tempo, bpm); }
    // The notes whose audio has been played since the last call (the telemetry "notes" topic).
    void take_sounded_notes(std::vector<MidiSchedule::SoundedNote>& out) { midi_.take_sounded(out_.played(), out); }
    std::vector<std::array<uint8_t, 2>> programs() const { return midi_.programs(); }
    // The composer's beat (counted from the start) of the audio leaving the ring at `at` (a
    // moment ago, or in a moment), i.e. the producer's beat less what waits in the ring and the
    // post tier; `extra_s` later still (the output latency after the callback). What Ableton
    // Link compares with the session's beat at the same instant.
    double playing_beat(std::chrono::steady_clock::time_point at, double extra_s) const override;
    // Scales the tempo the composer plays at (1: as set), without changing the tempo parameter:
    // how Link pulls the beat into phase with the session.
    void set_tempo_nudge(double factor) override { nudge_ = factor; }

private:
    void produce_loop(int realtime_priority);
    size_t block_floats() const;  // a block's interleaved samples at the output rate
    void take_mail();

    const double lookahead_ms_;
    const int block_frames_;
    Renderer renderer_;
    const int model_rate_, lanes_, frame_hop_;  // the same for any generator the stream falls back to
    bool send_clock_ = false;
    StreamOutput out_;
    MidiSchedule midi_;
    LiveParams params_;
    std::atomic<double> nudge_{1.0};
    std::atomic<int> out_rate_{0};
    std::atomic<size_t> target_floats_{0};
    std::atomic<int> producer_priority_{0};  // what the producer runs at (status)

    // The mailbox: changes the control thread posts, taken up by the producer before its next block.
    mutable std::mutex mail_mu_;
    std::atomic<bool> mail_{false};  // something is posted
    std::optional<StyleChange> pending_style_;
    std::optional<MidiScore> pending_score_;
    std::vector<Composer::Cue> pending_cues_;
    std::string style_name_;  // what status shows: the style (or "score") asked for last

    // What the producer publishes once a block, for status() and playing_beat(): the figures
    // without a lock (the producer may run realtime, and must never wait on a reader), the words
    // (which change every few bars at most) under one, taken only when one has changed.
    struct Figures {
        uint64_t start = 0, position = 0;
        const Style* style = nullptr;
        double beat = 0, tempo = 0;
        int64_t bar = 0;
        double output_delay_frames = 0;
        int masking_latency = 0, limiter_latency = 0;
        double resampler_held_frames = 0;
        uint64_t generator_failures = 0, masking_failures = 0;
        MaskingStats masking;
        LoudnessStats loudness;
        double busy_s = 0;            // producer time spent rendering
        double written_beat = 0;      // the composer's beat at the end of what is in the ring
        uint64_t frames_written = 0;  // output frames written to the ring so far
    };
    struct Words {
        std::string section, backend, generator_failure, masking_backend, masking_failure;
        bool operator==(const Words&) const = default;
    };
    void publish(const BlockReport& r, double busy, size_t written_frames, int rate);
    void publish_words(const BlockReport& r);
    Seqlock<Figures> figures_;
    Figures figures_now_;  // producer only: what it last published, its running totals
    Words words_seen_;     // producer only: the words it last published
    mutable std::mutex words_mu_;
    Words words_;

    // The network outputs, fed by the producer after each block reaches the ring, under the
    // title the producer keeps (made again only when the style or the section changes).
    NetworkOutputs net_;
    const Style* title_style_ = nullptr;
    std::string title_section_, title_;

    std::atomic<bool> running_{false};
    std::thread producer_;
};

}  // namespace wavecast
