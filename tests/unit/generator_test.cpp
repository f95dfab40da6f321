#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/frame_features.h"
#include "kernels/generator.h"
#include "kernels/mulaw.h"
#include "kernels/philox.h"
#include "tests/unit/random_features.h"

using namespace wavecast;

namespace {

std::shared_ptr<const Model> tiny_model(uint64_t seed = 3) {
    return std::make_shared<const Model>(random_model(named_shape("tiny"), seed));
}

std::vector<float> run(Generator& g, const std::vector<float>& feats, int frames, float temperature, int chunk) {
    const int lanes = g.lanes(), hop = g.spec().frame_hop;
    std::vector<float> out(static_cast<size_t>(lanes) * frames * hop);
    std::vector<float> part(static_cast<size_t>(lanes) * chunk * hop);
    std::vector<float> temp(static_cast<size_t>(lanes) * chunk, temperature);
    for (int k = 0; k < frames; k += chunk) {
        g.generate(&feats[static_cast<size_t>(k) * lanes * kFrameFeatures], temp.data(), chunk, part.data());
        for (int b = 0; b < lanes; ++b)
            std::copy_n(&part[static_cast<size_t>(b) * chunk * hop], chunk * hop, &out[(static_cast<size_t>(b) * frames + k) * hop]);
    }
    return out;
}

// The network written out the slow way, in double precision with libm's tanh and exp: every
// layer's input kept for the whole history (no dilation queues), the conditioning recomputed
// from the features, the excitation's tones from their frequencies in double. It shares no code
// with the generator but Philox and the mu-law decoder.
std::vector<int> naive_classes(const Model& m, const std::vector<float>& feats, int frames, int lanes, int lane, float temperature,
                               uint64_t seed, const std::vector<float>& inst_weights) {
    const ModelSpec& s = m.spec;
    const Weights& w = m.weights;
    const int R = s.residual_channels, S = s.skip_channels, A = s.audio_classes, L = s.layers, H = s.cond_hidden;
    const int F = s.cond_features, E = s.instrument_dim, N = static_cast<int>(s.instruments.size()), C = s.cond_channels();
    const int T = frames * s.frame_hop;

    std::vector<double> emb(static_cast<size_t>(E), 0.0);
    for (int n = 0; n < N; ++n)
        for (int j = 0; j < E; ++j)
            emb[j] += inst_weights[static_cast<size_t>(lane) * N + n] * w.instrument_embed[static_cast<size_t>(n) * E + j];
    auto frame_input = [&](int k, int i) -> double {
        if (k < 0) return 0.0;
        return i < F ? feats[(static_cast<size_t>(k) * lanes + lane) * F + i] : emb[static_cast<size_t>(i - F)];
    };
    std::vector<std::vector<double>> cond(static_cast<size_t>(frames), std::vector<double>(static_cast<size_t>(C)));
    for (int k = 0; k < frames; ++k) {
        std::vector<double> h(static_cast<size_t>(H));
        for (int o = 0; o < H; ++o) {
            double acc = w.cond_conv_b[o];
            for (int i = 0; i < F + E; ++i)
                for (int tap = 0; tap < 3; ++tap)
                    acc += w.cond_conv_w[(static_cast<size_t>(o) * (F + E) + i) * 3 + tap] * frame_input(k - 2 + tap, i);
            h[o] = std::tanh(acc);
        }
        for (int c = 0; c < C; ++c) {
            double acc = w.cond_proj_b[c];
            for (int j = 0; j < H; ++j) acc += w.cond_proj_w[static_cast<size_t>(c) * H + j] * h[j];
            cond[k][c] = acc;
        }
    }

    // xs[l][t] = the input of layer l at time t.
    std::vector<std::vector<std::vector<double>>> xs(static_cast<size_t>(L), std::vector<std::vector<double>>(static_cast<size_t>(T)));
    std::vector<int> classes;
    int prev = A / 2;
    for (int t = 0; t < T; ++t) {
        const int k = t / s.frame_hop;
        const double frac = static_cast<double>(t % s.frame_hop + 1) / s.frame_hop;
        std::vector<double> x(w.embed.begin() + static_cast<long>(prev) * R, w.embed.begin() + static_cast<long>(prev + 1) * R);
        std::vector<double> skip(static_cast<size_t>(S), 0.0);
        std::vector<double> e(static_cast<size_t>(s.excitation_channels()), 0.0);
        auto feat = [&](int frame, int i) { return feats[(static_cast<size_t>(frame) * lanes + lane) * F + i]; };
        for (int p = 0; p < 128; ++p) {
            const double v = feat(k, p);
            if (v <= 0) continue;
            int from = k;  // the frame its note started in: back to an onset flag or silence
            while (from > 0 && feat(from, 128 + p) == 0 && feat(from - 1, p) > 0) --from;
            for (int h = 1; h <= s.excitation_harmonics; ++h) {
                const double hz = h * 440.0 * std::exp2((p - 69) / 12.0);
                if (hz >= s.sample_rate / 2.0) continue;
                const double phase = 2 * M_PI * hz * (t - from * s.frame_hop) / s.sample_rate;
                e[static_cast<size_t>(2 * h - 2)] += v * std::sin(phase);
                e[static_cast<size_t>(2 * h - 1)] += v * std::cos(phase);
            }
        }
        for (int r = 0; r < R; ++r)
            for (size_t j = 0; j < e.size(); ++j)
                x[static_cast<size_t>(r)] += w.excitation_in_w[static_cast<size_t>(r) * e.size() + j] * e[j];
        for (int l = 0; l < L; ++l) {
            const auto& lw = w.layers[static_cast<size_t>(l)];
            xs[l][t] = x;
            const int d = s.dilation(l);
            std::vector<double> past = t - d >= 0 ? xs[l][t - d] : std::vector<double>(static_cast<size_t>(R), 0.0);
            std::vector<double> a(static_cast<size_t>(R));
            std::vector<double> pre(static_cast<size_t>(2 * R));
            for (int o = 0; o < 2 * R; ++o) {
                const double c_prev = k > 0 ? cond[k - 1][static_cast<size_t>(l) * 2 * R + o] : 0.0;
                const double c_now = cond[k][static_cast<size_t>(l) * 2 * R + o];
                double acc = lw.conv_b[o] + c_prev + frac * (c_now - c_prev);
                for (size_t j = 0; j < e.size(); ++j) acc += w.excitation_w[(static_cast<size_t>(l) * 2 * R + o) * e.size() + j] * e[j];
                for (int i = 0; i < R; ++i)
                    acc += lw.conv_w[(static_cast<size_t>(o) * R + i) * 2] * past[i] +
                           lw.conv_w[(static_cast<size_t>(o) * R + i) * 2 + 1] * x[i];
                pre[o] = acc;
            }
            for (int i = 0; i < R; ++i) a[i] = std::tanh(pre[i]) / (1.0 + std::exp(-pre[R + i]));
            for (int o = 0; o < S; ++o) {
                double acc = lw.skip_b[o];
                for (int i = 0; i < R; ++i) acc += lw.skip_w[static_cast<size_t>(o) * R + i] * a[i];
                skip[o] += acc;
            }
            std::vector<double> nx = x;
            for (int o = 0; o < R; ++o) {
                double acc = lw.res_b[o];
                for (int i = 0; i < R; ++i) acc += lw.res_w[static_cast<size_t>(o) * R + i] * a[i];
                nx[o] += acc;
            }
            x = nx;
        }
        std::vector<double> h1(static_cast<size_t>(A)), logits(static_cast<size_t>(A));
        for (int o = 0; o < A; ++o) {
            double acc = w.out1_b[o];
            for (int i = 0; i < S; ++i) acc += w.out1_w[static_cast<size_t>(o) * S + i] * std::max(skip[i], 0.0);
            h1[o] = std::max(acc, 0.0);
        }
        for (int o = 0; o < A; ++o) {
            double acc = w.out2_b[o];
            for (int i = 0; i < A; ++i) acc += w.out2_w[static_cast<size_t>(o) * A + i] * h1[i];
            logits[o] = acc;
        }
        const double m = *std::max_element(logits.begin(), logits.end());
        double sum = 0;
        for (auto& v : logits) sum += v = std::exp((v - m) / temperature);
        const double u = philox_uniform(seed, static_cast<uint32_t>(lane), static_cast<uint64_t>(t)) * sum;
        double acc = 0;
        int cls = A - 1;
        for (int i = 0; i < A; ++i)
            if (u < (acc += logits[i])) {
                cls = i;
                break;
            }
        classes.push_back(cls);
        prev = cls;
    }
    return classes;
}

}  // namespace

