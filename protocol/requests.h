// The requests of the control protocol as types: parsed and checked in one place (every field's
// name, type and range), built by the client and turned back into JSON with to_json(). What only
// the daemon can check (that a stream or a style exists, that a file can be read) it checks.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/choices.h"
#include "protocol/params.h"
#include "protocol/protocol.h"

namespace wavecast::protocol {

struct Ping {};
struct Status {};
struct Styles {};
struct StyleCmd {
    std::optional<std::string> stream;
    std::string name;
    bool now = false;                                   // from the next beat, not the next bar
    double crossfade_s = 0;                             // 0..600
    std::vector<std::pair<std::string, double>> blend;  // style -> weight; includes `name` when given
};
struct Set {
    std::optional<std::string> stream;
    // At least one. Parsed, each names a parameter of params.h and is within its range; a client
    // may send any name (a newer daemon may know more): the daemon answers unknown_param.
    std::vector<std::pair<std::string, double>> params;
};
struct Record {
    std::optional<std::string> stream;
    std::string path;    // .wav or .flac, in the daemon's recordings folder
    double seconds = 0;  // 0: until stop-record
    int bits = 24;
    std::string midi;  // empty: none
    bool overwrite = false;
};
struct StopRecord {
    std::optional<std::string> stream;
};
struct Score {
    std::optional<std::string> stream;
    std::string path;
};
// MIDI learn: the next Control Change on the daemon's MIDI control input sets `param` of the
// stream from then on (over [min, max], the parameter's whole range by default).
struct Learn {
    std::optional<std::string> stream;
    std::string param;  // a name of params.h's table; empty with cancel
    std::optional<double> min, max;
    Curve curve = Curve::linear;
    bool cancel = false;  // forget a learn still waiting
};
// The stream's MIDI bindings; with save, also written to its mapping file.
struct Mappings {
    std::optional<std::string> stream;
    bool save = false;
};
// A performer's cue to the composer: "fill" (a drum fill to end the bar) or "next_section" (that
// fill, then the form's next section from the next bar line).
struct Cue {
    std::optional<std::string> stream;
    CueKind what = CueKind::fill;
};
using Command = std::variant<Ping, Status, Styles, StyleCmd, Set, Record, StopRecord, Score, Learn, Mappings, Cue>;

struct TypedRequest {
    json id;  // echoed in the reply; null when absent
    Command command;
};

// Parses and checks one request: valid JSON, an object, a known "cmd", only the fields that
// command takes, each of the right type and within its range. Throws Error; `id_out` receives the
// id whenever the request got far enough to have one, so that even an error reply can carry it.
TypedRequest parse(std::string_view raw, json& id_out);
// The same for a request already read as JSON (a surface that builds its requests, such as OSC's).
TypedRequest parse_object(const json& request, json& id_out);

// The request's JSON (what the client sends; parse() gives the command back).
json to_json(const Command& command, const json& id = nullptr);

}  // namespace wavecast::protocol
