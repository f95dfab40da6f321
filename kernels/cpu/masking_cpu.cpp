// The masking stage on the CPU with FFTW (single precision). Per channel and hop: window the last
// N samples, R2C, power in dB SPL, the psychoacoustic threshold, gains, C2R, window, overlap-add.
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/vec.h"
#include "kernels/masking.h"
#include "kernels/psychoacoustic.h"

namespace wavecast {
namespace {

// FFTW's planner is not thread-safe; plans are made once per stage under this lock.
std::mutex g_fftw_planner;

// A bin whose level is more than this below threshold + masking_db is removed entirely; between
// that and the threshold its gain falls linearly (in amplitude), a soft knee that avoids the
// on/off flicker of single bins ("musical noise"). The whole knee lies below the threshold, so
// what is removed is always below it.
constexpr float kKneeDb = 6.0f;
// Per frame a bin's gain may fall to at most this share of the last frame's gain: removal fades
// in over a few frames instead of gating abruptly.
constexpr float kRelease = 0.5f;

class MaskingCpu final : public Masking {
public:
    MaskingCpu(int sample_rate, int channels)
        : ch_(channels), n_(masking_fft_size(sample_rate)), hop_(n_ / 2), bins_(n_ / 2 + 1), tables_(make_psycho_tables(sample_rate, n_)) {
        if (channels < 1 || channels > 16) throw std::invalid_argument("masking: 1..16 channels");
        window_ = masking_window(n_);
        power_offset_db_ = masking_power_offset_db(n_);
        frame_.assign(static_cast<size_t>(ch_) * n_, 0.0f);
        ola_.assign(static_cast<size_t>(ch_) * n_, 0.0f);
        outq_.assign(static_cast<size_t>(ch_) * hop_, 0.0f);
        gain_.assign(static_cast<size_t>(ch_) * bins_, 1.0f);
        power_.resize(static_cast<size_t>(bins_));
        thr_.resize(static_cast<size_t>(bins_));
        time_ = fftwf_alloc_real(static_cast<size_t>(n_));
        spec_ = fftwf_alloc_complex(static_cast<size_t>(bins_));
        std::lock_guard lock(g_fftw_planner);
        // ESTIMATE, not MEASURE: a measured plan may differ from run to run, and renders must be
        // reproducible bit for bit.
        fwd_ = fftwf_plan_dft_r2c_1d(n_, time_, spec_, FFTW_ESTIMATE);
        inv_ = fftwf_plan_dft_c2r_1d(n_, spec_, time_, FFTW_ESTIMATE);
    }

    ~MaskingCpu() override {
        std::lock_guard lock(g_fftw_planner);
        fftwf_destroy_plan(fwd_);
        fftwf_destroy_plan(inv_);
        fftwf_free(time_);
        fftwf_free(spec_);
    }

    int latency() const override { return n_; }
    int fft_size() const override { return n_; }
    const char* backend() const override { return "cpu"; }
    MaskingStats stats() const override { return MaskingStats::from_counts(frames_, ch_, bins_seen_, bins_discarded_, pe_sum_); }