TEST(GeneratorCpu, MatchesNaiveDoublePrecisionNetwork) {
    auto model = tiny_model(11);
    const int lanes = 3, frames = 6;  // 6 frames of 160: past the longest dilation many times over
    const auto feats = random_features(frames, lanes, 5);
    auto g = make_cpu_generator(model, lanes, 99);
    const int N = static_cast<int>(model->spec.instruments.size());
    std::vector<float> inst(static_cast<size_t>(lanes) * N, 0.0f);
    inst[0 * N + 1] = 1.0f;
    inst[1 * N + 2] = 0.3f, inst[1 * N + 4] = 0.7f;  // a blended timbre
    inst[2 * N + 0] = 1.0f;
    g->set_instruments(inst.data());
    const auto out = run(*g, feats, frames, 1.0f, 2);
    const int T = frames * model->spec.frame_hop;
    for (int lane = 0; lane < lanes; ++lane) {
        const auto ref = naive_classes(*model, feats, frames, lanes, lane, 1.0f, 99, inst);
        int mismatches = 0;
        for (int t = 0; t < T; ++t)
            mismatches += out[static_cast<size_t>(lane) * T + t] != mulaw_decode(ref[static_cast<size_t>(t)], model->spec.audio_classes);
        // Float against double can flip a draw only when the uniform lands within ~1e-6 of a
        // class boundary; after a flip the histories differ, so a flip shows as a run.
        EXPECT_EQ(mismatches, 0) << "lane " << lane;
    }
}

