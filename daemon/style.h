// Styles: TOML files in config/styles/ naming a tempo, key, scale and an instrument per track.
// This is the schema the placeholder score source reads; the composer will extend it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wavecast {

struct TrackStyle {
    std::string name;    // drums, bass, harmony, lead, ...
    int program = 0;     // General MIDI program 0..127
    bool drums = false;  // GM percussion (MIDI channel 10)
    double pan = 0.0;    // -1 left .. +1 right
    double level_db = 0.0;
};

struct Style {
    std::string name;
    std::string description;
    std::string file;
    double tempo = 100;
    int root = 60;                   // MIDI note of the key's tonic
    std::vector<int> scale;          // semitones above the root
    std::vector<std::vector<int>> progression;  // chords as scale degrees (0-based), one per bar
    double swing = 0.0;              // 0..0.5, delay of off-beat eighths as a share of an eighth
    std::vector<TrackStyle> tracks;
};

// Throws ConfigError "FILE:LINE: reason".
Style load_style(const std::string& path);

// Every *.toml in `dir`, by name. All or nothing: one bad file refuses the whole set, so that a
// reload never leaves a mix of old and new styles.
std::map<std::string, std::shared_ptr<const Style>> load_styles(const std::string& dir);

}  // namespace wavecast
