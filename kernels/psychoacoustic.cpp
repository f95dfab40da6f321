#include "kernels/psychoacoustic.h"

#include <algorithm>
#include <cmath>

#include "kernels/fastmath.h"

namespace wavecast {
namespace {

// Upper edges of Zwicker's 24 critical bands, Hz.
constexpr double kBandEdges[] = {100,  200,  300,  400,  510,  630,  770,  920,  1080, 1270, 1480,  1720,
                                 2000, 2320, 2700, 3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500};

}  // namespace

double threshold_in_quiet_db(double hz) {
    const double f = std::max(hz, 20.0) / 1000.0;
    return 3.64 * std::pow(f, -0.8) - 6.5 * std::exp(-0.6 * (f - 3.3) * (f - 3.3)) + 1e-3 * f * f * f * f;
}

double hz_to_bark(double hz) { return 13.0 * std::atan(0.00076 * hz) + 3.5 * std::atan((hz / 7500.0) * (hz / 7500.0)); }

PsychoTables make_psycho_tables(int sample_rate, int fft_size) {
    PsychoTables t;
    t.sample_rate = sample_rate;
    t.fft_size = fft_size;
    t.bins = fft_size / 2 + 1;
    size_t band = 0;
    for (int k = 0; k < t.bins; ++k) {
        const double f = static_cast<double>(k) * sample_rate / fft_size;
        t.freq.push_back(static_cast<float>(f));
        t.bark.push_back(static_cast<float>(hz_to_bark(f)));
        // Above 20 kHz the curve climbs steeply (5000 dB at 48 kHz); 200 dB is as inaudible and
        // keeps its power inside float range.
        t.ath_db.push_back(static_cast<float>(std::min(threshold_in_quiet_db(f), 200.0)));
        // The standard's neighbourhoods (Annex D, for 48 kHz and 1024 points: 2, 2..3, 2..6,
        // 2..12 bins) expressed in frequency, so they hold for any rate and size.
        const double bin_hz = static_cast<double>(sample_rate) / fft_size;
        const double reach_hz = f < 2800 ? 2 * 46.875 : f < 5500 ? 3 * 46.875 : f < 11000 ? 6 * 46.875 : 12 * 46.875;
        t.tonal_reach.push_back(std::max(2, static_cast<int>(std::lround(reach_hz / bin_hz))));
        if (k == 0 || (band < std::size(kBandEdges) && f >= kBandEdges[band])) {
            if (k != 0) ++band;
            t.band_start.push_back(k);
        }
    }
    t.band_start.push_back(t.bins);
    return t;
}

void masking_threshold(const PsychoTables& t, const float* P, float* threshold_db, PsychoScratch& s) {
    const int n = t.bins;
    s.maskers.clear();
    s.claimed.assign(static_cast<size_t>(n), 0);
    s.thr_pow.resize(static_cast<size_t>(n));
    s.lin.resize(static_cast<size_t>(n));
    float* lin = s.lin.data();
#pragma omp simd
    for (int k = 0; k < n; ++k) lin[k] = db_to_pow(P[k]);

    // Tonal maskers: local maxima at least 7 dB above their neighbourhood; the masker's level
    // sums the peak and its two neighbours (the window's main lobe).
    for (int k = 2; k < n - 2; ++k) {
        if (!(P[k] > P[k - 1] && P[k] >= P[k + 1])) continue;
        const int reach = t.tonal_reach[static_cast<size_t>(k)];
        bool tonal = true;
        for (int j = 2; j <= reach && tonal; ++j) {
            if (k - j >= 0 && P[k] - P[k - j] < 7.0f) tonal = false;
            if (k + j < n && P[k] - P[k + j] < 7.0f) tonal = false;
        }
        if (!tonal) continue;
        const float level = 10.0f * std::log10(lin[k - 1] + lin[k] + lin[k + 1]);
        s.maskers.push_back({k, level, t.bark[static_cast<size_t>(k)], true});
        for (int j = std::max(0, k - reach); j <= std::min(n - 1, k + reach); ++j) s.claimed[static_cast<size_t>(j)] = 1;
    }
    // Noise maskers: per critical band, the power of the bins no tonal masker claimed, placed
    // at the band's geometric-mean frequency.
    for (size_t b = 0; b + 1 < t.band_start.size(); ++b) {
        const int lo = t.band_start[b], hi = t.band_start[b + 1];
        double sum = 0;
        for (int k = lo; k < hi; ++k)
            if (!s.claimed[static_cast<size_t>(k)]) sum += lin[k];
        if (sum <= 0) continue;
        const double f_lo = std::max<double>(t.freq[static_cast<size_t>(lo)], t.freq[1]), f_hi = t.freq[static_cast<size_t>(hi - 1)];
        const double centre = std::sqrt(f_lo * std::max(f_hi, f_lo));
        const int bin = std::clamp(static_cast<int>(std::lround(centre * t.fft_size / t.sample_rate)), lo, hi - 1);
        s.maskers.push_back({bin, static_cast<float>(10.0 * std::log10(sum)), t.bark[static_cast<size_t>(bin)], false});
    }
    // Decimation: maskers below the threshold in quiet go; of two tonal maskers closer than
    // 0.5 Bark only the stronger stays.
    auto& m = s.maskers;
    m.erase(std::remove_if(m.begin(), m.end(), [&](const Masker& x) { return x.level_db < t.ath_db[static_cast<size_t>(x.bin)]; }),
            m.end());
    for (size_t i = 0; i < m.size(); ++i) {
        if (!m[i].tonal || m[i].level_db == -1e30f) continue;
        for (size_t j = i + 1; j < m.size(); ++j) {
            if (!m[j].tonal || m[j].level_db == -1e30f || std::fabs(m[j].bark - m[i].bark) >= 0.5f) continue;
            (m[i].level_db >= m[j].level_db ? m[j] : m[i]).level_db = -1e30f;
        }
    }
    m.erase(std::remove_if(m.begin(), m.end(), [](const Masker& x) { return x.level_db == -1e30f; }), m.end());

    // Global threshold: the powers of the threshold in quiet and every individual threshold
    // LT = level + av(z) + vf(dz, level) add up.
    float* thr = s.thr_pow.data();
    for (int k = 0; k < n; ++k) thr[k] = db_to_pow(t.ath_db[static_cast<size_t>(k)]);
    for (const Masker& x : m) {
        const int lo = static_cast<int>(std::lower_bound(t.bark.begin(), t.bark.end(), x.bark + kSpreadLow) - t.bark.begin());
        const int hi = static_cast<int>(std::lower_bound(t.bark.begin(), t.bark.end(), x.bark + kSpreadHigh) - t.bark.begin());
        // Locals, and thr restrict: thr may not alias the masker, so the loop vectorises.
        const float bark = x.bark, level = x.level_db, base = level + masking_index(x.tonal, bark);
        const float* z = t.bark.data();
        float* __restrict out = thr;
#pragma omp simd
        for (int k = lo; k < hi; ++k) out[k] += db_to_pow(base + spreading(z[k] - bark, level));
    }
#pragma omp simd
    for (int k = 0; k < n; ++k) threshold_db[k] = 10.0f * log10_approx(thr[k]);
}

}  // namespace wavecast
