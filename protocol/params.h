// The live parameters of a stream, in one table: name, range, kind, default, unit and meaning.
// The client's help, the config's [stream.params], the stored live values, the `set` command,
// `status` and the README's table are all read off it, so adding a parameter is one line here
// (and, of course, the code that uses it).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

namespace wavecast {

// X(name, min, max, integer, default (NaN: see below), unit, help)
#define WAVECAST_PARAMS(X)                                                                                          \
    X(temperature, 0.0, 4.0, false, 1.0, "", "sampling temperature of the network; 0 picks the most likely sample") \
    X(tail_cut, 0.0, 1.0, false, 0.0, "",                                                                           \
      "samples less likely than this times the most likely one are never drawn, cutting the noise of the "          \
      "distribution's tail; 0 draws from all of it")                                                                \
    X(sustain_temperature, 0.0, 4.0, false, 0.0, "",                                                                \
      "the most a lane's temperature is once its newest note has sounded 0.1 s: 0 holds the note at the network's " \
      "most likely samples, clean of the hiss every draw adds; the attack keeps the temperature, which a note "     \
      "needs to leave the one before; 4 leaves it as it is")                                                        \
    X(pitch_sharpening, 0.0, 1.0, false, 0.0, "",                                                                   \
      "how far a lane's draws sharpen as its output repeats at its note's period (LPCNet's rule at 1: the "         \
      "temperature over 1 + max(0, 1.5 g - 0.5), g the correlation one period back): held notes clean, attacks "    \
      "free, no switch by note age; 0 off")                                                                         \
    X(tempo, 20.0, 300.0, false, NAN, "bpm", "beats per minute (default: the style's)")                             \
    X(intensity, 0.0, 1.0, false, 0.6, "", "density and loudness of the score")                                     \
    X(gain_db, -60.0, 12.0, false, 0.0, "dB", "a trim around the loudness target")                                  \
    X(masking_db, -100.0, 40.0, false, 0.0, "dB",                                                                   \
      "frequency masking relative to the masking threshold: 0 removes what is inaudible, positive removes more "    \
      "(audible lo-fi), -90 and below passes everything")                                                           \
    X(key, -1.0, 11.0, true, -1.0, "", "the tonic as a pitch class (0 = C ... 11 = B); -1: the style's own key")    \
    X(seed, 0.0, 2147483647.0, true, NAN, "", "seed of the composer's choices; another seed, other music (default: the stream's)")

enum class Param {
#define WAVECAST_PARAM_ENUM(name, ...) name,
    WAVECAST_PARAMS(WAVECAST_PARAM_ENUM)
#undef WAVECAST_PARAM_ENUM
};

struct ParamSpec {
    const char* name;
    double min, max;
    bool integer;
    double fallback;  // NaN where the default is the stream's own (the style's tempo, the stream's seed)
    const char* unit;
    const char* help;
};

inline constexpr ParamSpec kParams[] = {
#define WAVECAST_PARAM_SPEC(name, min, max, integer, fallback, unit, help) {#name, min, max, integer, fallback, unit, help},
    WAVECAST_PARAMS(WAVECAST_PARAM_SPEC)
#undef WAVECAST_PARAM_SPEC
};
inline constexpr size_t kParamCount = std::size(kParams);

inline constexpr const ParamSpec& param_spec(Param p) { return kParams[static_cast<size_t>(p)]; }

// The parameter of that name, or nullptr.
inline const ParamSpec* find_param(std::string_view name) {
    for (const auto& p : kParams)
        if (name == p.name) return &p;
    return nullptr;
}
inline Param param_of(const ParamSpec& spec) { return static_cast<Param>(&spec - kParams); }

// The table as the README shows it (Markdown), and `wavecast params` prints it.
inline std::string params_markdown() {
    auto num = [](double v) {
        std::string s = std::to_string(v);
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
        return s;
    };
    std::string out = "| parameter | range | unit | default | what it does |\n| --- | --- | --- | --- | --- |\n";
    for (const auto& p : kParams)
        out += std::string("| `") + p.name + "` | " + num(p.min) + " .. " + num(p.max) + (p.integer ? ", whole" : "") + " | " + p.unit +
               " | " + (std::isnan(p.fallback) ? std::string("see right") : num(p.fallback)) + " | " + p.help + " |\n";
    return out;
}

// One value per parameter: what a block renders with (a snapshot of a stream's live values).
struct ParamValues {
    std::array<double, kParamCount> v{};
    double operator[](Param p) const { return v[static_cast<size_t>(p)]; }
    double& operator[](Param p) { return v[static_cast<size_t>(p)]; }
};

}  // namespace wavecast
