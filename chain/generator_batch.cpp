#include "chain/generator_batch.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace wavecast {
namespace {

// What the members share. Everything below `mu` is guarded by it, except what the round's runner
// reads while `running` (the round's inputs), which no member touches until the round is over.
struct Batch {
    std::unique_ptr<Generator> gen;
    std::chrono::milliseconds wait;
    int lanes = 0, features = 0, instruments = 0, hop = 0;
    std::vector<BatchMember> members;
    std::vector<int> first;  // each member's first lane

    std::mutex mu;
    std::condition_variable cv;
    uint64_t rounds = 0;  // rounds run; a member waits for this to pass the one it joined
    bool open = false, running = false;
    int frames = 0;  // of the open round
    std::chrono::steady_clock::time_point opened;
    std::vector<char> attached, arrived;
    std::vector<uint64_t> missed;
    std::vector<std::chrono::steady_clock::time_point> missed_logged;
    std::exception_ptr failed;
    uint64_t position = 0;
    // The round's inputs, all lanes: [frames][lanes][features], [frames][lanes]; and what a lane
    // absent from a round plays on: its last frame's features (zeros once its member has left)
    // and temperature.
    std::vector<float> in, temperature, held, held_temperature;
    std::vector<float> weights, cut;                  // [lanes][instruments], [lanes]: the members' latest,
    bool weights_changed = true, cut_changed = true;  // not yet handed to `gen`
    std::vector<float> out;                           // [lanes][frames * hop]
    std::vector<std::vector<float>> result;           // per member: its samples of the last round it joined

    bool all_arrived() const {
        for (size_t k = 0; k < members.size(); ++k)
            if (attached[k] && !arrived[k]) return false;
        return true;
    }

    // Runs the open round; called, and returns, with `lock` held.
    void run(std::unique_lock<std::mutex>& lock) {
        running = true;
        const auto F = static_cast<size_t>(features);
        std::vector<size_t> skipped;
        for (size_t k = 0; k < members.size(); ++k) {
            if (arrived[k]) continue;
            if (attached[k]) skipped.push_back(k);
            for (int b = first[k]; b < first[k] + members[k].lanes; ++b)
                for (int f = 0; f < frames; ++f) {
                    std::copy_n(&held[static_cast<size_t>(b) * F], F, &in[(static_cast<size_t>(f) * lanes + b) * F]);
                    temperature[static_cast<size_t>(f) * lanes + b] = held_temperature[static_cast<size_t>(b)];
                }
        }
        std::exception_ptr error;
        try {  // under the lock: the members write these between rounds
            if (weights_changed) gen->set_instruments(weights.data());
            if (cut_changed) gen->set_tail_cut(cut.data());
        } catch (...) {
            error = std::current_exception();
        }
        weights_changed = cut_changed = false;
        lock.unlock();
        try {
            if (!error) gen->generate(in.data(), temperature.data(), frames, out.data());
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        running = false;
        open = false;
        ++rounds;
        if (error) {
            failed = error;
        } else {
            position = gen->position();
            const size_t T = static_cast<size_t>(frames) * hop;
            for (size_t k = 0; k < members.size(); ++k) {
                if (!arrived[k]) continue;
                result[k].assign(out.begin() + static_cast<std::ptrdiff_t>(first[k] * T),
                                 out.begin() + static_cast<std::ptrdiff_t>((first[k] + members[k].lanes) * T));
            }
            const size_t last = static_cast<size_t>(frames - 1) * lanes * F;
            for (size_t k = 0; k < members.size(); ++k) {
                if (!attached[k]) continue;
                const size_t from = static_cast<size_t>(first[k]) * F, n = static_cast<size_t>(members[k].lanes) * F;
                std::copy_n(&in[last + from], n, &held[from]);
            }
        }
        const auto now = std::chrono::steady_clock::now();
        for (const size_t k : skipped) {
            ++missed[k];
            if (now - missed_logged[k] < std::chrono::seconds(10)) continue;
            missed_logged[k] = now;
            spdlog::warn("stream '{}' missed a round of the shared generator ({} so far): its lanes advanced on their last inputs",
                         members[k].name, missed[k]);
        }
        cv.notify_all();
    }
};

class Member final : public Generator {
public:
    Member(std::shared_ptr<Batch> batch, size_t k) : b_(std::move(batch)), k_(k), lanes_(b_->members[k].lanes), first_(b_->first[k]) {}

    ~Member() override {
        std::lock_guard lock(b_->mu);
        b_->attached[k_] = false;
        const size_t F = static_cast<size_t>(b_->features);
        std::fill_n(&b_->held[static_cast<size_t>(first_) * F], static_cast<size_t>(lanes_) * F, 0.0f);
        b_->cv.notify_all();  // the others may have been waiting for this one only
    }

    const ModelSpec& spec() const override { return b_->gen->spec(); }
    int lanes() const override { return lanes_; }
    std::string backend() const override { return b_->gen->backend(); }
    std::string kernel() const override {
        return b_->gen->kernel() + ", shared by " + std::to_string(b_->members.size()) + " streams (" + std::to_string(b_->lanes) +
               " lanes)";
    }