TEST(GeneratorCpu, SameSeedGivesSameSamplesWhateverTheChunking) {
    auto model = tiny_model();
    const auto feats = random_features(8, 2, 1);
    auto a = make_cpu_generator(model, 2, 7);
    auto b = make_cpu_generator(model, 2, 7);
    const auto x = run(*a, feats, 8, 1.0f, 1);
    const auto y = run(*b, feats, 8, 1.0f, 4);
    EXPECT_EQ(x, y);
    EXPECT_EQ(a->position(), 8u * model->spec.frame_hop);
}

// Lane groups on their own threads: the same samples and distributions as one thread, bit for
// bit, for every split (uneven ones, more threads than lanes), with instruments blended per lane.
TEST(GeneratorCpu, ThreadsChangeNoSample) {
    auto model = std::make_shared<const Model>(random_model(named_shape("small"), 4));
    const int lanes = 5, frames = 6, hop = model->spec.frame_hop, A = model->spec.audio_classes;
    const auto feats = random_features(frames, lanes, 21);
    const int N = static_cast<int>(model->spec.instruments.size());
    std::vector<float> inst(static_cast<size_t>(lanes) * N, 0.0f);
    for (int b = 0; b < lanes; ++b) inst[static_cast<size_t>(b) * N + b % N] = 1.0f;
    auto one = make_cpu_generator(model, lanes, 7, 1);
    one->set_instruments(inst.data());
    const auto want = run(*one, feats, frames, 1.0f, 2);
    std::vector<int> inputs(static_cast<size_t>(lanes) * frames * hop);
    for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = mulaw_encode(want[i], A);
    std::vector<float> want_p(inputs.size() * A);
    auto forced = make_cpu_generator(model, lanes, 7, 1);
    forced->set_instruments(inst.data());
    forced->teacher_forced(feats.data(), inputs.data(), frames, want_p.data());
    for (int threads : {2, 3, 8}) {
        auto g = make_cpu_generator(model, lanes, 7, threads);
        g->set_instruments(inst.data());
        EXPECT_EQ(run(*g, feats, frames, 1.0f, 2), want) << threads << " threads";
        EXPECT_EQ(g->position(), static_cast<uint64_t>(frames) * hop);
        auto f = make_cpu_generator(model, lanes, 7, threads);
        f->set_instruments(inst.data());
        std::vector<float> p(want_p.size(), std::nanf(""));  // poisoned
        f->teacher_forced(feats.data(), inputs.data(), frames, p.data());
        EXPECT_EQ(p, want_p) << threads << " threads";
    }
}

