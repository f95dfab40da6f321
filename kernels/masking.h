// The frequency-masking stage: streaming STFT (sqrt-Hann, 50 % overlap, perfect reconstruction),
// the psychoacoustic model's threshold per frame and channel, and removal of what lies below
// threshold + masking_db. One interface; cpu/ (FFTW) is the reference, cuda/ (cuFFT) follows it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace wavecast {

// masking_db at or below this bypasses the gains: the STFT/ISTFT path alone, which reconstructs
// its input to float rounding, with the same latency.
inline constexpr float kMaskingBypassDb = -90.0f;

struct MaskingStats {
    uint64_t frames = 0;            // STFT frames analysed, per channel
    double discarded_share = 0;     // of bins removed (gain below 0.5), over all frames so far
    double perceptual_entropy = 0;  // bits per frame and channel, mean over all frames so far
};

class Masking {
public:
    virtual ~Masking() = default;

    // Interleaved [frames][channels] in and out; the output is the input delayed by latency()
    // with masked content removed. Any number of frames per call.
    virtual void process(const float* in, float* out, size_t frames, float masking_db) = 0;
    virtual int latency() const = 0;  // samples
    virtual int fft_size() const = 0;
    virtual MaskingStats stats() const = 0;
};

// The FFT size for a rate: about 21 ms, as the standard's 1024 points at 48 kHz.
int masking_fft_size(int sample_rate);

std::unique_ptr<Masking> make_cpu_masking(int sample_rate, int channels);
// The cuFFT backend. `channels` may span several streams (2 per stereo stream): one batch serves
// them all. Throws std::runtime_error when this build has no CUDA or no device answers.
std::unique_ptr<Masking> make_cuda_masking(int sample_rate, int channels);

}  // namespace wavecast
