// `wavecastd render`: a style rendered offline to a WAV file through the same Renderer as the
// live stream, as fast as the backend allows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config.h"
#include "midi_file.h"
#include "style.h"

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
    double temperature = 1.0, tail_cut = 0.0, sustain_temperature = 0.0, intensity = 0.6, gain_db = 0.0, tempo = 0;  // tempo 0: the style's
    double masking_db = 0.0;
};

// Throws on any failure (message says what and where); prints a summary line on success.
void render_file(const DaemonConfig& config, const RenderOptions& options);

// What render and export play: the named style, or the given score with the style its parts make.
struct RenderSource {
    std::shared_ptr<const Style> style;
    std::optional<MidiScore> score;
};
RenderSource load_render_source(const DaemonConfig& config, const RenderOptions& options);

}  // namespace wavecast