TEST(GeneratorCpu, LanesAndSeedsDiffer) {
    auto model = tiny_model();
    const int frames = 4, T = frames * model->spec.frame_hop;
    std::vector<float> feats(static_cast<size_t>(frames) * 2 * kFrameFeatures, 0.0f);  // identical lanes
    auto a = make_cpu_generator(model, 2, 7);
    auto b = make_cpu_generator(model, 2, 8);
    const auto x = run(*a, feats, frames, 1.0f, 2);
    const auto y = run(*b, feats, frames, 1.0f, 2);
    const std::vector<float> lane0(x.begin(), x.begin() + T), lane1(x.begin() + T, x.end());
    EXPECT_NE(lane0, lane1) << "lanes with the same input must draw different numbers";
    EXPECT_NE(x, y) << "another seed must give other samples";
}

TEST(GeneratorCpu, OutputIsFiniteAndInRangeForEveryShape) {
    for (const char* shape : {"tiny", "small"}) {
        auto model = std::make_shared<const Model>(random_model(named_shape(shape), 5));
        const auto feats = random_features(3, 4, 9);
        auto g = make_cpu_generator(model, 4, 1);
        std::vector<float> out(static_cast<size_t>(4) * 3 * model->spec.frame_hop, std::nanf(""));        // poisoned
        std::vector<float> temp{1.0f, 0.5f, 0.0f, 2.0f, 0.0f, 2.0f, 1.0f, 0.5f, 2.0f, 0.0f, 0.5f, 1.0f};  // [frame][lane]
        g->generate(feats.data(), temp.data(), 3, out.data());
        for (float v : out) {
            ASSERT_TRUE(std::isfinite(v)) << shape;
            ASSERT_LE(std::fabs(v), 1.0f) << shape;
        }
    }
}

TEST(GeneratorCpu, ZeroTemperatureIsDeterministicWithoutTheSeed) {
    auto model = tiny_model();
    const auto feats = random_features(3, 1, 4);
    auto a = make_cpu_generator(model, 1, 1);
    auto b = make_cpu_generator(model, 1, 2);
    EXPECT_EQ(run(*a, feats, 3, 0.0f, 1), run(*b, feats, 3, 0.0f, 3));
}

// Teacher forcing fed the generator's own draws gives the distributions it drew from: each
// draw is the inverse-CDF pick of Philox's uniform under the distribution reported for it.
TEST(GeneratorCpu, TeacherForcedDistributionsAreTheOnesSampled) {
    const auto model = tiny_model(11);
    const int lanes = 3, frames = 6, hop = model->spec.frame_hop, A = model->spec.audio_classes, T = frames * hop;
    const auto feats = random_features(frames, lanes, 12);
    auto gen = make_cpu_generator(model, lanes, 77);
    const auto audio = run(*gen, feats, frames, 1.0f, frames);

    std::vector<int> inputs(static_cast<size_t>(lanes) * T);
    for (int b = 0; b < lanes; ++b)
        for (int t = 0; t < T; ++t)
            inputs[static_cast<size_t>(b) * T + t] = t == 0 ? A / 2 : mulaw_encode(audio[static_cast<size_t>(b) * T + t - 1], A);
    std::vector<float> probs(static_cast<size_t>(lanes) * T * A, std::nanf(""));
    auto forced = make_cpu_generator(model, lanes, 77);
    forced->teacher_forced(feats.data(), inputs.data(), frames, probs.data());
    EXPECT_EQ(forced->position(), static_cast<uint64_t>(T));

    int checked = 0;
    for (int b = 0; b < lanes; ++b)
        for (int t = 0; t < T; ++t) {
            const float* p = &probs[(static_cast<size_t>(b) * T + t) * A];
            double sum = 0;
            for (int c = 0; c < A; ++c) {
                ASSERT_TRUE(std::isfinite(p[c]) && p[c] >= 0.0f) << "lane " << b << " sample " << t;
                sum += p[c];
            }
            ASSERT_NEAR(sum, 1.0, 1e-5);
            const int drawn = mulaw_encode(audio[static_cast<size_t>(b) * T + t], A);
            const double u = philox_uniform(77, static_cast<uint32_t>(b), static_cast<uint64_t>(t));
            double below = 0;
            for (int c = 0; c < drawn; ++c) below += p[c];
            // u falls in the drawn class's slice of the cumulative distribution (float rounding aside).
            EXPECT_GE(u, below - 1e-5) << "lane " << b << " sample " << t;
            EXPECT_LE(u, below + p[drawn] + 1e-5) << "lane " << b << " sample " << t;
            ++checked;
        }
    EXPECT_EQ(checked, lanes * T);

    std::vector<int> bad(inputs);
    bad[5] = A;
    auto refused = make_cpu_generator(model, lanes, 77);
    EXPECT_THROW(refused->teacher_forced(feats.data(), bad.data(), frames, probs.data()), std::invalid_argument);
    EXPECT_EQ(refused->position(), 0u) << "a refused call moved the generator";
}

