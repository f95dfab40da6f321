// Styles: TOML files in config/styles/ (schema in config/styles/README.md): tempo, key, scale,
// chord progression, form, and per track its instrument (General MIDI), role and patterns.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wavecast {

// A 16-step pattern (sixteenth notes of one 4/4 bar): 'x' plays, 'o' plays accented, '.' rests,
// '-' holds the previous note; for bass also '5' (the fifth), '8' (the octave), '3' (the third).
using Pattern = std::string;

struct TrackStyle {
    std::string name;    // shown in MIDI files and telemetry
    std::string role;    // drums, bass, harmony or lead: what the composer writes for it
    int program = 0;     // General MIDI program 0..127
    bool drums = false;  // GM percussion (MIDI channel 10)
    double pan = 0.0;    // -1 left .. +1 right
    double level_db = 0.0;
    int octave = 0;               // shifts the role's register by octaves
    Pattern pattern;              // bass and lead rhythm, harmony hits
    std::string comping = "pad";  // harmony: pad (held chords), stabs (on the pattern), arp (broken chords)
    // drums: one pattern per voice (GM notes: kick 36, snare 38, clap 39, closed hat 42, open hat 46, ride 51)
    Pattern kick, snare, hat, open_hat, ride, clap;
};

// One section of the form: `bars` long; `density` scales how many notes play; `roles` play in it.
struct Section {
    std::string name;
    int bars = 8;
    double density = 1.0;
    std::vector<std::string> roles;
};

struct Style {
    std::string name;
    std::string description;
    std::string file;
    double tempo = 100;
    int root = 60;                              // MIDI note of the key's tonic
    std::vector<int> scale;                     // semitones above the root
    std::vector<std::vector<int>> progression;  // chords as scale degrees (0-based), one per bar
    double swing = 0.0;                         // 0..0.5, delay of off-beat eighths as a share of an eighth
    double variation = 0.3;                     // 0..1: how freely motifs and patterns vary (scaled by temperature)
    std::vector<Section> form;                  // played in order, then again with new material
    std::vector<TrackStyle> tracks;
};

// Throws ConfigError "FILE:LINE: reason".
Style load_style(const std::string& path);

// Every *.toml in `dir`, by name. All or nothing: one bad file refuses the whole set, so that a
// reload never leaves a mix of old and new styles.
std::map<std::string, std::shared_ptr<const Style>> load_styles(const std::string& dir);

}  // namespace wavecast
