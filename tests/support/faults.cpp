#include "tests/support/faults.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kernels/frame_features.h"

namespace wavecast {

Faults Faults::from_env() {
    Faults f;
    const char* env = std::getenv("WAVECAST_TEST_FAULTS");
    if (!env || !*env) return f;
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto eq = item.find('=');
        const std::string key = item.substr(0, eq);
        double value = 0;
        try {
            if (eq == std::string::npos) throw std::invalid_argument("no value");
            size_t used = 0;
            value = std::stod(item.substr(eq + 1), &used);
            if (used != item.size() - eq - 1) throw std::invalid_argument("trailing text");
        } catch (const std::exception&) {
            throw std::runtime_error("WAVECAST_TEST_FAULTS: '" + item + "' is not key=number");
        }
        if (key == "slow_producer" && value > 0) f.slow_producer = value;
        else if (key == "generator_fails_after_s" && value >= 0) f.generator_fails_after_s = value;
        else if (key == "masking_fails_after_s" && value >= 0) f.masking_fails_after_s = value;
        else if (key == "onset_clicks" && (value == 0 || value == 1)) f.onset_clicks = value == 1;
        else throw std::runtime_error("WAVECAST_TEST_FAULTS: unknown fault or bad value '" + item + "'");
    }
    return f;
}

std::string Faults::describe() const {
    std::string s;
    if (slow_producer > 0) s += "producer slowed " + std::to_string(slow_producer) + "x; ";
    if (generator_fails_after_s >= 0) s += "generator fails after " + std::to_string(generator_fails_after_s) + " s; ";
    if (masking_fails_after_s >= 0) s += "masking fails after " + std::to_string(masking_fails_after_s) + " s; ";
    if (onset_clicks) s += "clicks at note onsets instead of the network; ";
    return s.empty() ? "none" : s.substr(0, s.size() - 2);
}

namespace {

class FailingGenerator final : public Generator {
public:
    FailingGenerator(std::unique_ptr<Generator> inner, double after_s)
        : inner_(std::move(inner)), limit_(static_cast<uint64_t>(after_s * inner_->spec().sample_rate)) {}
    const ModelSpec& spec() const override { return inner_->spec(); }
    int lanes() const override { return inner_->lanes(); }
    std::string backend() const override { return inner_->backend(); }
    void set_instruments(const float* weights) override { inner_->set_instruments(weights); }
    void set_tail_cut(const float* cut) override { inner_->set_tail_cut(cut); }
    void generate(const float* features, const float* temperature, int frames, float* out) override {
        if (inner_->position() >= limit_) throw std::runtime_error("injected fault: the generator's device was lost");
        inner_->generate(features, temperature, frames, out);
    }
    uint64_t position() const override { return inner_->position(); }

private:
    std::unique_ptr<Generator> inner_;
    uint64_t limit_;
};

class FailingMasking final : public Masking {
public:
    FailingMasking(std::unique_ptr<Masking> inner, int sample_rate, double after_s)
        : inner_(std::move(inner)), limit_(static_cast<uint64_t>(after_s * sample_rate)) {}
    void process(const float* in, float* out, size_t frames, float masking_db) override {
        if (done_ >= limit_) throw std::runtime_error("injected fault: cudaErrorMisalignedAddress: misaligned address (sticky)");
        inner_->process(in, out, frames, masking_db);
        done_ += frames;
    }
    int latency() const override { return inner_->latency(); }
    int fft_size() const override { return inner_->fft_size(); }
    const char* backend() const override { return "cuda"; }
    MaskingStats stats() const override { return inner_->stats(); }

private:
    std::unique_ptr<Masking> inner_;
    uint64_t limit_, done_ = 0;
};

class SlowGenerator final : public Generator {
public:
    SlowGenerator(std::unique_ptr<Generator> inner, double factor) : inner_(std::move(inner)), factor_(factor) {}
    const ModelSpec& spec() const override { return inner_->spec(); }
    int lanes() const override { return inner_->lanes(); }
    std::string backend() const override { return inner_->backend(); }
    void set_instruments(const float* weights) override { inner_->set_instruments(weights); }
    void set_tail_cut(const float* cut) override { inner_->set_tail_cut(cut); }
    void generate(const float* features, const float* temperature, int frames, float* out) override {
        const auto t0 = std::chrono::steady_clock::now();
        inner_->generate(features, temperature, frames, out);
        const double audio_s = static_cast<double>(frames) * inner_->spec().frame_hop / inner_->spec().sample_rate;
        std::this_thread::sleep_until(
            t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(audio_s * factor_)));
    }
    uint64_t position() const override { return inner_->position(); }

private:
    std::unique_ptr<Generator> inner_;
    double factor_;
};