    void set_instruments(const float* weights) override {
        const size_t N = static_cast<size_t>(b_->instruments);
        std::lock_guard lock(b_->mu);
        std::copy_n(weights, static_cast<size_t>(lanes_) * N, &b_->weights[static_cast<size_t>(first_) * N]);
        b_->weights_changed = true;
    }

    void set_tail_cut(const float* cut) override {
        std::lock_guard lock(b_->mu);
        std::copy_n(cut, lanes_, &b_->cut[static_cast<size_t>(first_)]);
        b_->cut_changed = true;
    }

    void generate(const float* features, const float* temperature, int frames, float* out) override {
        Batch& b = *b_;
        std::unique_lock lock(b.mu);
        // Join the open round, unless it is running or is of other frames: then the next one.
        b.cv.wait(lock, [&] { return b.failed || (!b.running && !(b.open && (b.arrived[k_] || b.frames != frames))); });
        if (b.failed) std::rethrow_exception(b.failed);
        const size_t F = static_cast<size_t>(b.features);
        if (!b.open) {
            b.open = true;
            b.frames = frames;
            b.opened = std::chrono::steady_clock::now();
            std::fill(b.arrived.begin(), b.arrived.end(), 0);
            b.in.resize(static_cast<size_t>(frames) * b.lanes * F);
            b.temperature.resize(static_cast<size_t>(frames) * b.lanes);
            b.out.resize(static_cast<size_t>(frames) * b.hop * b.lanes);
        }
        for (int f = 0; f < frames; ++f)
            std::copy_n(&features[static_cast<size_t>(f) * lanes_ * F], static_cast<size_t>(lanes_) * F,
                        &b.in[(static_cast<size_t>(f) * b.lanes + first_) * F]);
        for (int f = 0; f < frames; ++f)
            std::copy_n(&temperature[static_cast<size_t>(f) * lanes_], lanes_, &b.temperature[static_cast<size_t>(f) * b.lanes + first_]);
        std::copy_n(&temperature[static_cast<size_t>(frames - 1) * lanes_], lanes_, &b.held_temperature[static_cast<size_t>(first_)]);
        b.arrived[k_] = 1;
        const uint64_t round = b.rounds;
        while (b.rounds == round) {
            if (b.running) {  // another member runs it
                b.cv.wait(lock, [&] { return b.rounds != round; });
                break;
            }
            // Everyone is here, or the others are late: go (without them).
            if (b.all_arrived() || std::chrono::steady_clock::now() >= b.opened + b.wait) {
                b.run(lock);
                break;
            }
            b.cv.wait_until(lock, b.opened + b.wait, [&] { return b.rounds != round || b.running || b.all_arrived(); });
        }
        if (b.failed) std::rethrow_exception(b.failed);
        std::copy(b.result[k_].begin(), b.result[k_].end(), out);
        position_ = b.position;
    }

    uint64_t position() const override { return position_; }
    // For all the members at once: the shared generator's calls cover every stream's lanes.
    void reserve(int frames) override { b_->gen->reserve(frames); }

private:
    std::shared_ptr<Batch> b_;
    const size_t k_;
    const int lanes_, first_;
    uint64_t position_ = 0;
};

}  // namespace

std::vector<std::unique_ptr<Generator>> share_generator(std::unique_ptr<Generator> shared, const std::vector<BatchMember>& members,
                                                        std::chrono::milliseconds wait) {
    const int lanes = std::accumulate(members.begin(), members.end(), 0, [](int n, const BatchMember& m) { return n + m.lanes; });
    if (members.empty() || lanes != shared->lanes())
        throw std::invalid_argument("share_generator: the members' " + std::to_string(lanes) + " lanes are not the generator's " +
                                    std::to_string(shared->lanes()));
    auto b = std::make_shared<Batch>();
    const ModelSpec& s = shared->spec();
    b->lanes = lanes, b->features = s.cond_features, b->instruments = static_cast<int>(s.instruments.size()), b->hop = s.frame_hop;
    b->gen = std::move(shared);
    b->wait = wait;
    b->members = members;
    for (int at = 0; const BatchMember& m : members) {
        if (m.lanes < 1) throw std::invalid_argument("share_generator: stream '" + m.name + "' has no lanes");
        b->first.push_back(at);
        at += m.lanes;
    }
    const size_t K = members.size(), B = static_cast<size_t>(lanes);
    b->attached.assign(K, 1);
    b->arrived.assign(K, 0);
    b->missed.assign(K, 0);
    b->missed_logged.assign(K, {});
    b->result.resize(K);
    b->held_temperature.assign(B, 0.0f);
    b->held.assign(B * static_cast<size_t>(b->features), 0.0f);
    b->cut.assign(B, 0.0f);
    // Until a member says otherwise, its lanes play what they would on a generator of its own.
    for (const BatchMember& m : members) {
        const std::vector<float> w = default_instrument_weights(s, m.lanes);
        b->weights.insert(b->weights.end(), w.begin(), w.end());
    }
    std::vector<std::unique_ptr<Generator>> out;
    for (size_t k = 0; k < K; ++k) out.push_back(std::make_unique<Member>(b, k));
    return out;
}

}  // namespace wavecast
