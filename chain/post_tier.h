// The post tier of a stream, after the lanes are mixed to stereo: frequency masking (a CUDA stage
// that fails is replaced by the CPU's in the same block), broadcast loudness (automatic gain to
// the target, the stream's trim, the true-peak limiter), and resampling from the model's rate to
// JACK's. One block in, the block at the output rate appended out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <soxr.h>

#include "chain/loudness.h"
#include "kernels/masking.h"

namespace wavecast {

class PostTier {
public:
    PostTier(std::unique_ptr<Masking> masking, int model_rate, int output_rate, const LoudnessConfig& loudness);
    ~PostTier();
    PostTier(const PostTier&) = delete;
    PostTier& operator=(const PostTier&) = delete;

    // Takes effect at the next block; the resampler restarts (a rate change is a discontinuity anyway).
    void set_output_rate(int rate);
    // soxr's medium quality rather than high: it holds back 7.5 ms at 48 kHz rather than about 11
    // (a live profile's choice; see config/live.toml). Before the first block.
    void set_fast_resampler(bool on) {
        fast_resampler_ = on;
        set_output_rate(out_rate_);
    }
    int output_rate() const { return out_rate_; }

    // Interleaved stereo at the model rate, `frames` frames (changed in place: masking and
    // loudness work on it), appended to `out` at the output rate. The resampler's delay means the
    // first blocks may append fewer frames.
    void process(std::vector<float>& stereo, size_t frames, double masking_db, double gain_db, std::vector<float>& out);

    // How far the audio of a model sample trails it at the output, in output frames (the
    // resampler keeps time; masking and the limiter each delay by a fixed latency).
    double delay_frames() const;
    // Its parts, in model frames: the masking stage's window and the limiter's look-ahead.
    int masking_latency() const { return masking_->latency(); }
    int limiter_latency() const { return loudness_.latency(); }
    // Output frames the resampler holds back now, waiting for more input: what its input so far
    // gives at the output rate less what it has put out (soxr_delay() counts its filter's own).
    double held_frames() const {
        return soxr_ ? static_cast<double>(in_total_) * out_rate_ / model_rate_ - static_cast<double>(out_total_) : 0.0;
    }
    // Output frames for `frames` model frames, rounded up: a bound for sizing buffers.
    size_t max_output_frames(size_t frames) const;

    // What blocks of up to `frames` model frames need, made now (Masking::reserve).
    void reserve(size_t frames) { masking_->reserve(frames); }
    const char* masking_backend() const { return masking_->backend(); }
    uint64_t masking_failures() const { return masking_failures_; }
    const std::string& last_masking_failure() const { return last_masking_failure_; }
    MaskingStats masking_stats() const { return masking_->stats(); }
    const LoudnessStats& loudness_stats() const { return loudness_.stats(); }

private:
    void mask(const float* in, float* out, size_t frames, float masking_db);

    const int model_rate_;
    int out_rate_ = 0;
    std::unique_ptr<Masking> masking_;
    uint64_t masking_failures_ = 0;
    std::string last_masking_failure_;
    Loudness loudness_;
    soxr_t soxr_ = nullptr;
    uint64_t in_total_ = 0, out_total_ = 0;  // frames into and out of this resampler
    bool fast_resampler_ = false;
    std::vector<float> masked_, resampled_;
};

}  // namespace wavecast