// The tail cut, lane by lane (none, 0.3, 0.9): every draw comes from the classes at least that
// likely relative to the most likely one, at the place Philox's uniform falls in what is left;
// the same lanes without the cut draw from the tail often (so the check can fail); a cut of 1
// leaves the most likely class, which is temperature 0.
TEST(GeneratorCpu, TheTailCutNeverDrawsTheTail) {
    const auto model = tiny_model(11);
    const int lanes = 3, frames = 6, A = model->spec.audio_classes, T = frames * model->spec.frame_hop;
    const auto feats = random_features(frames, lanes, 12);
    const std::vector<float> cuts = {0.0f, 0.3f, 0.9f};
    auto gen = make_cpu_generator(model, lanes, 77);
    gen->set_tail_cut(cuts.data());
    const auto audio = run(*gen, feats, frames, 1.0f, 2);

    std::vector<int> inputs(static_cast<size_t>(lanes) * T);
    for (int b = 0; b < lanes; ++b)
        for (int t = 0; t < T; ++t)
            inputs[static_cast<size_t>(b) * T + t] = t == 0 ? A / 2 : mulaw_encode(audio[static_cast<size_t>(b) * T + t - 1], A);
    std::vector<float> probs(static_cast<size_t>(lanes) * T * A, std::nanf(""));
    make_cpu_generator(model, lanes, 77)->teacher_forced(feats.data(), inputs.data(), frames, probs.data());

    std::vector<int> tail_draws(lanes, 0), checked(lanes, 0);
    for (int b = 0; b < lanes; ++b)
        for (int t = 0; t < T; ++t) {
            const float* p = &probs[(static_cast<size_t>(b) * T + t) * A];
            const double top = *std::max_element(p, p + A);
            // The cut compares logits, this test probabilities: leave out the samples with a class
            // within rounding of the cut.
            bool borderline = false;
            std::vector<double> kept(static_cast<size_t>(A), 0.0);
            double kept_sum = 0;
            for (int c = 0; c < A; ++c) {
                ASSERT_TRUE(std::isfinite(p[c])) << "lane " << b << " sample " << t;
                const double ratio = p[c] / top;
                borderline |= cuts[b] > 0 && std::fabs(ratio - cuts[b]) < 1e-4;
                if (ratio >= cuts[b]) kept_sum += kept[static_cast<size_t>(c)] = p[c];
            }
            const int drawn = mulaw_encode(audio[static_cast<size_t>(b) * T + t], A);
            if (p[drawn] / top < 0.3) ++tail_draws[b];
            if (borderline) continue;
            ++checked[b];
            ASSERT_GT(kept[static_cast<size_t>(drawn)], 0.0) << "lane " << b << " sample " << t << ": drew from the tail";
            const double u = philox_uniform(77, static_cast<uint32_t>(b), static_cast<uint64_t>(t));
            double below = 0;
            for (int c = 0; c < drawn; ++c) below += kept[static_cast<size_t>(c)];
            EXPECT_GE(u, below / kept_sum - 1e-5) << "lane " << b << " sample " << t;
            EXPECT_LE(u, (below + kept[static_cast<size_t>(drawn)]) / kept_sum + 1e-5) << "lane " << b << " sample " << t;
        }
    EXPECT_GT(tail_draws[0], T / 10) << "random weights at temperature 1 should draw below 0.3 of the top often without the cut";
    EXPECT_EQ(tail_draws[1] + tail_draws[2], 0);
    for (int b = 0; b < lanes; ++b) EXPECT_GT(checked[b], T * 9 / 10) << "lane " << b;

    auto whole = make_cpu_generator(model, 1, 5), greedy = make_cpu_generator(model, 1, 6);
    const float one = 1.0f;
    whole->set_tail_cut(&one);
    const auto one_lane = random_features(3, 1, 4);
    EXPECT_EQ(run(*whole, one_lane, 3, 1.0f, 1), run(*greedy, one_lane, 3, 0.0f, 3));
}

