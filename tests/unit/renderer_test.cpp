// The renderer (chain/): a stream's chain block by block, its crossfades and blends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "chain/renderer.h"
#include "kernels/frame_features.h"
#include "kernels/generator.h"
#include "kernels/masking.h"
#include "score/style.h"

using namespace wavecast;

namespace {

const std::map<std::string, std::shared_ptr<const Style>>& styles() {
    static const auto s = load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    return s;
}

constexpr int kRate = 16000, kLanes = 4;

// White noise on every lane, as a network whose every draw is independent, with the spec of a
// model trained pre-emphasised by `a`.
class NoiseGenerator : public Generator {
public:
    explicit NoiseGenerator(float a) : spec_(named_shape("tiny")) { spec_.pre_emphasis = a; }
    const ModelSpec& spec() const override { return spec_; }
    int lanes() const override { return kLanes; }
    std::string backend() const override { return "noise"; }
    void set_instruments(const float*) override {}
    void set_tail_cut(const float*) override {}
    void generate(const float*, const float*, int frames, float* out) override {
        const size_t n = static_cast<size_t>(frames) * spec_.frame_hop * kLanes;
        for (size_t i = 0; i < n; ++i) out[i] = noise_(rng_);
        position_ += static_cast<uint64_t>(frames) * spec_.frame_hop;
    }
    uint64_t position() const override { return position_; }

private:
    ModelSpec spec_;
    std::mt19937 rng_{std::random_device{}()};
    std::uniform_real_distribution<float> noise_{-0.05f, 0.05f};
    uint64_t position_ = 0;
};

// Silence, and what temperature each frame of each lane was drawn at ([call][frame][lane]).
class TemperatureRecorder : public Generator {
public:
    TemperatureRecorder() : spec_(named_shape("tiny")) {}
    const ModelSpec& spec() const override { return spec_; }
    int lanes() const override { return kLanes; }
    std::string backend() const override { return "recorder"; }
    void set_instruments(const float*) override {}
    void set_tail_cut(const float*) override {}
    void generate(const float* features, const float* temperature, int frames, float* out) override {
        for (int k = 0; k < frames * kLanes; ++k) {
            active.push_back(features[static_cast<size_t>(k) * kFrameFeatures + kActiveOffset] > 0.0f);
            drawn_at.push_back(temperature[k]);
        }
        std::fill_n(out, static_cast<size_t>(frames) * spec_.frame_hop * kLanes, 0.0f);
        position_ += static_cast<uint64_t>(frames) * spec_.frame_hop;
    }
    uint64_t position() const override { return position_; }
    std::vector<char> active;     // [frame][lane], every frame rendered
    std::vector<float> drawn_at;  // likewise

private:
    ModelSpec spec_;
    uint64_t position_ = 0;
};

}  // namespace

// A lane draws at the stream's temperature until its newest note has sounded kAttackSeconds, then
// at no more than the sustain temperature, and at the stream's again from the next note.
TEST(Renderer, ANoteIsDrawnAtTheTemperatureForItsAttackThenAtTheSustainTemperature) {
    for (double sustain : {0.0, 0.3, 4.0}) {
        SCOPED_TRACE(sustain);
        auto recorder = std::make_unique<TemperatureRecorder>();
        const TemperatureRecorder& rec = *recorder;
        Renderer r(std::move(recorder), make_cpu_masking(kRate, 2), styles().at("ambient"), kRate, 1);
        BlockParams p;
        p[Param::temperature] = 0.7, p[Param::sustain_temperature] = sustain, p[Param::intensity] = 0.6, p[Param::key] = -1;
        p[Param::seed] = 1, p[Param::tempo] = 120;  // a beat is 0.5 s, 50 frames
        // Lane 1: a note from 1 s to 2 s, the next at once to 2.5 s; lane 3: nothing.
        r.set_score(styles().at("ambient"), {{1, 48, 100, 2.0, 4.0}, {1, 50, 100, 4.0, 5.0}}, 16.0);
        std::vector<float> out;
        for (int i = 0; i < 23; ++i) r.render(7, p, out);  // 1.61 s, in blocks that split the attacks
        const float held = static_cast<float>(std::min(0.7, sustain));
        auto at = [&](int frame, int lane) { return rec.drawn_at[static_cast<size_t>(frame) * kLanes + lane]; };
        const int frames = static_cast<int>(rec.drawn_at.size()) / kLanes;
        ASSERT_EQ(frames, 161);
        std::vector<int> onsets;
        for (int k = 0; k < frames; ++k) {
            EXPECT_FLOAT_EQ(at(k, 3), 0.7f) << "frame " << k << " of a lane that plays nothing";
            if (rec.active[static_cast<size_t>(k) * kLanes + 1] && (k == 0 || !rec.active[static_cast<size_t>(k - 1) * kLanes + 1]))
                onsets.push_back(k);
        }
        ASSERT_EQ(onsets.size(), 1u);
        const int k0 = onsets[0];
        ASSERT_NEAR(k0, 100, 1) << "lane 1's first note should start at 1 s";
        // The held frames start where the note has sounded 0.1 s at the frame's start: 10 frames
        // on, or 11 where it starts within its first frame.
        auto first_held = [&](int from, int to) {
            for (int k = from; k < to; ++k)
                if (at(k, 1) != 0.7f) return k;
            return to;
        };
        for (int k = 0; k < k0; ++k) EXPECT_FLOAT_EQ(at(k, 1), 0.7f) << "frame " << k << ", before the note";
        const int h0 = sustain < 0.7 ? first_held(k0, frames) : k0 + 10;
        EXPECT_TRUE(h0 == k0 + 10 || h0 == k0 + 11) << "the attack lasted " << h0 - k0 << " frames";
        for (int k = h0; k < frames; ++k) EXPECT_FLOAT_EQ(at(k, 1), held) << "frame " << k << ", held";
        for (int i = 0; i < 70; ++i) r.render(1, p, out);  // to 2.31 s
        const int k1 = k0 + 100;                           // the next note, 1 s on
        EXPECT_FLOAT_EQ(at(k1 + 1, 1), 0.7f) << "the next note's attack";
        const int h1 = sustain < 0.7 ? first_held(k1 + 1, k1 + 20) : k1 + 10;
        EXPECT_TRUE(h1 == k1 + 10 || h1 == k1 + 11) << "the next note's attack lasted " << h1 - k1 << " frames";
        for (int k = h1; k < 231; ++k) EXPECT_FLOAT_EQ(at(k, 1), held) << "frame " << k << ", the next note held";
    }
}

