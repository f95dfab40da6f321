// A stream's MIDI mapping (a TOML file, per stream): which Control Change sets which live
// parameter over which range and curve, which Program Change picks which style, which keys set
// the key, which notes cue a fill or the next section. It turns a MIDI message into the control protocol's own commands, so a knob is
// checked exactly as `wavecast set` is. MIDI learn adds bindings; to_toml() writes them back.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/requests.h"

namespace wavecast {

class MidiMap {
public:
    using Curve = protocol::Curve;  // exp: equal ratios per step (min and max of one sign, not 0)
    struct Cc {
        int channel = 0;  // 1..16; 0: any
        int cc = 0;       // 0..119 (120..127 are channel mode messages)
        Param param = Param::temperature;
        double min = 0, max = 1;  // at CC value 0 and 127; min > max turns the knob around
        Curve curve = Curve::linear;
    };
    struct Program {
        int channel = 0;
        int program = 0;  // 0..127 as sent (many devices show 1..128)
        std::string style;
        double crossfade_s = 0;
        bool now = false;  // from the next beat, not the next bar
    };
    struct Keys {  // a note-on in [low, high] sets the key to its pitch class
        int channel = 0;
        int low = 0, high = 127;
    };
    struct CueNote {  // a note-on of `note` cues the composer
        int channel = 0;
        int note = 0;
        protocol::CueKind cue = protocol::CueKind::fill;
    };

    std::vector<Cc> cc;
    std::vector<Program> programs;
    std::vector<Keys> keys;
    std::vector<CueNote> cues;  // before keys: a cue note inside a key range cues, and sets no key

    // Throws ConfigError "FILE:LINE: reason" (a parameter or range the table refuses, a bad curve,
    // an unknown key).
    static MidiMap load(const std::string& path);
    // The file load() reads back to the same bindings.
    std::string to_toml() const;
    nlohmann::json to_json() const;

    // The commands one message (1 to 3 bytes) asks of `stream`; none where nothing maps it.
    std::vector<protocol::Command> commands(const uint8_t* bytes, size_t size, const std::string& stream) const;
    // Adds `b`, replacing whatever the same CC on the same channel (or any) did.
    void bind(const Cc& b);

    // Checks a binding against the parameter table; the reason, or "" when it is sound.
    static std::string problem(const Cc& b);
    // The value a CC value (0..127) gives under `b`.
    static double value(const Cc& b, int cc_value);
};

}  // namespace wavecast
