#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "excitation.h"
#include "frame_features.h"

using namespace wavecast;

namespace {

// The excitation of one frame's notes at sample n, in double and from the formula itself: the
// frequency from the pitch, the phase without reduction (exact enough for the n used here).
std::vector<double> reference(const std::vector<std::pair<int, double>>& notes, uint64_t n, int harmonics, int rate) {
    std::vector<double> e(static_cast<size_t>(2 * harmonics), 0.0);
    for (auto [pitch, v] : notes)
        for (int h = 1; h <= harmonics; ++h) {
            const double hz = h * 440.0 * std::exp2((pitch - 69) / 12.0);
            if (2 * hz >= rate) continue;
            e[static_cast<size_t>(2 * h - 2)] += v * std::sin(2 * M_PI * hz * static_cast<double>(n) / rate);
            e[static_cast<size_t>(2 * h - 1)] += v * std::cos(2 * M_PI * hz * static_cast<double>(n) / rate);
        }
    return e;
}

std::vector<float> computed(const float* frame, uint64_t n, int harmonics, int rate) {
    const auto inc = excitation_increments(harmonics, rate);
    int pitch[kPitches];
    float vel[kPitches];
    const int count = sounding_pitches(frame, pitch, vel);
    std::vector<float> e(static_cast<size_t>(2 * harmonics));
    for (int j = 0; j < 2 * harmonics; ++j) e[static_cast<size_t>(j)] = excitation_channel(n, inc.data(), j, pitch, vel, count);
    return e;
}

}  // namespace

TEST(Excitation, IsTheNotesPureTones) {
    std::mt19937 rng(std::random_device{}());
    for (int trial = 0; trial < 200; ++trial) {
        float frame[kFrameFeatures];
        clear_frame(frame);
        std::vector<std::pair<int, double>> notes;
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
            const int pitch = static_cast<int>(rng() % 128), vel = 1 + static_cast<int>(rng() % 127);
            if (frame[pitch] > 0) continue;
            add_note(frame, pitch, vel, rng() % 2, 0.0f);
            notes.emplace_back(pitch, vel / 127.0f);
        }
        const uint64_t n = rng() % 2000000;  // two minutes at 16 kHz
        const int harmonics = 1 + static_cast<int>(rng() % kMaxExcitationHarmonics);
        const int rate = trial % 2 ? 16000 : 48000;
        const auto want = reference(notes, n, harmonics, rate);
        const auto got = computed(frame, n, harmonics, rate);
        for (size_t j = 0; j < want.size(); ++j)
            ASSERT_NEAR(got[j], want[j], 2e-5 * notes.size()) << "channel " << j << " at n " << n << ", " << harmonics << " harmonics, rate " << rate;
    }
}

TEST(Excitation, LeavesOutHarmonicsAtOrAboveHalfTheRate) {
    float frame[kFrameFeatures];
    clear_frame(frame);
    add_note(frame, 105, 127, true, 0.0f);  // A7, 3520 Hz: its second harmonic, 7040 Hz, is below 8 kHz
    add_note(frame, 108, 127, true, 0.0f);  // C8, 4186 Hz: the second harmonic, 8372 Hz, is above 8 kHz
    const auto inc = excitation_increments(3, 16000);
    EXPECT_GT(inc[1 * kPitches + 105], 0.0);
    EXPECT_EQ(inc[1 * kPitches + 108], 0.0);
    EXPECT_EQ(inc[2 * kPitches + 105], 0.0);  // 10560 Hz
    const auto e = computed(frame, 12345, 3, 16000);
    const auto want = reference({{105, 1.0}, {108, 1.0}}, 12345, 3, 16000);
    for (size_t j = 0; j < e.size(); ++j) EXPECT_NEAR(e[j], want[j], 1e-5) << j;
    EXPECT_EQ(e[4], 0.0f);
    EXPECT_EQ(e[5], 0.0f);
}

TEST(Excitation, SilenceHasNone) {
    float frame[kFrameFeatures];
    clear_frame(frame);
    frame[kActiveOffset] = 1.0f;  // "a note sounds" with no velocity anywhere: nothing to play
    for (float v : computed(frame, 777, 4, 16000)) EXPECT_EQ(v, 0.0f);
}

// The phase is a function of n alone: a day into a stream the tone is still the formula's, to
// the precision the double cycle count gives (2^-23 of a cycle at this n).
TEST(Excitation, StaysInTuneFarIntoAStream) {
    float frame[kFrameFeatures];
    clear_frame(frame);
    add_note(frame, 69, 127, false, 0.0f);
    const uint64_t day = 16000ull * 86400;
    const auto e = computed(frame, day + 17, 1, 16000);
    // 440 Hz at 16 kHz: 11/400 of a cycle per sample, so n = day + 17 is 17 * 11 / 400 cycles on
    // from a whole number of cycles (day * 11 / 400 = 38,016,000 exactly).
    const double phase = 2 * M_PI * (17.0 * 11.0 / 400.0);
    EXPECT_NEAR(e[0], std::sin(phase), 1e-5);
    EXPECT_NEAR(e[1], std::cos(phase), 1e-5);
}
