// `wavecastd render`: a style rendered offline to a WAV file through the same Renderer as the
// live stream, as fast as the backend allows.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "chain/renderer.h"
#include "offline/setup.h"
#include "protocol/params.h"
#include "score/midi_file.h"
#include "score/style.h"

namespace wavecast {

struct RenderOptions {
    std::string style;
    double seconds = 10;
    std::string out;
    std::string midi;   // also write the notes as a standard MIDI file, when set
    std::string score;  // play this MIDI file instead of composing (then `style` may be empty)
    uint64_t seed = 1;
    int bits = 24;
    int rate = 0;  // 0: the model's own rate
    int lanes = 4;
    bool play = false;  // export: play the score through the network too, and keep what it played
    // The live parameters given on the command line (one option each, from params.h's table);
    // NaN where not given.
    ParamValues params = unset();

    // What the blocks render with: each parameter as given, else `stream` has it (the config's
    // first [stream.params]: a render sounds like the stream), else the table's default; the
    // tempo, unless given, `tempo` (the style's or the score's, never the stream's); the
    // composer's seed, `seed`.
    BlockParams resolve(const std::map<std::string, double>& stream, double tempo) const {
        BlockParams p;
        for (size_t i = 0; i < kParamCount; ++i) {
            const auto found = i == static_cast<size_t>(Param::tempo) ? stream.end() : stream.find(kParams[i].name);
            p.v[i] = !std::isnan(params.v[i]) ? params.v[i] : found != stream.end() ? found->second : kParams[i].fallback;
        }
        if (std::isnan(params[Param::tempo])) p[Param::tempo] = tempo;
        p[Param::seed] = static_cast<double>(seed);
        return p;
    }
    static ParamValues unset() {
        ParamValues v;
        v.v.fill(NAN);
        return v;
    }
};

// Throws on any failure (message says what and where); prints a summary line on success.
void render_file(const OfflineSetup& setup, const RenderOptions& options);

// What render and export play: the named style, or the given score with the style its parts make.
struct RenderSource {
    std::shared_ptr<const Style> style;
    std::optional<MidiScore> score;
};
RenderSource load_render_source(const OfflineSetup& setup, const RenderOptions& options);

}  // namespace wavecast