class OnsetClickGenerator final : public Generator {
public:
    explicit OnsetClickGenerator(std::unique_ptr<Generator> inner) : inner_(std::move(inner)) {}
    const ModelSpec& spec() const override { return inner_->spec(); }
    int lanes() const override { return inner_->lanes(); }
    std::string backend() const override { return inner_->backend() + " (onset clicks)"; }
    void set_instruments(const float*) override {}
    void set_tail_cut(const float*) override {}
    void generate(const float* features, const float*, int frames, float* out) override {
        const int lanes = inner_->lanes(), hop = inner_->spec().frame_hop;
        const size_t n = static_cast<size_t>(frames) * hop;
        std::fill(out, out + static_cast<size_t>(lanes) * n, 0.0f);
        for (int f = 0; f < frames; ++f)
            for (int b = 0; b < lanes; ++b) {
                const float* x = features + (static_cast<size_t>(f) * lanes + b) * kFrameFeatures;
                if (std::none_of(x + kOnsetOffset, x + kOnsetOffset + kPitches, [](float v) { return v > 0.0f; })) continue;
                float* y = out + static_cast<size_t>(b) * n + static_cast<size_t>(f) * hop;
                for (int i = 0; i < 8; ++i) y[i] = 0.9f * (1.0f - i / 8.0f);
            }
        pos_ += n;
    }
    uint64_t position() const override { return pos_; }

private:
    std::unique_ptr<Generator> inner_;
    uint64_t pos_ = 0;
};

}  // namespace

std::unique_ptr<Generator> slow_generator(std::unique_ptr<Generator> inner, double factor) {
    return std::make_unique<SlowGenerator>(std::move(inner), factor);
}

StageHooks hooks_from_env() {
    const Faults f = Faults::from_env();
    StageHooks h;
    if (!f.any()) return h;
    h.note = "test faults injected: " + f.describe();
    h.generator = [f](std::unique_ptr<Generator> g) {
        if (f.onset_clicks) g = onset_click_generator(std::move(g));
        if (f.generator_fails_after_s >= 0) g = failing_generator(std::move(g), f.generator_fails_after_s);
        if (f.slow_producer > 0) g = slow_generator(std::move(g), f.slow_producer);
        return g;
    };
    h.masking = [f](std::unique_ptr<Masking> m, int rate) {
        return f.masking_fails_after_s >= 0 ? failing_masking(std::move(m), rate, f.masking_fails_after_s) : std::move(m);
    };
    return h;
}

std::unique_ptr<Generator> onset_click_generator(std::unique_ptr<Generator> inner) {
    return std::make_unique<OnsetClickGenerator>(std::move(inner));
}

std::unique_ptr<Masking> failing_masking(std::unique_ptr<Masking> inner, int sample_rate, double after_s) {
    return std::make_unique<FailingMasking>(std::move(inner), sample_rate, after_s);
}

std::unique_ptr<Generator> failing_generator(std::unique_ptr<Generator> inner, double after_s) {
    return std::make_unique<FailingGenerator>(std::move(inner), after_s);
}

}  // namespace wavecast
