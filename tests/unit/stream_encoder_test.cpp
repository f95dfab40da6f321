// The network outputs' encoders hold little audio back: what a listener could decode from the
// bytes out so far trails what went in by a fraction of a second, so a station's stream is
// close to live and a listener joining a fresh source hears almost all of the time they listen.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "output/stream_encoder.h"
#include "tests/unit/decode_audio.h"

using namespace wavecast;
using namespace wavecast::test;

namespace {

constexpr int kRate = 48000;

// A 440 Hz tone, written in 512-frame pieces (the daemon pushes a few ms at a time); every
// quarter second, the most audio decoded from the bytes out so far falls short of what was
// written by at most `max_lag_s`. Returns the largest shortfall seen, in seconds.
double worst_lag_s(const std::string& format, double max_lag_s) {
    auto enc = make_stream_encoder(format, kRate, 128, "a title", "wavecast test");
    std::string bytes;
    std::vector<float> piece(2 * 512);
    size_t written = 0;
    double worst = 0;
    for (int p = 0; written < 4 * kRate; ++p) {
        for (size_t i = 0; i < 512; ++i)
            piece[2 * i] = piece[2 * i + 1] = 0.5f * static_cast<float>(std::sin(2 * M_PI * 440.0 * (written + i) / kRate));
        enc->encode(piece.data(), 512, bytes);
        written += 512;
        if (written < kRate / 2 || p % 24 != 0) continue;
        int rate = kRate;
        const std::vector<float> pcm = format == "opus" ? decode_opus(bytes) : decode_mp3(bytes, rate);
        EXPECT_EQ(rate, kRate);
        const double lag = (static_cast<double>(written) - static_cast<double>(pcm.size() / 2)) / kRate;
        EXPECT_LE(lag, max_lag_s) << format << " after " << static_cast<double>(written) / kRate << " s written";
        EXPECT_LT(longest_quiet_s(pcm, kRate), 0.1) << format << ": the tone, not silence";
        worst = std::max(worst, lag);
    }
    return worst;
}

}  // namespace

// libopusenc holds 2 s of input by default before deciding how to encode it (its "decision
// delay"), and a page up to its muxing delay (200 ms here): a listener would trail by more than 2 s.
TEST(StreamEncoder, OpusPagesTrailTheAudioByAQuarterSecondAtMost) {
    std::printf("Opus: at most %.3f s behind\n", worst_lag_s("opus", 0.25));
}

TEST(StreamEncoder, Mp3FramesTrailTheAudioByAQuarterSecondAtMost) { std::printf("MP3: at most %.3f s behind\n", worst_lag_s("mp3", 0.25)); }
