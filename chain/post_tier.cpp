#include "chain/post_tier.h"

#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace wavecast {

PostTier::PostTier(std::unique_ptr<Masking> masking, int model_rate, int output_rate, const LoudnessConfig& loudness)
    : model_rate_(model_rate), masking_(std::move(masking)), loudness_(model_rate, loudness) {
    set_output_rate(output_rate);
}

PostTier::~PostTier() {
    if (soxr_) soxr_delete(soxr_);
}

void PostTier::set_output_rate(int rate) {
    if (rate < 8000 || rate > 384000) throw std::invalid_argument("output rate " + std::to_string(rate) + " Hz is out of range");
    if (soxr_) soxr_delete(soxr_);
    soxr_ = nullptr;
    in_total_ = out_total_ = 0;
    out_rate_ = rate;
    if (rate == model_rate_) return;
    soxr_error_t err = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q = soxr_quality_spec(fast_resampler_ ? SOXR_MQ : SOXR_HQ, 0);
    // soxr works its filter in DFT blocks and gives nothing back until one fills: at its default
    // sizes (2^10 to 2^17) what it held at 16 -> 48 kHz averaged 21 ms (MQ) and 45 ms (HQ), every
    // knob heard that much later. The smallest blocks halve that for the same output (equal to
    // float rounding) at well under 0.1% of a core (benchmarks/RESULTS.md, "Latency").
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    runtime.log2_min_dft_size = 8;
    runtime.log2_large_dft_size = 8;
    soxr_ = soxr_create(model_rate_, rate, 2, &err, &io, &q, &runtime);
    if (err) throw std::runtime_error(std::string("soxr_create: ") + err);
    // soxr trims its filter's delay from the start of its output: output frame k is input time
    // k / ratio. What soxr_delay() reports is how much it holds back while it waits for input,
    // which delays nothing in the stream's own frame count (the ring's); so it adds nothing
    // to the MIDI out delay.
}

double PostTier::delay_frames() const {
    const double ratio = static_cast<double>(out_rate_) / model_rate_;
    return (masking_->latency() + loudness_.latency()) * ratio;
}

// Room for what soxr holds besides the block itself: given only the block's own length, it kept
// its output back in its internal chunks, and what it held grew to 30 ms at 48 kHz where it needs
// 11 (a live knob heard 19 ms later than it could be; found by benchmarks/latency.sh).
size_t PostTier::max_output_frames(size_t frames) const {
    const double ratio = static_cast<double>(out_rate_) / model_rate_;
    return static_cast<size_t>(std::ceil(static_cast<double>(frames) * ratio)) + 2048;
}

void PostTier::mask(const float* in, float* out, size_t frames, float masking_db) {
    try {
        masking_->process(in, out, frames, masking_db);
        return;
    } catch (const std::exception& e) {
        if (std::string(masking_->backend()) == "cpu") throw;
        ++masking_failures_;
        last_masking_failure_ = e.what();
        spdlog::error("masking on {} failed ({}); falling back to the CPU", masking_->backend(), e.what());
    }
    // The CPU stage has the same window and latency: the block it starts on is its first, so it
    // fades in from silence over one FFT, a short dip rather than a stream gone silent.
    masking_ = make_cpu_masking(model_rate_, 2);
    masking_->process(in, out, frames, masking_db);
}

void PostTier::process(std::vector<float>& stereo, size_t frames, double masking_db, double gain_db, std::vector<float>& out) {
    masked_.resize(2 * frames);
    mask(stereo.data(), masked_.data(), frames, static_cast<float>(masking_db));
    loudness_.process(masked_.data(), frames, gain_db);
    if (!soxr_) {
        out.insert(out.end(), masked_.begin(), masked_.begin() + static_cast<std::ptrdiff_t>(2 * frames));
        return;
    }
    resampled_.resize(2 * max_output_frames(frames));
    size_t done_in = 0, done_out = 0;
    const soxr_error_t err = soxr_process(soxr_, masked_.data(), frames, &done_in, resampled_.data(), resampled_.size() / 2, &done_out);
    if (err) throw std::runtime_error(std::string("soxr_process: ") + err);
    in_total_ += done_in, out_total_ += done_out;
    out.insert(out.end(), resampled_.begin(), resampled_.begin() + static_cast<std::ptrdiff_t>(2 * done_out));
}

}  // namespace wavecast
