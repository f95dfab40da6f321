#include "chain/generator_batch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "kernels/frame_features.h"
#include "tests/unit/random_features.h"

using namespace wavecast;

namespace {

std::shared_ptr<const Model> tiny_model() { return std::make_shared<const Model>(random_model(named_shape("tiny"), 3)); }

// What one stream asks of its generator, block by block, as a renderer would: its own notes,
// instruments, tail cut and temperature.
struct Script {
    int lanes;
    uint64_t seed;
    float temperature, cut;
    std::vector<float> features;  // [blocks * frames][lanes][features]
    std::vector<float> instruments;
};

constexpr int kFrames = 2, kBlocks = 12;

Script script(const ModelSpec& s, int lanes, uint64_t seed, float temperature, float cut) {
    Script sc{lanes, seed, temperature, cut, random_features(kBlocks * kFrames, lanes, seed + 100), {}};
    const size_t N = s.instruments.size();
    sc.instruments.assign(static_cast<size_t>(lanes) * N, 0.0f);
    for (int b = 0; b < lanes; ++b) {  // a blend, another for each lane and stream
        sc.instruments[static_cast<size_t>(b) * N + (b + seed) % N] = 0.75f;
        sc.instruments[static_cast<size_t>(b) * N + (b + seed + 1) % N] += 0.25f;
    }
    return sc;
}

// Runs the script on `g` and returns [block][lanes][frames * hop] concatenated.
std::vector<float> play(Generator& g, const Script& sc) {
    const int hop = g.spec().frame_hop;
    const size_t block = static_cast<size_t>(sc.lanes) * kFrames * hop;
    std::vector<float> out(block * kBlocks), temp(static_cast<size_t>(kFrames) * sc.lanes), cut(static_cast<size_t>(sc.lanes), sc.cut);
    for (size_t i = 0; i < temp.size(); ++i) temp[i] = i % 3 == 1 ? 0.0f : sc.temperature;  // a frame held, as a sustain is
    for (int k = 0; k < kBlocks; ++k) {
        g.set_instruments(sc.instruments.data());
        g.set_tail_cut(cut.data());
        g.generate(&sc.features[static_cast<size_t>(k) * kFrames * sc.lanes * kFrameFeatures], temp.data(), kFrames, &out[k * block]);
    }
    return out;
}

std::unique_ptr<Generator> shared_cpu(std::shared_ptr<const Model> m, const std::vector<Script>& scripts) {
    std::vector<LaneKey> keys;
    for (const Script& sc : scripts)
        for (const LaneKey& k : lane_keys(sc.seed, sc.lanes)) keys.push_back(k);
    return make_cpu_generator(std::move(m), keys);
}

// A generator that does as the CPU's until its `fail_at`-th generate(), which throws.
class FailsAt final : public Generator {
public:
    FailsAt(std::unique_ptr<Generator> g, int fail_at) : g_(std::move(g)), fail_at_(fail_at) {}
    const ModelSpec& spec() const override { return g_->spec(); }
    int lanes() const override { return g_->lanes(); }
    std::string backend() const override { return "failing"; }
    void set_instruments(const float* w) override { g_->set_instruments(w); }
    void set_tail_cut(const float* c) override { g_->set_tail_cut(c); }
    void generate(const float* f, const float* t, int frames, float* out) override {
        if (++calls_ == fail_at_) throw std::runtime_error("device lost");
        g_->generate(f, t, frames, out);
    }
    uint64_t position() const override { return g_->position(); }

private:
    std::unique_ptr<Generator> g_;
    int fail_at_, calls_ = 0;
};

}  // namespace

// The point of the batch: streams that share one generator, each on its own thread with its own
// notes, instruments, temperature and tail cut, sound exactly as each would on a generator of its
// own with its seed.
TEST(GeneratorBatch, EachStreamSoundsAsItWouldAlone) {
    const auto m = tiny_model();
    const std::vector<Script> scripts{script(m->spec, 2, 7, 0.8f, 0.0f), script(m->spec, 1, 7, 1.0f, 0.3f),
                                      script(m->spec, 3, 11, 0.6f, 0.1f)};
    auto members = share_generator(shared_cpu(m, scripts), {{"a", 2}, {"b", 1}, {"c", 3}}, std::chrono::seconds(30));
    ASSERT_EQ(members.size(), 3u);
    std::vector<std::vector<float>> batched(3);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < 3; ++k) threads.emplace_back([&, k] { batched[k] = play(*members[k], scripts[k]); });
    for (auto& t : threads) t.join();
    for (size_t k = 0; k < 3; ++k) {
        auto alone = make_cpu_generator(m, scripts[k].lanes, scripts[k].seed);
        const std::vector<float> expected = play(*alone, scripts[k]);
        ASSERT_EQ(batched[k].size(), expected.size());
        size_t differ = 0;
        for (size_t i = 0; i < expected.size(); ++i) differ += batched[k][i] != expected[i];
        EXPECT_EQ(differ, 0u) << "stream " << k;
        EXPECT_EQ(members[k]->position(), alone->position());
        EXPECT_EQ(members[k]->lanes(), scripts[k].lanes);
    }
    EXPECT_NE(members[0]->kernel().find("shared by 3 streams (6 lanes)"), std::string::npos) << members[0]->kernel();
}

