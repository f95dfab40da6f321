// One stream's signal chain, block by block, with no thread of its own: composer -> generator
// (all lanes) -> the model's output filter (kernels/emphasis.h) -> the DC blocker (dc_blocker.h)
// -> the silence gate (silence_gate.h) -> per-track pan and level -> stereo -> the post tier (post_tier.h: frequency
// masking, loudness, resampling to the output rate).
// The live stream and `wavecastd render` both drive it, so they sound the same.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chain/dc_blocker.h"
#include "chain/pitch_sharpening.h"
#include "chain/post_tier.h"
#include "chain/silence_gate.h"
#include "kernels/emphasis.h"
#include "kernels/generator.h"
#include "kernels/masking.h"
#include "protocol/params.h"
#include "score/composer.h"
#include "score/style.h"

namespace wavecast {

// What a block renders with: a value for each live parameter (protocol/params.h).
using BlockParams = ParamValues;

// How long a lane's newest note keeps the stream's temperature before the sustain temperature
// caps it (Param::sustain_temperature): a held note drawn at any temperature is hiss with a tone
// in it, while the attack needs the draws, or the network holds on to the note before. What each
// choice measured: benchmarks/RESULTS.md, "The sustain temperature".
inline constexpr double kAttackSeconds = 0.1;

// A style change. The composition follows `style` (from the next bar, or beat with `now`);
// `blend` (style, weight) mixes the tempo and each lane's instrument of several styles; over
// `crossfade_s` seconds the tempo, the density and the instruments morph from the old to the new.
struct StyleChange {
    std::shared_ptr<const Style> style;
    bool now = false;
    double crossfade_s = 0;
    std::vector<std::pair<std::shared_ptr<const Style>, double>> blend;

    // The tempo the change arrives at: the blend's weighted mean, else the style's.
    double tempo() const;
};

// What one block did, for whoever publishes it (a stream's status, MIDI out, telemetry; render and
// export): filled by render() once a block, read as one struct rather than a dozen getters.
struct BlockReport {
    struct Failure {
        uint64_t count = 0;
        std::string last;  // what the stage said
    };
    uint64_t start = 0, position = 0;   // model samples per lane before and after the block
    std::vector<MidiEvent> events;      // the composer's notes of the block
    std::vector<uint64_t> clock_ticks;  // the model samples of the block's 24ths of a beat (MIDI clock out)
    const Style* style = nullptr;       // what the composer plays now (valid while the renderer lives)
    double beat = 0, tempo = 0;         // the composer's, at the block's end
    int64_t bar = 0;
    std::string section;
    double output_delay_frames = 0;                // the post tier's latency at the output rate (MIDI out waits as long)
    int masking_latency = 0, limiter_latency = 0;  // its parts, in model frames
    double resampler_held_frames = 0;              // what the resampler holds back, waiting for input
    std::string backend;                           // the generator's (it changes should the generator fall back)
    Failure generator_failures;
    std::string masking_backend;  // likewise the masking stage's
    Failure masking_failures;
    MaskingStats masking;
    LoudnessStats loudness;
};

class Renderer {
public:
    Renderer(std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking, std::shared_ptr<const Style> style, int output_rate,
             uint64_t seed, const LoudnessConfig& loudness = {});
    ~Renderer();
    Renderer(const Renderer&) = delete;
    Renderer& operator=(const Renderer&) = delete;

    // Renders `frames` model frames and appends the stereo result at the output rate to `out`
    // (interleaved L, R). The resampler's delay means the first calls may append fewer frames.
    // Throws when even a fallback generator fails; report() then holds the failure's count.
    const BlockReport& render(int frames, const BlockParams& p, std::vector<float>& out);
    const BlockReport& report() const { return report_; }

    // Takes effect at the next block; the resampler restarts (a rate change is a discontinuity anyway).
    void set_output_rate(int rate);
    void set_fast_resampler(bool on) { post_.set_fast_resampler(on); }
    void set_style(std::shared_ptr<const Style> style, bool now = false) { set_style(StyleChange{std::move(style), now, 0, {}}); }
    void set_style(StyleChange change);
    void cue(Composer::Cue c) { score_.cue(c); }
    // Plays a given score instead of composing (see Composer::set_score).
    void set_score(std::shared_ptr<const Style> style, std::vector<ScoreNote> notes, double beats);
    // Each lane's instrument now, as weights over the model's table ([lanes][instruments]).
    const std::vector<float>& lane_instruments() const { return weights_now_; }

    // When the generator throws (a CUDA error, a lost device), the block is rendered again by the
    // generator this makes (the CPU and the small model, same lanes, rate and frame hop), and the
    // stream goes on with it. A CUDA masking stage that throws is replaced by the CPU's likewise.
    using GeneratorFactory = std::function<std::unique_ptr<Generator>()>;
    void set_fallback(GeneratorFactory fallback) { fallback_ = std::move(fallback); }
    // Model samples rendered per lane (across generators, should one replace another).
    uint64_t position() const { return position_; }

    const Generator& generator() const { return *gen_; }
    int output_rate() const { return post_.output_rate(); }
    // Makes ready what blocks of up to `frames` frames need in every stage (Generator::reserve,
    // Masking::reserve): once, before the blocks start, on the thread that builds the stream.
    void reserve(int frames) {
        gen_->reserve(frames);
        post_.reserve(static_cast<size_t>(frames) * gen_->spec().frame_hop);
    }
    // Output frames per model frame, rounded up: a bound for sizing buffers.
    size_t max_output_frames(int frames) const;

private:
    void map_instruments();
    void sync_instruments();
    // Each lane's instrument as weights over the model's table for one style's tracks.
    std::vector<float> lane_weights(const Style& style) const;

    void lane_temperatures(int frames, const BlockParams& p);
    void generate_or_fall_back(int frames);
    std::vector<float> lane_releases() const;

    std::unique_ptr<Generator> gen_;
    GeneratorFactory fallback_;
    BlockReport report_;
    uint64_t position_ = 0;
    std::shared_ptr<const Style> style_;
    Composer score_;
    std::vector<float> lane_l_, lane_r_;                          // per-lane pan and level gains
    StyleChange change_;                                          // the last change asked for, applied when the composer switches
    std::vector<float> weights_now_, weights_from_, weights_to_;  // [lanes][instruments]
    double fade_total_ = 0, fade_done_ = 0;                       // seconds of a crossfade in progress
    double tempo_from_ = 0, last_tempo_ = 0;
    bool awaiting_switch_ = false;  // a crossfade asked for: hold the tempo until the composer switches
    PostTier post_;
    DeEmphasis de_emphasis_;
    DcBlocker dc_blocker_;
    SilenceGate gate_;
    std::vector<float> features_, temperature_, tail_cut_, lanes_out_, stereo_;
    PitchSharpening sharpening_;  // what each lane played lately, for its temperature
};

}  // namespace wavecast
