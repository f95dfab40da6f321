// The frequency-masking stage: streaming STFT (sqrt-Hann, 50 % overlap, perfect reconstruction),
// the psychoacoustic model's threshold per frame and channel, and removal of what lies below
// threshold + masking_db. One interface; cpu/ (FFTW) is the reference, cuda/ (cuFFT) follows it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace wavecast {

// masking_db at or below this bypasses the gains: the STFT/ISTFT path alone, which reconstructs
// its input to float rounding, with the same latency.
inline constexpr float kMaskingBypassDb = -90.0f;

struct MaskingStats {
    uint64_t frames = 0;            // STFT frames analysed, per channel
    double discarded_share = 0;     // of bins removed (gain below 0.5), over all frames so far
    double perceptual_entropy = 0;  // bits per frame and channel, mean over all frames so far

    // From a stage's running counts: bins seen and removed, and the sum of per-frame entropies.
    static MaskingStats from_counts(uint64_t frames, int channels, uint64_t bins_seen, uint64_t bins_removed, double pe_sum) {
        return {frames, bins_seen ? static_cast<double>(bins_removed) / static_cast<double>(bins_seen) : 0.0,
                frames ? pe_sum / (static_cast<double>(frames) * channels) : 0.0};
    }
};

// The analysis and synthesis window of both backends: sqrt of the periodic Hann, whose squares
// at 50 % overlap sum to one (perfect reconstruction).
std::vector<float> masking_window(int fft_size);
// Calibration: a full-scale sine (amplitude 1) has one-sided spectral power N^2/8 through that
// window (Parseval, with sum(w^2) = N/2); that power is 96 dB SPL, the standard's convention.
// Returns what to add to 10 log10(|X|^2) to get dB SPL.
float masking_power_offset_db(int fft_size);

class Masking {
public:
    virtual ~Masking() = default;

    // Interleaved [frames][channels] in and out; the output is the input delayed by latency()
    // with masked content removed. Any number of frames per call.
    virtual void process(const float* in, float* out, size_t frames, float masking_db) = 0;
    virtual int latency() const = 0;  // samples
    virtual int fft_size() const = 0;
    virtual const char* backend() const = 0;  // "cpu" or "cuda"
    virtual MaskingStats stats() const = 0;
    // Makes ready what calls of up to `frames` frames need (plans, buffers), so that none is made
    // on the block path: a stream calls it once, before its producer starts. The CPU's needs none.
    virtual void reserve(size_t frames) { (void)frames; }
};

// The FFT size for a rate: about 21 ms, as the standard's 1024 points at 48 kHz.
int masking_fft_size(int sample_rate);

std::unique_ptr<Masking> make_cpu_masking(int sample_rate, int channels);
// No masking: the input passed on at once (latency 0), for a live set where every millisecond
// from a knob to the ear counts; masking_db does nothing there.
std::unique_ptr<Masking> make_no_masking(int channels);
// The cuFFT backend. `channels` may span several streams (2 per stereo stream): one batch serves
// them all. Throws std::runtime_error when this build has no CUDA or no device answers.
std::unique_ptr<Masking> make_cuda_masking(int sample_rate, int channels);

}  // namespace wavecast
