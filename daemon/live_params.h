// A stream's live parameters as the control thread sets them and the producer reads them, one
// atomic per entry of protocol/params.h's table.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <string>

#include "protocol/params.h"

namespace wavecast {

class LiveParams {
public:
    // Each parameter's table default, else `derived` (the style's tempo, the stream's seed),
    // overridden by `given` (a config's [stream.params], already checked).
    LiveParams(const std::map<std::string, double>& given, const ParamValues& derived) {
        for (size_t i = 0; i < kParamCount; ++i) {
            const ParamSpec& spec = kParams[i];
            const auto it = given.find(spec.name);
            v_[i] = it != given.end() ? it->second : std::isnan(spec.fallback) ? derived.v[i] : spec.fallback;
        }
    }
    void set(Param p, double value) { v_[static_cast<size_t>(p)].store(value); }
    double get(Param p) const { return v_[static_cast<size_t>(p)].load(); }
    ParamValues snapshot() const {
        ParamValues out;
        for (size_t i = 0; i < kParamCount; ++i) out.v[i] = v_[i].load();
        return out;
    }

private:
    std::array<std::atomic<double>, kParamCount> v_;
};

}  // namespace wavecast