// A model trained on pre-emphasised audio is de-emphasised on its way out: white noise from the
// generator leaves the chain as 1 / (1 - a z^-1) makes it, its lag-1 autocorrelation a.
TEST(Renderer, AModelTrainedPreEmphasisedIsDeEmphasised) {
    for (float a : {0.0f, 0.85f}) {
        SCOPED_TRACE(a);
        Renderer r(std::make_unique<NoiseGenerator>(a), make_cpu_masking(kRate, 2), styles().at("ambient"), kRate, 1);
        BlockParams p;
        p[Param::temperature] = 1.0, p[Param::intensity] = 0.6, p[Param::key] = -1, p[Param::seed] = 1;
        p[Param::tempo] = 120, p[Param::masking_db] = -100;  // masking bypassed
        std::vector<ScoreNote> notes;
        for (int lane = 0; lane < kLanes; ++lane) notes.push_back({lane, 48 + lane, 100, 0.0, 16.0});  // the gate open throughout
        r.set_score(styles().at("ambient"), notes, 16.0);
        std::vector<float> out;
        for (int i = 0; i < 150; ++i) r.render(4, p, out);  // 6 s
        double c0 = 0, c1 = 0;
        for (size_t i = static_cast<size_t>(1.5 * kRate); i < static_cast<size_t>(5.5 * kRate); ++i) {
            const double x = out[2 * i], prev = out[2 * i - 2];  // left channel
            c0 += x * x, c1 += x * prev;
        }
        ASSERT_GT(c0, 0.0);
        EXPECT_NEAR(c1 / c0, a, 0.03);
    }
}

TEST(Renderer, CrossfadeMorphsTempoAndInstrumentsAndBlendMixesThem) {
    auto model = std::make_shared<const Model>(random_model(named_shape("tiny"), 2));
    Renderer r(make_cpu_generator(model, kLanes, 1), make_cpu_masking(kRate, 2), styles().at("techno"), kRate, 1);
    std::vector<float> out;
    BlockParams p;
    p[Param::temperature] = 1.0, p[Param::intensity] = 0.6, p[Param::key] = -1, p[Param::seed] = 1;
    p[Param::tempo] = 128;
    const auto before = r.lane_instruments();
    for (int i = 0; i < 50; ++i) r.render(4, p, out);  // 2 s of techno
    StyleChange change{styles().at("ambient"), true, 4.0, {}};
    r.set_style(change);
    p[Param::tempo] = change.tempo();  // what the stream's tempo parameter becomes
    std::vector<double> tempos;
    bool morphing = false;
    for (int i = 0; i < 150; ++i) {  // 6 s
        tempos.push_back(r.render(4, p, out).tempo);
        const auto& w = r.lane_instruments();
        for (size_t k = 0; k < w.size(); ++k) morphing |= w[k] > 0.05f && w[k] < 0.95f;
    }
    EXPECT_TRUE(morphing) << "no lane was ever between two instruments";
    EXPECT_NEAR(tempos.back(), 72.0, 1e-9);
    bool between = false;
    for (double t : tempos) between |= t > 80 && t < 120;
    EXPECT_TRUE(between) << "the tempo jumped instead of moving from 128 to 72";
    for (size_t i = 1; i < tempos.size(); ++i) EXPECT_LE(tempos[i], tempos[i - 1] + 1e-9);
    EXPECT_NE(r.lane_instruments(), before);

    StyleChange blend{styles().at("house"), true, 0.0, {{styles().at("house"), 0.5}, {styles().at("ambient"), 0.5}}};
    EXPECT_NEAR(blend.tempo(), (122.0 + 72.0) / 2, 1e-9);
    r.set_style(blend);
    for (int i = 0; i < 30; ++i) r.render(4, p, out);
    const auto& w = r.lane_instruments();
    const int N = static_cast<int>(model->spec.instruments.size());
    float harmony_max = 0;  // lane 2: house's piano and ambient's warm pad, two instruments of the table
    for (int k = 0; k < N; ++k) harmony_max = std::max(harmony_max, w[static_cast<size_t>(2 * N + k)]);
    EXPECT_NEAR(harmony_max, 0.5f, 1e-6) << "house's piano and ambient's pad should each weigh half";
}

