#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/excitation.h"
#include "kernels/frame_features.h"

using namespace wavecast;

namespace {

struct Note {
    int pitch;
    double velocity;
    uint64_t start;  // the sample its phase counts from
};

// The excitation of some notes at sample n, in double and from the formula itself: the frequency
// from the pitch, the phase without reduction (exact enough for the n used here).
std::vector<double> reference(const std::vector<Note>& notes, uint64_t n, int harmonics, int rate) {
    std::vector<double> e(static_cast<size_t>(2 * harmonics), 0.0);
    for (const Note& note : notes)
        for (int h = 1; h <= harmonics; ++h) {
            const double hz = h * 440.0 * std::exp2((note.pitch - 69) / 12.0);
            if (2 * hz >= rate) continue;
            const double phase = 2 * M_PI * hz * static_cast<double>(n - note.start) / rate;
            e[static_cast<size_t>(2 * h - 2)] += note.velocity * std::sin(phase);
            e[static_cast<size_t>(2 * h - 1)] += note.velocity * std::cos(phase);
        }
    return e;
}

// A generator's view: frames fed in order to frame_notes, the channels read at sample n.
struct Lane {
    int harmonics, rate;
    std::vector<double> inc = excitation_increments(harmonics, rate);
    uint64_t started[kPitches];
    int pitch[kPitches], count = 0;
    float vel[kPitches];
    uint64_t start[kPitches];

    Lane(int h, int r) : harmonics(h), rate(r) { std::fill(started, started + kPitches, kSilent); }
    void frame(const float* features, uint64_t at) { count = frame_notes(features, at, started, pitch, vel, start); }
    std::vector<float> at(uint64_t n) const {
        std::vector<float> e(static_cast<size_t>(2 * harmonics));
        for (int j = 0; j < 2 * harmonics; ++j) e[static_cast<size_t>(j)] = excitation_channel(n, inc.data(), j, pitch, vel, start, count);
        return e;
    }
};

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol, const std::string& what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], tol) << what << ", channel " << j;
}

}  // namespace

// Random chords held over frames, some notes struck again, some released: every channel is the
// notes' pure tones, each counted from the start of the frame its note began in.
TEST(Excitation, IsTheNotesPureTonesFromTheirStarts) {
    std::mt19937 rng(std::random_device{}());
    const int hop = 160;
    for (int trial = 0; trial < 40; ++trial) {
        const int harmonics = 1 + static_cast<int>(rng() % kMaxExcitationHarmonics);
        const int rate = trial % 2 ? 16000 : 48000;
        Lane lane(harmonics, rate);
        std::vector<Note> held;  // what should be sounding, with its start
        for (int k = 0; k < 30; ++k) {
            const uint64_t at = static_cast<uint64_t>(k) * hop;
            std::vector<Note> next;
            float frame[kFrameFeatures];
            clear_frame(frame);
            for (const Note& n : held) {
                const uint32_t r = rng() % 10;
                if (r == 0) continue;       // released
                const bool again = r == 1;  // struck again: its phase starts over
                add_note(frame, n.pitch, static_cast<int>(std::lround(n.velocity * 127)), again, 0.1f);
                next.push_back({n.pitch, std::lround(n.velocity * 127) / 127.0, again ? at : n.start});
            }
            if (rng() % 3 == 0) {
                const int pitch = static_cast<int>(rng() % 128), v = 1 + static_cast<int>(rng() % 127);
                if (frame[kVelocityOffset + pitch] == 0.0f) {
                    add_note(frame, pitch, v, true, 0.0f);
                    next.push_back({pitch, v / 127.0, at});
                }
            }
            held = next;
            lane.frame(frame, at);
            for (uint64_t n : {at, at + 1 + rng() % (hop - 1)})
                expect_near(lane.at(n), reference(held, n, harmonics, rate), 2e-5 * (held.size() + 1),
                            "frame " + std::to_string(k) + ", " + std::to_string(harmonics) + " harmonics at " + std::to_string(rate));
        }
    }
}

// A note that sounds without an onset flag, after silence (or in the first frame a generator
// sees), starts there; one that goes on sounding keeps its phase.
TEST(Excitation, ANoteWithoutAnOnsetStartsWhereItFirstSounds) {
    Lane lane(2, 16000);
    float frame[kFrameFeatures];
    clear_frame(frame);
    frame[kVelocityOffset + 57] = 1.0f;  // sounding, no onset flag: a generator joining mid-note
    lane.frame(frame, 800);
    ASSERT_EQ(lane.count, 1);
    EXPECT_EQ(lane.start[0], 800u);
    lane.frame(frame, 960);
    EXPECT_EQ(lane.start[0], 800u) << "a held note keeps its start";
    expect_near(lane.at(1000), reference({{57, 1.0, 800}}, 1000, 2, 16000), 1e-5, "held");
    clear_frame(frame);
    lane.frame(frame, 1120);
    EXPECT_EQ(lane.count, 0);
    frame[kVelocityOffset + 57] = 0.5f;
    lane.frame(frame, 1280);
    EXPECT_EQ(lane.start[0], 1280u) << "after silence the note starts again";
}

TEST(Excitation, LeavesOutHarmonicsAtOrAboveHalfTheRate) {
    Lane lane(3, 16000);
    float frame[kFrameFeatures];
    clear_frame(frame);
    add_note(frame, 105, 127, true, 0.0f);  // A7, 3520 Hz: its second harmonic, 7040 Hz, is below 8 kHz
    add_note(frame, 108, 127, true, 0.0f);  // C8, 4186 Hz: the second harmonic, 8372 Hz, is above
    EXPECT_GT(lane.inc[1 * kPitches + 105], 0.0);
    EXPECT_EQ(lane.inc[1 * kPitches + 108], 0.0);
    EXPECT_EQ(lane.inc[2 * kPitches + 105], 0.0);  // 10560 Hz
    lane.frame(frame, 0);
    const auto e = lane.at(37);
    expect_near(e, reference({{105, 1.0, 0}, {108, 1.0, 0}}, 37, 3, 16000), 1e-5, "two high notes");
    EXPECT_EQ(e[4], 0.0f);
    EXPECT_EQ(e[5], 0.0f);
}

TEST(Excitation, SilenceHasNone) {
    Lane lane(4, 16000);
    float frame[kFrameFeatures];
    clear_frame(frame);
    frame[kActiveOffset] = 1.0f;  // "a note sounds" with no velocity anywhere: nothing to play
    lane.frame(frame, 0);
    for (float v : lane.at(77)) EXPECT_EQ(v, 0.0f);
}

// A day into a stream, a note struck then is as in tune as one struck at the start.
TEST(Excitation, StaysInTuneFarIntoAStream) {
    const uint64_t day = 16000ull * 86400;
    Lane early(1, 16000), late(1, 16000);
    float frame[kFrameFeatures];
    clear_frame(frame);
    add_note(frame, 69, 127, true, 0.0f);
    early.frame(frame, 0);
    late.frame(frame, day);
    for (uint64_t t : {0ull, 17ull, 12345ull}) {
        const auto a = early.at(t), b = late.at(day + t);
        EXPECT_EQ(a, b) << t;
    }
    expect_near(late.at(day + 17), reference({{69, 1.0, day}}, day + 17, 1, 16000), 1e-5, "440 Hz");
}
