#include "daemon/stream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <spdlog/spdlog.h>

#include "util/realtime.h"

namespace wavecast {
namespace {

size_t ring_floats(double lookahead_ms, int rate, size_t block_frames) {
    return 2 * (static_cast<size_t>(lookahead_ms / 1000.0 * rate) + 2 * block_frames) + 2 * 8192;
}

// The parameters a stream starts with where neither the table nor the config gives one.
ParamValues derived_defaults(const StreamConfig& cfg, const Style& style) {
    ParamValues d;
    d[Param::tempo] = style.tempo;
    d[Param::seed] = static_cast<double>(cfg.seed);
    return d;
}

}  // namespace

Stream::Stream(const StreamConfig& cfg, std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking,
               std::shared_ptr<const Style> style, int output_rate, int block_frames, bool fast_resampler)
    : lookahead_ms_(cfg.lookahead_ms),
      block_frames_(block_frames),
      renderer_(std::move(generator), std::move(masking), style, output_rate, cfg.seed,
                LoudnessConfig{cfg.loudness_lufs, cfg.true_peak_dbtp}),
      model_rate_(renderer_.generator().spec().sample_rate),
      lanes_(renderer_.generator().lanes()),
      frame_hop_(renderer_.generator().spec().frame_hop),
      // Sized for the highest rate JACK may switch to, so a rate change never reallocates.
      out_(cfg.name, ring_floats(cfg.lookahead_ms, std::max(output_rate, 192000), 4096)),
      params_(cfg.params, derived_defaults(cfg, *style)),
      out_rate_(output_rate),
      style_name_(style->name),
      net_(cfg.name) {
    target_floats_ = 2 * static_cast<size_t>(lookahead_ms_ / 1000.0 * output_rate);
    words_.backend = words_seen_.backend = renderer_.generator().backend();
    // Here, on the thread that builds the streams one after another: nothing of a block is made
    // cold on a producer thread (a GPU's plans, buffers and algorithm choices).
    renderer_.reserve(block_frames_);
    renderer_.set_fast_resampler(fast_resampler);
    set_network_outputs(cfg.outputs);
}

size_t Stream::block_floats() const {
    return 2 * static_cast<size_t>(std::ceil(static_cast<double>(block_frames_) * frame_hop_ * out_rate_.load() / model_rate_));
}

void Stream::set_network_outputs(const std::vector<IcecastConfig>& configs) { net_.set(configs); }

Stream::~Stream() { stop(); }

void Stream::start(int realtime_priority) {
    if (running_.exchange(true)) return;
    producer_ = std::thread([this, realtime_priority] { produce_loop(realtime_priority); });
}

void Stream::stop() {
    running_ = false;
    if (producer_.joinable()) producer_.join();
    out_.recorder().stop();
}

bool Stream::wait_primed(double timeout_s) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (out_.buffered_floats() + block_floats() <= target_floats_.load()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

void Stream::set_score(MidiScore score) {
    std::lock_guard lock(mail_mu_);
    style_name_ = "score";
    // What plays: the composer keeps the tempo within the parameter's range (a file of 1 us a
    // beat reported 60,000,000 bpm).
    const ParamSpec& range = param_spec(Param::tempo);
    score.tempo_bpm = std::clamp(score.tempo_bpm, range.min, range.max);
    params_.set(Param::tempo, score.tempo_bpm);
    pending_style_.reset();
    pending_score_ = std::move(score);
    mail_.store(true, std::memory_order_release);
}

void Stream::set_style(StyleChange change) {
    std::lock_guard lock(mail_mu_);
    pending_score_.reset();
    style_name_ = change.style->name;
    params_.set(Param::tempo, change.tempo());
    pending_style_ = std::move(change);
    mail_.store(true, std::memory_order_release);
}

void Stream::cue(Composer::Cue c) {
    std::lock_guard lock(mail_mu_);
    if (pending_cues_.size() < 16) pending_cues_.push_back(c);  // more before one block is taken adds nothing
    mail_.store(true, std::memory_order_release);
}

void Stream::take_mail() {
    if (!mail_.load(std::memory_order_acquire)) return;  // the lock only when something was posted
    std::lock_guard lock(mail_mu_);
    mail_.store(false, std::memory_order_relaxed);
    if (pending_style_) renderer_.set_style(std::move(*pending_style_)), pending_style_.reset();
    if (pending_score_) {
        auto style = std::make_shared<const Style>(pending_score_->style);
        renderer_.set_score(style, std::move(pending_score_->notes), pending_score_->beats);
        pending_score_.reset();
    }
    for (const Composer::Cue c : pending_cues_) renderer_.cue(c);
    pending_cues_.clear();
}

StreamStatus Stream::status() const {
    StreamStatus s;
    s.name = name();
    {
        std::lock_guard lock(mail_mu_);
        s.style = style_name_;
    }
    s.params = params_.snapshot();
    const Figures f = figures_.load();
    BlockReport& b = s.block;
    b.start = f.start, b.position = f.position, b.style = f.style, b.beat = f.beat, b.tempo = f.tempo, b.bar = f.bar;
    b.output_delay_frames = f.output_delay_frames, b.masking_latency = f.masking_latency, b.limiter_latency = f.limiter_latency;
    b.resampler_held_frames = f.resampler_held_frames, b.masking = f.masking, b.loudness = f.loudness;
    b.generator_failures.count = f.generator_failures, b.masking_failures.count = f.masking_failures;
    {
        std::lock_guard lock(words_mu_);
        b.section = words_.section, b.backend = words_.backend, b.masking_backend = words_.masking_backend;
        b.generator_failures.last = words_.generator_failure, b.masking_failures.last = words_.masking_failure;
    }
    const double busy = f.busy_s;
    const int rate = out_rate_.load();
    s.underruns = out_.underruns();
    s.underrun_frames = out_.underrun_frames();
    s.longest_gap_ms = static_cast<double>(out_.longest_gap_frames()) * 1000.0 / rate;
    s.rtf = busy > 0 ? static_cast<double>(s.block.position) / busy / model_rate_ : 0.0;
    s.ring_ms = static_cast<double>(out_.buffered_floats() / 2) * 1000.0 / rate;
    s.lookahead_ms = lookahead_ms_;
    s.lanes = lanes_;
    s.producer_priority = producer_priority_.load();
    s.recorder = out_.recorder().status();
    s.outputs = net_.status();
    LatencyView& l = s.latency;
    const double frame_ms = 1000.0 / model_rate_;
    l.block_ms = block_frames_ * frame_hop_ * frame_ms;
    l.lookahead_ms = lookahead_ms_;
    l.masking_ms = s.block.masking_latency * frame_ms;
    l.render_ms = s.rtf > 0 ? l.block_ms / s.rtf : l.block_ms;
    l.limiter_ms = s.block.limiter_latency * frame_ms;
    l.resampler_ms = s.block.resampler_held_frames * 1000.0 / rate;
    l.gain_total_ms = l.block_ms + l.lookahead_ms + l.render_ms + l.limiter_ms + l.resampler_ms;
    l.total_ms = l.gain_total_ms + l.masking_ms;
    return s;
}

void Stream::produce_loop(int realtime_priority) {
    if (realtime_priority > 0) {
        if (const std::string why = make_this_thread_realtime(realtime_priority); why.empty()) producer_priority_ = realtime_priority;
        else spdlog::warn("stream '{}': the producer stays at normal priority, realtime {} refused: {}", name(), realtime_priority, why);
    }
    std::vector<float> block;
    block.reserve(2 * renderer_.max_output_frames(block_frames_) * 4);
    const Style* playing = nullptr;  // programs go out whenever the composer's style changes
    auto last_error_log = std::chrono::steady_clock::time_point{};
    while (running_.load()) {
        if (const int rate = out_.take_rate_change(); rate != 0 && rate != renderer_.output_rate()) {
            renderer_.set_output_rate(rate);
            out_rate_ = rate;
            target_floats_ = 2 * static_cast<size_t>(lookahead_ms_ / 1000.0 * rate);
        }
        take_mail();
        if (out_.buffered_floats() + block_floats() > target_floats_.load()) {
            // No room for a block under the look-ahead: the ring never holds more than it, so a
            // change waits behind no more than it. The callback drains a period at a time, so a
            // short sleep loses nothing and keeps the callback free of any signalling.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        BlockParams p = params_.snapshot();
        const ParamSpec& tempo = param_spec(Param::tempo);
        p[Param::tempo] = std::clamp(p[Param::tempo] * nudge_.load(), tempo.min, tempo.max);
        block.clear();
        const auto t0 = std::chrono::steady_clock::now();
        const BlockReport* report = nullptr;
        try {
            report = &renderer_.render(block_frames_, p, block);
        } catch (const std::exception& e) {
            // Even the fallback failed: the callback plays zeros (counted) while this retries; the
            // failed block's notes never sound.
            figures_now_.generator_failures = renderer_.report().generator_failures.count;
            figures_.store(figures_now_);
            publish_words(renderer_.report());
            const auto now = std::chrono::steady_clock::now();
            if (now - last_error_log > std::chrono::seconds(5)) {
                spdlog::error("stream '{}': rendering failed: {}; retrying", name(), e.what());
                last_error_log = now;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        const BlockReport& r = *report;
        const double busy = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const int rate = out_rate_.load();
        midi_.queue(out_, r.events, send_clock_ ? r.clock_ticks : std::vector<uint64_t>{}, *r.style, lanes_, playing != r.style, r.start,
                    static_cast<double>(rate) / model_rate_, r.output_delay_frames);
        playing = r.style;
        size_t written = 0;
        while (written < block.size() && running_.load()) {
            written += out_.write(block.data() + written, block.size() - written);
            if (written < block.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (written == block.size()) {
            if (r.style != title_style_ || r.section != title_section_) {
                title_style_ = r.style, title_section_ = r.section;
                title_ = r.style->name + " (" + r.section + ")";
            }
            net_.push(block.data(), block.size() / 2, rate, title_);
        }
        publish(r, busy, written / 2, rate);
    }
}

void Stream::publish(const BlockReport& r, double busy, size_t written_frames, int rate) {
    Figures& f = figures_now_;
    f.start = r.start, f.position = r.position, f.style = r.style, f.beat = r.beat, f.tempo = r.tempo, f.bar = r.bar;
    f.output_delay_frames = r.output_delay_frames, f.masking_latency = r.masking_latency, f.limiter_latency = r.limiter_latency;
    f.resampler_held_frames = r.resampler_held_frames, f.masking = r.masking, f.loudness = r.loudness;
    f.generator_failures = r.generator_failures.count, f.masking_failures = r.masking_failures.count;
    f.busy_s += busy;
    f.written_beat = r.beat - r.resampler_held_frames / rate * r.tempo / 60.0;
    f.frames_written += written_frames;
    figures_.store(f);
    publish_words(r);
}

void Stream::publish_words(const BlockReport& r) {
    if (r.section == words_seen_.section && r.backend == words_seen_.backend && r.masking_backend == words_seen_.masking_backend &&
        r.generator_failures.last == words_seen_.generator_failure && r.masking_failures.last == words_seen_.masking_failure)
        return;
    words_seen_ = {r.section, r.backend, r.generator_failures.last, r.masking_backend, r.masking_failures.last};
    std::lock_guard lock(words_mu_);
    words_ = words_seen_;
}

double Stream::playing_beat(std::chrono::steady_clock::time_point at, double extra_s) const {
    const StreamOutput::Clock clock = out_.clock();
    const Figures f = figures_.load();
    const double beat = f.written_beat, delay = f.output_delay_frames, tempo = f.tempo;
    const uint64_t written = f.frames_written;
    const double rate = out_rate_.load();
    // The frame leaving the ring at `at`: the count at the period's start, moved on in real time.
    const int64_t at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
    const double leaving =
        static_cast<double>(clock.played) + (clock.at_ns > 0 ? static_cast<double>(at_ns - clock.at_ns) * 1e-9 * rate : 0.0);
    const double waiting_s = (static_cast<double>(written) - leaving + delay) / rate + extra_s;
    return beat - waiting_s * tempo / 60.0;
}

}  // namespace wavecast
