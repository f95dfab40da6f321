#include "stream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <jack/midiport.h>
#include <spdlog/spdlog.h>

#include "midi_file.h"
#include "protocol.h"

namespace wavecast {
namespace {

// Frames per producer block: small enough for a live look-ahead of tens of ms, large enough
// that per-block overhead is negligible (2 frames = 20 ms at the shipped models' 100 Hz).
constexpr int kBlockFrames = 2;

double param_or(const StreamConfig& c, const char* name, double fallback) {
    auto it = c.params.find(name);
    return it == c.params.end() ? fallback : it->second;
}

size_t ring_floats(double lookahead_ms, int rate, size_t block_frames) {
    return 2 * (static_cast<size_t>(lookahead_ms / 1000.0 * rate) + 2 * block_frames) + 2 * 8192;
}

}  // namespace

Stream::Stream(const StreamConfig& cfg, std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking,
               std::shared_ptr<const Style> style, int output_rate)
    : name_(cfg.name),
      lookahead_ms_(cfg.lookahead_ms),
      renderer_(std::move(generator), std::move(masking), style, output_rate, cfg.seed,
                LoudnessConfig{cfg.loudness_lufs, cfg.true_peak_dbtp}),
      model_rate_(renderer_.generator().spec().sample_rate),
      lanes_(renderer_.generator().lanes()),
      // Sized for the highest rate JACK may switch to, so a rate change never reallocates.
      ring_(ring_floats(cfg.lookahead_ms, std::max(output_rate, 192000), 4096)),
      temperature_(param_or(cfg, "temperature", 1.0)),
      tempo_(param_or(cfg, "tempo", style->tempo)),
      intensity_(param_or(cfg, "intensity", 0.6)),
      gain_db_(param_or(cfg, "gain_db", 0.0)),
      masking_db_(param_or(cfg, "masking_db", 0.0)),
      key_(param_or(cfg, "key", -1.0)),
      seed_(param_or(cfg, "seed", static_cast<double>(cfg.seed))),
      backend_(renderer_.generator().backend()),
      style_name_(style->name),
      out_rate_(output_rate) {
    target_floats_ = 2 * static_cast<size_t>(lookahead_ms_ / 1000.0 * output_rate);
}

Stream::~Stream() { stop(); }

void Stream::start() {
    if (running_.exchange(true)) return;
    producer_ = std::thread([this] { produce_loop(); });
}

void Stream::stop() {
    if (running_.exchange(false)) producer_.join();
    recorder_.stop();
}

bool Stream::wait_primed(double timeout_s) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (ring_.size() < target_floats_.load()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

BlockParams Stream::params() const {
    return {temperature_.load(), tempo_.load(), intensity_.load(), gain_db_.load(), masking_db_.load(),
            static_cast<int>(key_.load()), static_cast<uint64_t>(seed_.load())};
}

void Stream::set_param(const std::string& name, double v) {
    if (name == "temperature") temperature_ = v;
    else if (name == "tempo") tempo_ = v;
    else if (name == "intensity") intensity_ = v;
    else if (name == "gain_db") gain_db_ = v;
    else if (name == "masking_db") masking_db_ = v;
    else if (name == "key") key_ = v;
    else if (name == "seed") seed_ = v;
    else throw protocol::Error(protocol::code::unknown_param, "params: unknown parameter '" + name + "'");
}

void Stream::set_score(MidiScore score) {
    std::lock_guard lock(style_mu_);
    style_name_ = "score";
    // What plays: the composer keeps the tempo within the parameter's range (a file of 1 us a
    // beat reported 60,000,000 bpm).
    const protocol::ParamSpec& range = *protocol::find_param("tempo");
    score.tempo_bpm = std::clamp(score.tempo_bpm, range.min, range.max);
    tempo_ = score.tempo_bpm;
    pending_style_.reset();
    pending_score_ = std::move(score);
}

void Stream::set_style(StyleChange change) {
    std::lock_guard lock(style_mu_);
    pending_score_.reset();
    style_name_ = change.style->name;
    tempo_ = change.tempo();
    pending_style_ = std::move(change);
}

StreamStatus Stream::status() const {
    StreamStatus s;
    s.name = name_;
    {
        std::lock_guard lock(style_mu_);
        s.style = style_name_;
    }
    s.params = params();
    s.masking = {masking_frames_.load(), masking_discarded_.load(), masking_pe_.load()};
    {
        std::lock_guard lock(published_mu_);
        s.loudness = loudness_;
    }
    s.samples_generated = samples_.load();
    s.underruns = underruns_.load();
    s.underrun_frames = underrun_frames_.load();
    s.longest_gap_ms = static_cast<double>(longest_gap_.load()) * 1000.0 / out_rate_.load();
    const double busy = busy_s_.load();
    s.rtf = busy > 0 ? static_cast<double>(s.samples_generated) / busy / model_rate_ : 0.0;
    s.ring_ms = static_cast<double>(ring_.size() / 2) * 1000.0 / out_rate_.load();
    s.lookahead_ms = lookahead_ms_;
    s.lanes = lanes_;
    s.beat = beat_.load();
    s.bar = bar_.load();
    {
        std::lock_guard lock(published_mu_);
        s.section = section_;
        s.backend = backend_;
        s.generator_failures = failures_.count;
        s.last_failure = failures_.last;
        s.masking_backend = masking_backend_;
        s.masking_failures = masking_failures_;
    }
    s.recorder = recorder_.status();
    return s;
}

// Producer side: stamps each event with the output frame its audio plays at and queues it for
// MIDI out and for the "notes" topic. `programs` first sends each lane's channel its program (at
// start and after a style change).
void Stream::queue_midi(const std::vector<MidiEvent>& events, bool programs, uint64_t block_start) {
    const double ratio = static_cast<double>(out_rate_.load()) / model_rate_;
    const double delay = renderer_.output_delay_frames();
    const Style& style = renderer_.composer().style();
    const int lanes = std::min<int>(lanes_, static_cast<int>(style.tracks.size()));
    auto due = [&](uint64_t sample) { return static_cast<uint64_t>(std::llround(static_cast<double>(sample) * ratio + delay)); };
    auto channel = [&](int lane) { return static_cast<uint8_t>(midi_channel(style.tracks[static_cast<size_t>(lane)], lane)); };
    // A full ring (nobody draining: no JACK) drops events; the producer never blocks on it.
    std::vector<std::array<uint8_t, 2>> current;
    if (programs)
        for (int lane = 0; lane < lanes; ++lane) {
            current.push_back({static_cast<uint8_t>(0xC0 | channel(lane)), static_cast<uint8_t>(style.tracks[static_cast<size_t>(lane)].program)});
            const MidiOut pc{due(block_start), {current.back()[0], current.back()[1], 0}, 2};
            midi_.write(&pc, 1);
        }
    std::vector<SoundedNote> sounded;
    for (const MidiEvent& e : events) {
        if (e.track >= lanes) continue;
        const MidiOut m{due(e.sample), {static_cast<uint8_t>((e.on ? 0x90 : 0x80) | channel(e.track)), static_cast<uint8_t>(e.pitch),
                                        static_cast<uint8_t>(e.on ? e.velocity : 0)}, 3};
        midi_.write(&m, 1);
        sounded.push_back({m.due, e.track, e.on, e.pitch, e.velocity, e.beat, style.tracks[static_cast<size_t>(e.track)].name});
    }
    std::lock_guard lock(notes_mu_);
    if (programs) programs_ = std::move(current);
    notes_.insert(notes_.end(), std::make_move_iterator(sounded.begin()), std::make_move_iterator(sounded.end()));
    while (notes_.size() > 8192) notes_.pop_front();  // bounded, should the control thread stall
}

void Stream::produce_loop() {
    std::vector<float> block;
    block.reserve(2 * renderer_.max_output_frames(kBlockFrames) * 4);
    std::vector<MidiEvent> events;
    renderer_.set_keep_events(true);
    const Style* playing = nullptr;  // programs go out whenever the composer's style changes
    auto last_error_log = std::chrono::steady_clock::time_point{};
    while (running_.load()) {
        if (const int rate = pending_rate_.exchange(0); rate != 0 && rate != renderer_.output_rate()) {
            renderer_.set_output_rate(rate);
            out_rate_ = rate;
            target_floats_ = 2 * static_cast<size_t>(lookahead_ms_ / 1000.0 * rate);
        }
        {
            std::lock_guard lock(style_mu_);
            if (pending_style_) renderer_.set_style(std::move(*pending_style_)), pending_style_.reset();
            if (pending_score_) {
                auto style = std::make_shared<const Style>(pending_score_->style);
                renderer_.set_score(style, std::move(pending_score_->notes), pending_score_->beats);
                pending_score_.reset();
            }
        }
        if (ring_.size() >= target_floats_.load()) {
            // Full to the look-ahead: the callback drains a period at a time, so a short sleep
            // loses nothing and keeps the callback free of any signalling.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        BlockParams p = params();
        p.tempo = std::clamp(p.tempo * nudge_.load(), 20.0, 300.0);
        const uint64_t block_start = renderer_.position();
        block.clear();
        const auto t0 = std::chrono::steady_clock::now();
        try {
            renderer_.render(kBlockFrames, p, block);
        } catch (const std::exception& e) {
            // Even the fallback failed: the callback plays zeros (counted) while this retries.
            events.clear();
            renderer_.take_events(events);  // the failed block's notes never sound
            {
                std::lock_guard lock(published_mu_);
                failures_ = renderer_.generator_failures();
            }
            const auto now = std::chrono::steady_clock::now();
            if (now - last_error_log > std::chrono::seconds(5)) {
                spdlog::error("stream '{}': rendering failed: {}; retrying", name_, e.what());
                last_error_log = now;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (slowdown_ > 0) {
            const double audio_s = static_cast<double>(renderer_.position() - block_start) / model_rate_;
            std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, audio_s * slowdown_ - took)));
        }
        busy_s_ = busy_s_.load() + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        samples_ = renderer_.position();
        events.clear();
        renderer_.take_events(events);
        const bool programs = playing != &renderer_.composer().style();
        playing = &renderer_.composer().style();
        queue_midi(events, programs, block_start);
        bar_ = renderer_.composer().bar();
        {
            std::lock_guard lock(published_mu_);
            section_ = renderer_.composer().section();
        }
        beat_ = renderer_.composer().beat();
        playing_tempo_ = renderer_.composer().tempo();
        output_delay_frames_ = renderer_.output_delay_frames();
        const MaskingStats ms = renderer_.masking_stats();
        masking_frames_ = ms.frames, masking_discarded_ = ms.discarded_share, masking_pe_ = ms.perceptual_entropy;
        {
            std::lock_guard lock(published_mu_);
            loudness_ = renderer_.loudness_stats();
            backend_ = renderer_.generator().backend();
            failures_ = renderer_.generator_failures();
            masking_backend_ = renderer_.masking_backend();
            masking_failures_ = renderer_.masking_failures();
        }
        size_t written = 0;
        while (written < block.size() && running_.load()) {
            written += ring_.write(block.data() + written, block.size() - written);
            if (written < block.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        {
            std::lock_guard lock(published_mu_);
            written_beat_ = renderer_.composer().beat() - renderer_.resampler_held_frames() / out_rate_.load() * renderer_.composer().tempo() / 60.0;
            frames_written_ += written / 2;
        }
    }
}

double Stream::playing_beat(double extra_s) const {
    uint64_t played = 0;
    int64_t at_ns = 0;
    for (;;) {
        const uint32_t seq = clock_seq_.load(std::memory_order_acquire);
        if (seq & 1) continue;
        played = clock_played_.load(std::memory_order_relaxed);
        at_ns = clock_ns_.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (clock_seq_.load(std::memory_order_relaxed) == seq) break;
    }
    double beat = 0;
    uint64_t written = 0;
    {
        std::lock_guard lock(published_mu_);
        beat = written_beat_, written = frames_written_;
    }
    const double rate = out_rate_.load();
    // The frame leaving the ring now: the count at the period's start, moved on in real time.
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const double leaving = static_cast<double>(played) + (at_ns > 0 ? static_cast<double>(now_ns - at_ns) * 1e-9 * rate : 0.0);
    const double waiting_s = (static_cast<double>(written) - leaving + output_delay_frames_.load()) / rate + extra_s;
    return beat - waiting_s * playing_tempo_.load() / 60.0;
}

std::vector<std::array<uint8_t, 2>> Stream::programs() const {
    std::lock_guard lock(notes_mu_);
    return programs_;
}

void Stream::take_sounded_notes(std::vector<SoundedNote>& out) {
    const uint64_t played = played_shared_.load(std::memory_order_relaxed);
    std::lock_guard lock(notes_mu_);
    while (!notes_.empty() && notes_.front().due <= played) {
        out.push_back(std::move(notes_.front()));
        notes_.pop_front();
    }
}

void Stream::process_midi(void* port_buffer, uint32_t frames) {
    jack_midi_clear_buffer(port_buffer);
    MidiOut m;
    uint32_t last = 0;
    while (midi_.peek(m) && m.due < played_ + frames) {
        // Late events (after an underrun) go out at the period's start; offsets never go back.
        const uint32_t at = std::max(last, m.due > played_ ? static_cast<uint32_t>(m.due - played_) : 0u);
        jack_midi_event_write(port_buffer, at, m.bytes, m.size);
        recorder_.push_midi(at, m.bytes, m.size);
        last = at;
        midi_.drop();
    }
}

void Stream::process(float* left, float* right, uint32_t frames) {
    // clock_gettime through the vDSO: no system call, no lock.
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const uint32_t seq = clock_seq_.load(std::memory_order_relaxed);
    clock_seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    clock_played_.store(played_, std::memory_order_relaxed);
    clock_ns_.store(now_ns, std::memory_order_relaxed);
    clock_seq_.store(seq + 2, std::memory_order_release);
    const size_t want = std::min<size_t>(frames, sizeof scratch_ / sizeof scratch_[0] / 2);
    const size_t got = ring_.read(scratch_, 2 * want) / 2;
    played_ += got;
    played_shared_.store(played_, std::memory_order_relaxed);
    for (size_t i = 0; i < got; ++i) {
        left[i] = scratch_[2 * i];
        right[i] = scratch_[2 * i + 1];
    }
    if (got < frames) {
        for (size_t i = got; i < frames; ++i) left[i] = right[i] = 0.0f;
        underruns_.fetch_add(1, std::memory_order_relaxed);
        underrun_frames_.fetch_add(frames - got, std::memory_order_relaxed);
        // A gap runs on from the previous period when that one ended short too.
        gap_ = (got == 0 ? gap_ : 0) + (frames - got);
        if (gap_ > longest_gap_.load(std::memory_order_relaxed)) longest_gap_.store(gap_, std::memory_order_relaxed);
    } else {
        gap_ = 0;
    }
    recorder_.push(left, right, frames);
}

}  // namespace wavecast
