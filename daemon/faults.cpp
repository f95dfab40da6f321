#include "faults.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

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
        else throw std::runtime_error("WAVECAST_TEST_FAULTS: unknown fault or bad value '" + item + "'");
    }
    return f;
}

std::string Faults::describe() const {
    std::string s;
    if (slow_producer > 0) s += "producer slowed " + std::to_string(slow_producer) + "x; ";
    if (generator_fails_after_s >= 0) s += "generator fails after " + std::to_string(generator_fails_after_s) + " s; ";
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
    void generate(const float* features, const float* temperature, int frames, float* out) override {
        if (inner_->position() >= limit_) throw std::runtime_error("injected fault: the generator's device was lost");
        inner_->generate(features, temperature, frames, out);
    }
    uint64_t position() const override { return inner_->position(); }

private:
    std::unique_ptr<Generator> inner_;
    uint64_t limit_;
};

}  // namespace

std::unique_ptr<Generator> failing_generator(std::unique_ptr<Generator> inner, double after_s) {
    return std::make_unique<FailingGenerator>(std::move(inner), after_s);
}

}  // namespace wavecast