// What a listener hears of the gate: the whole chain (masking, loudness and its automatic gain
// included) plays exact zeros before a score's first note and once its instrument has rung out
// after the last, and the network's sound while the note plays.
TEST(Renderer, AScoresSilencesAreExactZerosThroughThePostTier) {
    for (float a : {0.0f, 0.85f}) {  // the gate comes after the de-emphasis, whose state would ring on
        SCOPED_TRACE(a);
        Model m = random_model(named_shape("tiny"), 2);
        m.spec.pre_emphasis = a;
        auto model = std::make_shared<const Model>(std::move(m));
        Renderer r(make_cpu_generator(model, kLanes, 1), make_cpu_masking(kRate, 2), styles().at("ambient"), kRate, 1);
        BlockParams p;
        p[Param::temperature] = 1.0, p[Param::intensity] = 0.6, p[Param::key] = -1, p[Param::seed] = 1;
        p[Param::tempo] = 120;                                                // a beat is 0.5 s
        r.set_score(styles().at("ambient"), {{1, 48, 100, 2.0, 4.0}}, 16.0);  // lane 1 from 1 s to 2 s
        std::vector<float> out;
        for (int i = 0; i < 200; ++i) r.render(4, p, out);  // 8 s
        const auto& table = r.generator().spec().instruments;
        float release = 0;
        for (size_t i = 0; i < table.size(); ++i)
            if (r.lane_instruments()[table.size() + i] > 0) release = std::max(release, table[i].release_s);
        ASSERT_GT(release, 0.0f);
        ASSERT_LT(release, 4.0f) << "the test needs the instrument to ring out within the score";
        auto peak = [&](double from_s, double to_s) {
            float m = 0;
            for (size_t i = static_cast<size_t>(from_s * kRate) * 2; i < std::min(out.size(), static_cast<size_t>(to_s * kRate) * 2); ++i)
                m = std::max(m, std::isnan(out[i]) ? INFINITY : std::abs(out[i]));
            return m;
        };
        // The post tier delays by its latency and spreads a note over its frames: margins of 0.2 s.
        EXPECT_EQ(peak(0.0, 0.8), 0.0f) << "before the first note";
        EXPECT_GT(peak(1.2, 1.8), 1e-3f) << "while the note plays";
        EXPECT_EQ(peak(2.0 + release + kGateFadeSeconds + 0.2, 8.0), 0.0f) << "after the note and its release of " << release << " s";
    }
}

// LPCNet's rule with the score's pitch: a lane whose output repeats at its note's period draws
// at half the temperature (g = 1: 1 + 1.5 - 0.5), noise or silence at the whole of it, and a
// period that is not the note's sharpens nothing.
TEST(PitchSharpening, SharpensAsTheOutputRepeatsAtTheNotesPeriod) {
    const int rate = 16000;
    wavecast::PitchSharpening s(3, rate);
    std::vector<float> frame(wavecast::kFrameFeatures, 0.0f);
    wavecast::add_note(frame.data(), 45, 100, false, 0.5f);  // A2, 110 Hz
    std::vector<float> tone(1600), noise(1600), other(1600);
    std::mt19937 rng(3);
    std::normal_distribution<float> gauss(0.0f, 0.1f);
    for (size_t i = 0; i < tone.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        tone[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 110 * t) + 0.1 * std::sin(2 * M_PI * 330 * t + 1.0));
        noise[i] = gauss(rng);
        other[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 155 * t));  // a tritone off: no repeat at A's period
    }
    s.push(0, tone.data(), tone.size());
    s.push(1, noise.data(), noise.size());
    s.push(2, other.data(), other.size());
    EXPECT_GT(s.correlation(0, frame.data()), 0.99);
    EXPECT_NEAR(s.sharpening(0, frame.data(), 1.0), 2.0, 0.02);
    EXPECT_NEAR(s.sharpening(0, frame.data(), 0.5), 1.5, 0.01);
    EXPECT_EQ(s.sharpening(0, frame.data(), 0.0), 1.0);
    EXPECT_LT(s.sharpening(1, frame.data(), 1.0), 1.05);
    EXPECT_LT(s.sharpening(2, frame.data(), 1.0), 1.05);
    // No note, no period: nothing to sharpen by.
    std::vector<float> rest(wavecast::kFrameFeatures, 0.0f);
    EXPECT_EQ(s.sharpening(0, rest.data(), 1.0), 1.0);
    // Newer output replaces older: the tone pushed on after noise is what counts.
    s.push(1, tone.data(), tone.size());
    EXPECT_NEAR(s.sharpening(1, frame.data(), 1.0), 2.0, 0.02);
}