    void process(const float* in, float* out, size_t frames, float masking_db) override {
        size_t done = 0;
        while (done < frames) {
            const size_t take = std::min(frames - done, static_cast<size_t>(hop_ - pending_));
            for (int c = 0; c < ch_; ++c) {
                float* f = &frame_[static_cast<size_t>(c) * n_ + (n_ - hop_) + pending_];
                const float* q = &outq_[static_cast<size_t>(c) * hop_ + pending_];
                for (size_t i = 0; i < take; ++i) {
                    f[i] = in[(done + i) * ch_ + c];
                    out[(done + i) * ch_ + c] = q[i];
                }
            }
            pending_ += static_cast<int>(take);
            done += take;
            if (pending_ == hop_) {
                for (int c = 0; c < ch_; ++c) analyse_and_resynthesise(c, masking_db);
                ++frames_;
                pending_ = 0;
            }
        }
    }

private:
    void analyse_and_resynthesise(int c, float masking_db) {
        float* frame = &frame_[static_cast<size_t>(c) * n_];
        float* ola = &ola_[static_cast<size_t>(c) * n_];
        float* gain = &gain_[static_cast<size_t>(c) * bins_];
        for (int i = 0; i < n_; ++i) time_[i] = frame[i] * window_[i];
        fftwf_execute(fwd_);
        for (int k = 0; k < bins_; ++k) {
            const float p = spec_[k][0] * spec_[k][0] + spec_[k][1] * spec_[k][1];
            power_[k] = power_offset_db_ + 10.0f * log10_approx(p + 1e-30f);
        }
        masking_threshold(tables_, power_.data(), thr_.data(), scratch_);
        double pe = 0;
        for (int k = 0; k < bins_; ++k) {
            // Perceptual entropy after Johnston: the bits to code the bin to within its threshold.
            // (amplitude over threshold amplitude: 10^(dB/20) = e^(dB ln10 / 20))
            pe += log2_approx(1.0f + vec::exp_approx((power_[k] - thr_[k]) * 0.115129255f));
            float g = 1.0f;
            if (masking_db > kMaskingBypassDb) {
                const float margin = power_[k] - (thr_[k] + masking_db);
                const float target = std::clamp(1.0f + margin / kKneeDb, 0.0f, 1.0f);
                g = std::max(target, gain[k] * kRelease);
            }
            gain[k] = g;
            bins_discarded_ += g < 0.5f;
            spec_[k][0] *= g;
            spec_[k][1] *= g;
        }
        bins_seen_ += static_cast<uint64_t>(bins_);
        pe_sum_ += pe;
        fftwf_execute(inv_);  // unnormalised: scaled by N below
        const float scale = 1.0f / static_cast<float>(n_);
        for (int i = 0; i < n_; ++i) ola[i] += time_[i] * window_[i] * scale;
        std::copy_n(ola, hop_, &outq_[static_cast<size_t>(c) * hop_]);
        std::copy(ola + hop_, ola + n_, ola);
        std::fill(ola + (n_ - hop_), ola + n_, 0.0f);
        std::copy(frame + hop_, frame + n_, frame);
    }

    const int ch_, n_, hop_, bins_;
    const PsychoTables tables_;
    PsychoScratch scratch_;
    std::vector<float> window_, frame_, ola_, outq_, gain_, power_, thr_;
    float power_offset_db_ = 0;
    int pending_ = 0;
    uint64_t frames_ = 0, bins_seen_ = 0, bins_discarded_ = 0;
    double pe_sum_ = 0;
    float* time_ = nullptr;
    fftwf_complex* spec_ = nullptr;
    fftwf_plan fwd_ = nullptr, inv_ = nullptr;
};

}  // namespace

std::vector<float> masking_window(int n) {
    std::vector<float> w(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) w[static_cast<size_t>(i)] = static_cast<float>(std::sqrt(0.5 * (1.0 - std::cos(2.0 * M_PI * i / n))));
    return w;
}

float masking_power_offset_db(int n) { return 96.0f - 10.0f * std::log10(static_cast<float>(n) * static_cast<float>(n) / 8.0f); }

int masking_fft_size(int sample_rate) {
    int n = 256;
    while (n < sample_rate * 0.0213) n *= 2;
    return n;
}

std::unique_ptr<Masking> make_cpu_masking(int sample_rate, int channels) { return std::make_unique<MaskingCpu>(sample_rate, channels); }

namespace {
class NoMasking final : public Masking {
public:
    explicit NoMasking(int channels) : channels_(channels) {}
    void process(const float* in, float* out, size_t frames, float) override {
        std::copy_n(in, frames * static_cast<size_t>(channels_), out);
    }
    int latency() const override { return 0; }
    int fft_size() const override { return 0; }
    const char* backend() const override { return "off"; }
    MaskingStats stats() const override { return {}; }

private:
    int channels_;
};
}  // namespace

std::unique_ptr<Masking> make_no_masking(int channels) { return std::make_unique<NoMasking>(channels); }

}  // namespace wavecast