// What storing the matrices in half precision (the CUDA backend's option) does to the
// distributions, measured on the CPU definition: the same teacher-forced inputs through the
// model and through with_precision(model). The CUDA test holds the GPU to 1e-5 of the rounded
// model; this one says how far rounding alone moves it from fp32. Seen (worst relative change of
// any probability): fp16 0.008-0.010 on random small weights, 0.016-0.021 on random medium
// ones, 0.020-0.022 on the shipped small model and 0.016-0.024 on the shipped medium one; bf16,
// with 3 fewer mantissa bits, about 8 times more. The bounds leave room for fresh weights
// while catching a rounding that is not to nearest (truncation doubles the error) or one that
// reaches the wrong tensors.
TEST(GeneratorCpu, HalfPrecisionStaysNearFp32) {
    std::mt19937 rng(std::random_device{}());
    std::vector<std::pair<std::string, std::shared_ptr<const Model>>> models{
        {"random small", std::make_shared<const Model>(random_model(named_shape("small"), rng()))},
        {"random medium", std::make_shared<const Model>(random_model(named_shape("medium"), rng()))},
        {"shipped small", std::make_shared<const Model>(load_model(WAVECAST_SOURCE_DIR "/models/small.safetensors"))},
        {"shipped medium", std::make_shared<const Model>(load_model(WAVECAST_SOURCE_DIR "/models/medium.safetensors"))}};
    for (const auto& [name, model] : models) {
        const int lanes = 2, frames = 3, T = frames * model->spec.frame_hop, A = model->spec.audio_classes;
        const auto feats = random_features(frames, lanes, rng());
        std::vector<int> inputs(static_cast<size_t>(lanes) * T);
        for (auto& c : inputs) c = static_cast<int>(rng() % static_cast<uint32_t>(A));
        std::vector<float> want(static_cast<size_t>(lanes) * T * A, std::nanf(""));
        make_cpu_generator(model, lanes, 1)->teacher_forced(feats.data(), inputs.data(), frames, want.data());
        for (Precision p : {Precision::fp16, Precision::bf16}) {
            std::vector<float> got(want.size(), std::nanf(""));
            make_cpu_generator(std::make_shared<const Model>(with_precision(*model, p)), lanes, 1)
                ->teacher_forced(feats.data(), inputs.data(), frames, got.data());
            double worst = 0;
            for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_TRUE(std::isfinite(got[i])) << name << " " << precision_name(p) << " probability " << i;
                worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]) / std::max<double>(want[i], 1e-30));
            }
            std::cout << name << " " << precision_name(p) << ": worst relative change of a probability " << worst << "\n";
            EXPECT_LE(worst, p == Precision::fp16 ? 0.04 : 0.3) << name << " " << precision_name(p);
        }
    }
}

// The temperature is a frame's: a call over several frames draws each frame as a call of that
// frame alone would, at its own temperature per lane.
TEST(GeneratorCpu, EachFrameDrawsAtItsOwnTemperature) {
    auto model = tiny_model();
    const int lanes = 2, frames = 4, hop = model->spec.frame_hop;
    const auto feats = random_features(frames, lanes, std::random_device{}());
    const std::vector<float> temp{1.0f, 0.0f, 0.0f, 1.5f, 0.7f, 0.0f, 0.0f, 0.3f};  // [frame][lane]
    auto whole = make_cpu_generator(model, lanes, 11);
    std::vector<float> a(static_cast<size_t>(lanes) * frames * hop, std::nanf(""));
    whole->generate(feats.data(), temp.data(), frames, a.data());
    auto framewise = make_cpu_generator(model, lanes, 11);
    std::vector<float> b(a.size(), std::nanf("")), part(static_cast<size_t>(lanes) * hop);
    for (int k = 0; k < frames; ++k) {
        framewise->generate(&feats[static_cast<size_t>(k) * lanes * kFrameFeatures], &temp[static_cast<size_t>(k) * lanes], 1, part.data());
        for (int l = 0; l < lanes; ++l)
            std::copy_n(&part[static_cast<size_t>(l) * hop], hop, &b[(static_cast<size_t>(l) * frames + k) * hop]);
    }
    EXPECT_EQ(a, b);
    auto uniform = make_cpu_generator(model, lanes, 11);
    const std::vector<float> one(static_cast<size_t>(lanes) * frames, 1.0f);
    std::vector<float> c(a.size());
    uniform->generate(feats.data(), one.data(), frames, c.data());
    EXPECT_NE(a, c) << "the frames' temperatures changed nothing";
}