// A stream whose producer stopped (or stalled) holds the others up for at most the wait: they go
// on, and still sound as they would alone, since no lane's samples depend on another's.
TEST(GeneratorBatch, AStreamThatStaysAwayIsNotWaitedForPastTheWait) {
    const auto m = tiny_model();
    const std::vector<Script> scripts{script(m->spec, 2, 5, 0.9f, 0.0f), script(m->spec, 2, 6, 0.9f, 0.0f)};
    auto members = share_generator(shared_cpu(m, scripts), {{"playing", 2}, {"away", 2}}, std::chrono::milliseconds(20));
    const std::vector<float> got = play(*members[0], scripts[0]);
    auto alone = make_cpu_generator(m, 2, 5);
    EXPECT_EQ(got, play(*alone, scripts[0]));
    // The one that was away comes back and is served, its lanes advanced with the others'.
    std::vector<float> out(static_cast<size_t>(2) * kFrames * m->spec.frame_hop), temp(2 * kFrames, 0.9f);
    members[1]->generate(scripts[1].features.data(), temp.data(), kFrames, out.data());
    EXPECT_EQ(members[1]->position(), static_cast<uint64_t>(kBlocks + 1) * kFrames * m->spec.frame_hop);
}

// A stream that falls back to the CPU destroys its member: the others stop waiting for it at once.
TEST(GeneratorBatch, AStreamThatLeavesIsNotWaitedFor) {
    const auto m = tiny_model();
    const std::vector<Script> scripts{script(m->spec, 1, 5, 0.9f, 0.0f), script(m->spec, 1, 6, 0.9f, 0.0f)};
    auto members = share_generator(shared_cpu(m, scripts), {{"staying", 1}, {"leaving", 1}}, std::chrono::minutes(10));
    members[1].reset();
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> got = play(*members[0], scripts[0]);
    // Ten minutes a block had it waited; a CPU runs these twelve in well under one.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::minutes(1));
    auto alone = make_cpu_generator(m, 1, 5);
    EXPECT_EQ(got, play(*alone, scripts[0]));
}

// A shared generator that throws (a CUDA error, a lost device) fails every stream's block, and
// every one after, so that each falls back on its own rather than play on a broken device.
TEST(GeneratorBatch, AFailureReachesEveryStream) {
    const auto m = tiny_model();
    const std::vector<Script> scripts{script(m->spec, 1, 5, 0.9f, 0.0f), script(m->spec, 2, 6, 0.9f, 0.0f)};
    auto members = share_generator(std::make_unique<FailsAt>(shared_cpu(m, scripts), 3), {{"a", 1}, {"b", 2}}, std::chrono::seconds(30));
    std::vector<int> failed_at(2, -1);
    std::vector<std::string> what(2);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < 2; ++k)
        threads.emplace_back([&, k] {
            const int lanes = scripts[k].lanes;
            std::vector<float> out(static_cast<size_t>(lanes) * kFrames * m->spec.frame_hop),
                temp(static_cast<size_t>(lanes) * kFrames, 0.9f);
            for (int block = 0; block < 5; ++block) {
                try {
                    members[k]->generate(&scripts[k].features[static_cast<size_t>(block) * kFrames * lanes * kFrameFeatures], temp.data(),
                                         kFrames, out.data());
                } catch (const std::runtime_error& e) {
                    if (failed_at[k] < 0) failed_at[k] = block, what[k] = e.what();
                }
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed_at, (std::vector<int>{2, 2}));
    EXPECT_EQ(what, (std::vector<std::string>{"device lost", "device lost"}));
    // Still failing: the device is not trusted again.
    std::vector<float> out(static_cast<size_t>(kFrames) * m->spec.frame_hop), temp(kFrames, 0.9f);
    EXPECT_THROW(members[0]->generate(scripts[0].features.data(), temp.data(), kFrames, out.data()), std::runtime_error);
}

TEST(GeneratorBatch, RefusesMembersThatDoNotAddUpToTheGenerator) {
    const auto m = tiny_model();
    EXPECT_THROW(share_generator(make_cpu_generator(m, 4, 1), {{"a", 2}, {"b", 1}}), std::invalid_argument);
    EXPECT_THROW(share_generator(make_cpu_generator(m, 2, 1), {{"a", 2}, {"b", 0}}), std::invalid_argument);
}
