#include "chain/renderer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "kernels/frame_features.h"

namespace wavecast {

Renderer::Renderer(std::unique_ptr<Generator> generator, std::unique_ptr<Masking> masking, std::shared_ptr<const Style> style,
                   int output_rate, uint64_t seed, const LoudnessConfig& loudness)
    : gen_(std::move(generator)),
      score_(gen_->lanes(), gen_->spec().sample_rate, gen_->spec().frame_hop, seed),
      post_(std::move(masking), gen_->spec().sample_rate, output_rate, loudness),
      de_emphasis_(gen_->lanes()),
      dc_blocker_(gen_->lanes(), gen_->spec().sample_rate),
      gate_(gen_->lanes(), gen_->spec().sample_rate, gen_->spec().frame_hop),
      sharpening_(gen_->lanes(), gen_->spec().sample_rate) {
    set_style(std::move(style));
}

Renderer::~Renderer() = default;

void Renderer::set_output_rate(int rate) { post_.set_output_rate(rate); }

double StyleChange::tempo() const {
    if (blend.empty()) return style->tempo;
    double sum = 0, w = 0;
    for (const auto& [s, weight] : blend) sum += weight * s->tempo, w += weight;
    return w > 0 ? sum / w : style->tempo;
}

void Renderer::set_style(StyleChange change) {
    score_.set_style(change.style, change.now);
    awaiting_switch_ = change.crossfade_s > 0 && last_tempo_ > 0;
    change_ = std::move(change);
    sync_instruments();
}

void Renderer::set_score(std::shared_ptr<const Style> style, std::vector<ScoreNote> notes, double beats) {
    change_ = StyleChange{style, false, 0, {}};
    score_.set_score(std::move(style), std::move(notes), beats);
    sync_instruments();
}

// The composer switches styles at a bar line (or beat); the lanes' instruments follow when it
// does, at once or over the crossfade.
void Renderer::sync_instruments() {
    if (style_.get() == &score_.style()) return;
    style_ = score_.style_ptr();
    map_instruments();
}

// Each lane plays its track's GM program: the model instrument with that program (and drum flag),
// else one of the same GM family (programs in eights), else the first.
std::vector<float> Renderer::lane_weights(const Style& style) const {
    const auto& table = gen_->spec().instruments;
    const int lanes = gen_->lanes(), N = static_cast<int>(table.size());
    std::vector<float> weights(static_cast<size_t>(lanes) * N, 0.0f);
    for (int b = 0; b < lanes; ++b) {
        int pick = 0;
        if (b < static_cast<int>(style.tracks.size())) {
            const TrackStyle& tr = style.tracks[static_cast<size_t>(b)];
            int best = -1;
            for (int i = 0; i < N; ++i) {
                const auto& in = table[static_cast<size_t>(i)];
                const int score = in.drums != tr.drums ? 0 : in.program == tr.program ? 3 : in.program / 8 == tr.program / 8 ? 2 : 1;
                if (score > best) best = score, pick = i;
            }
        }
        weights[static_cast<size_t>(b) * N + pick] = 1.0f;
    }
    return weights;
}

// The lanes' instruments (blended when the change blends styles) and equal-power pan and level
// (the leading style's).
void Renderer::map_instruments() {
    const int lanes = gen_->lanes();
    lane_l_.assign(static_cast<size_t>(lanes), 0.0f);
    lane_r_.assign(static_cast<size_t>(lanes), 0.0f);
    for (int b = 0; b < lanes && b < static_cast<int>(style_->tracks.size()); ++b) {
        const TrackStyle& tr = style_->tracks[static_cast<size_t>(b)];
        const double angle = (tr.pan + 1.0) * M_PI / 4.0, level = std::pow(10.0, tr.level_db / 20.0);
        lane_l_[static_cast<size_t>(b)] = static_cast<float>(std::cos(angle) * level);
        lane_r_[static_cast<size_t>(b)] = static_cast<float>(std::sin(angle) * level);
    }
    const bool applies = change_.style.get() == style_.get();
    if (applies && !change_.blend.empty()) {
        weights_to_.assign(static_cast<size_t>(lanes) * gen_->spec().instruments.size(), 0.0f);
        double total = 0;
        for (const auto& [s, w] : change_.blend) total += w;
        for (const auto& [s, w] : change_.blend) {
            const auto one = lane_weights(*s);
            for (size_t i = 0; i < one.size(); ++i) weights_to_[i] += static_cast<float>(w / total) * one[i];
        }
    } else {
        weights_to_ = lane_weights(*style_);
    }
    awaiting_switch_ = false;
    if (applies && change_.crossfade_s > 0 && !weights_now_.empty()) {
        weights_from_ = weights_now_;
        tempo_from_ = last_tempo_;
        fade_total_ = change_.crossfade_s;
        fade_done_ = 0;
        return;  // render() morphs from here
    }
    weights_now_ = weights_to_;
    fade_total_ = 0;
    gen_->set_instruments(weights_now_.data());
}

// A lane rings as long as the longest of the instruments it plays (a blend, in a crossfade).
std::vector<float> Renderer::lane_releases() const {
    const auto& table = gen_->spec().instruments;
    const size_t N = table.size();
    std::vector<float> release(static_cast<size_t>(gen_->lanes()), 0.0f);
    for (size_t b = 0; b < release.size(); ++b)
        for (size_t i = 0; i < N && (b + 1) * N <= weights_now_.size(); ++i)
            if (weights_now_[b * N + i] > 0.0f) release[b] = std::max(release[b], table[i].release_s);
    return release;
}

// Each lane's temperature each frame: the stream's, capped by the sustain temperature where the
// lane's newest note has sounded kAttackSeconds (frame_features.h: the age at the frame's start),
// and sharpened as the lane's output repeats at its note's period (pitch_sharpening.h: from what
// it played up to this block, the same for every frame of the block).
void Renderer::lane_temperatures(int frames, const BlockParams& p) {
    const int lanes = gen_->lanes();
    const float t = static_cast<float>(p[Param::temperature]), held = std::min(t, static_cast<float>(p[Param::sustain_temperature]));
    const float attack_age = static_cast<float>(std::log1p(kAttackSeconds));
    const double strength = p[Param::pitch_sharpening];
    temperature_.resize(static_cast<size_t>(frames) * lanes);
    for (size_t i = 0; i < temperature_.size(); ++i) {
        const float* f = &features_[i * kFrameFeatures];
        const float capped = f[kActiveOffset] > 0.0f && f[kAgeOffset] >= attack_age ? held : t;
        temperature_[i] =
            static_cast<float>(capped / sharpening_.sharpening(static_cast<int>(i % static_cast<size_t>(lanes)), f, strength));
    }
}

void Renderer::generate_or_fall_back(int frames) {
    try {
        gen_->set_tail_cut(tail_cut_.data());
        gen_->generate(features_.data(), temperature_.data(), frames, lanes_out_.data());
        return;
    } catch (const std::exception& e) {
        ++report_.generator_failures.count;
        report_.generator_failures.last = e.what();
        if (!fallback_) throw;
        spdlog::error("generator {} failed ({}); falling back", gen_->backend(), e.what());
    }
    auto next = fallback_();
    const ModelSpec &a = gen_->spec(), &b = next->spec();
    if (next->lanes() != gen_->lanes() || a.sample_rate != b.sample_rate || a.frame_hop != b.frame_hop ||
        a.cond_features != b.cond_features)
        throw std::runtime_error("the fallback generator does not match the stream's lanes, rate and frame hop");
    gen_ = std::move(next);
    // Its own instrument table: map the lanes again; a crossfade in progress lands at once.
    fade_total_ = 0;
    weights_now_.clear();
    map_instruments();
    gen_->set_tail_cut(tail_cut_.data());
    gen_->generate(features_.data(), temperature_.data(), frames, lanes_out_.data());
    spdlog::warn("the stream goes on with generator {} ({})", gen_->backend(), gen_->spec().shape_name());
}

size_t Renderer::max_output_frames(int frames) const {
    return post_.max_output_frames(static_cast<size_t>(frames) * gen_->spec().frame_hop);
}

const BlockReport& Renderer::render(int frames, const BlockParams& p, std::vector<float>& out) {
    const int lanes = gen_->lanes(), hop = gen_->spec().frame_hop;
    const size_t n = static_cast<size_t>(frames) * hop;
    features_.resize(static_cast<size_t>(frames) * lanes * kFrameFeatures);
    tail_cut_.assign(static_cast<size_t>(lanes), static_cast<float>(p[Param::tail_cut]));
    lanes_out_.resize(static_cast<size_t>(lanes) * n);
    stereo_.assign(2 * n, 0.0f);

    // A crossfade in progress: tempo, density and the lanes' instruments move from where they were
    // to the new style's, linearly over its length.
    double tempo = awaiting_switch_ ? last_tempo_ : p[Param::tempo];
    if (fade_total_ > 0) {
        const double t = std::min(1.0, fade_done_ / fade_total_);
        tempo = tempo_from_ + t * (p[Param::tempo] - tempo_from_);
        for (size_t i = 0; i < weights_now_.size(); ++i)
            weights_now_[i] = static_cast<float>((1.0 - t) * weights_from_[i] + t * weights_to_[i]);
        gen_->set_instruments(weights_now_.data());
        score_.set_density_scale(0.5 + 0.5 * t);
        fade_done_ += static_cast<double>(n) / gen_->spec().sample_rate;
        if (t >= 1.0) fade_total_ = 0;
    } else {
        score_.set_density_scale(1.0);
    }
    last_tempo_ = tempo;
    score_.set_tempo(tempo);
    score_.set_intensity(p[Param::intensity]);
    score_.set_temperature(p[Param::temperature]);
    score_.set_key(static_cast<int>(p[Param::key]));
    score_.set_seed(static_cast<uint64_t>(p[Param::seed]));
    score_.next_frames(frames, features_.data());
    lane_temperatures(frames, p);
    sync_instruments();
    report_.start = position_;
    report_.events.clear();
    score_.take_events(report_.events);
    report_.clock_ticks.clear();
    score_.take_clock_ticks(report_.clock_ticks);
    generate_or_fall_back(frames);
    for (int b = 0; b < lanes; ++b) sharpening_.push(b, &lanes_out_[static_cast<size_t>(b) * n], n);
    de_emphasis_.apply(gen_->spec().pre_emphasis, n, lanes_out_.data());
    dc_blocker_.apply(n, lanes_out_.data());
    gate_.set_release(lane_releases());
    gate_.apply(features_.data(), frames, lanes_out_.data());
    position_ += n;

    for (int b = 0; b < lanes; ++b) {
        const float* x = &lanes_out_[static_cast<size_t>(b) * n];
        const float l = lane_l_[static_cast<size_t>(b)], r = lane_r_[static_cast<size_t>(b)];
        if (l == 0.0f && r == 0.0f) continue;
        for (size_t i = 0; i < n; ++i) {
            stereo_[2 * i] += l * x[i];
            stereo_[2 * i + 1] += r * x[i];
        }
    }
    post_.process(stereo_, n, p[Param::masking_db], p[Param::gain_db], out);
    report_.position = position_;
    report_.style = &score_.style();
    report_.beat = score_.beat();
    report_.tempo = score_.tempo();
    report_.bar = score_.bar();
    report_.section = score_.section();
    report_.output_delay_frames = post_.delay_frames();
    report_.masking_latency = post_.masking_latency(), report_.limiter_latency = post_.limiter_latency();
    report_.resampler_held_frames = post_.held_frames();
    report_.backend = gen_->backend();
    report_.masking_backend = post_.masking_backend();
    report_.masking_failures = {post_.masking_failures(), post_.last_masking_failure()};
    report_.masking = post_.masking_stats();
    report_.loudness = post_.loudness_stats();
    return report_;
}

}  // namespace wavecast
