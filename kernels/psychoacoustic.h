// Psychoacoustic model 1 of ISO/IEC 11172-3 (MPEG-1 audio, Annex D), evaluated at every FFT bin
// rather than the standard's subsampled frequencies. Given one frame's power spectrum in dB SPL
// (calibrated so that a full-scale sine is 96 dB, the standard's convention), it gives the global
// masking threshold per bin. This CPU code is the definition the CUDA masking kernels follow.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/host_device.h"

namespace wavecast {

// Per (sample rate, FFT size): each bin's frequency, Bark and threshold in quiet, and the
// neighbourhoods of the tonal-masker search.
struct PsychoTables {
    int sample_rate = 0, fft_size = 0, bins = 0;
    std::vector<float> freq, bark, ath_db;
    std::vector<int> tonal_reach;  // largest neighbour distance a tonal peak must dominate by 7 dB
    std::vector<int> band_start;   // first bin of each critical band, plus bins at the end
};

PsychoTables make_psycho_tables(int sample_rate, int fft_size);

// Threshold in quiet (Terhardt, the curve behind the standard's tables), dB SPL at `hz`.
double threshold_in_quiet_db(double hz);
// Zwicker and Terhardt's critical-band rate, Bark.
double hz_to_bark(double hz);

struct Masker {
    int bin;
    float level_db;  // sound pressure level of the masker
    float bark;
    bool tonal;
};

// Scratch so the per-frame call allocates nothing once warmed up.
struct PsychoScratch {
    std::vector<Masker> maskers;
    std::vector<uint8_t> claimed;  // bins owned by a tonal masker, excluded from noise maskers
    std::vector<float> thr_pow;
    std::vector<float> lin;  // the frame's power per bin, linear
};

// power_db[bins] (dB SPL) -> threshold_db[bins] (dB SPL). Maskers found are left in scratch.
void masking_threshold(const PsychoTables& t, const float* power_db, float* threshold_db, PsychoScratch& scratch);

// The standard's masking index av(z) and spreading function vf(dz, level), in dB.
WC_HOST_DEVICE inline float masking_index(bool tonal, float z) { return tonal ? -1.525f - 0.275f * z - 4.5f : -1.525f - 0.175f * z - 0.5f; }
WC_HOST_DEVICE inline float spreading(float dz, float level_db) {
    if (dz < -1.0f) return 17.0f * (dz + 1.0f) - (0.4f * level_db + 6.0f);
    if (dz < 0.0f) return (0.4f * level_db + 6.0f) * dz;
    if (dz < 1.0f) return -17.0f * dz;
    return -(dz - 1.0f) * (17.0f - 0.15f * level_db) - 17.0f;
}
// The spreading function is zero (−inf dB) outside this range of Bark distances.
inline constexpr float kSpreadLow = -3.0f, kSpreadHigh = 8.0f;

}  // namespace wavecast
