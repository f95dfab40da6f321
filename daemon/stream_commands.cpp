#include "daemon/stream_commands.h"

#include "protocol/protocol.h"
#include "score/midi_file.h"
#include "util/files.h"

namespace wavecast {

using json = nlohmann::json;
namespace p = protocol;

json set_params(Stream& s, const p::Set& c) {
    // Every value was checked in parsing, so a bad request changed nothing.
    json applied = json::object();
    for (const auto& [name, v] : c.params) {
        s.set_param(param_of(*find_param(name)), v);
        applied[name] = v;
    }
    return {{"stream", s.name()}, {"params", applied}};
}

json change_style(Stream& s, const StyleShelf& styles, const p::StyleCmd& c) {
    auto find = [&](const std::string& field, const std::string& n) {
        auto style = styles.find(n);
        if (!style) throw p::Error(p::code::unknown_style, field + ": no style named '" + n + "' (see `wavecast styles`)");
        return style;
    };
    StyleChange change;
    change.style = find("name", c.name);
    change.now = c.now;
    change.crossfade_s = c.crossfade_s;
    json blend = json::object();
    for (const auto& [n, w] : c.blend) {
        change.blend.emplace_back(find("blend." + n, n), w);
        blend[n] = w;
    }
    s.set_style(change);
    json reply = {{"stream", s.name()}, {"style", c.name}, {"at", change.now ? "next beat" : "next bar"}, {"tempo", change.tempo()}};
    if (change.crossfade_s > 0) reply["crossfade"] = change.crossfade_s;
    if (!blend.empty()) reply["blend"] = blend;
    return reply;
}

json cue(Stream& s, const p::Cue& c) {
    s.cue(c.what == p::CueKind::fill ? Composer::Cue::fill : Composer::Cue::next_section);
    return {{"stream", s.name()}, {"cue", p::name(c.what)}};
}

std::function<json()> play_score(Stream& s, const p::Score& c) {
    return [&s, path = c.path] {
        MidiScore score;
        try {
            score = read_midi_file(path);
        } catch (const std::exception& e) {
            throw p::Error(p::code::io_error, std::string("path: ") + e.what());
        }
        const size_t notes = score.notes.size();
        s.set_score(std::move(score));
        return json{{"stream", s.name()}, {"path", path}, {"notes", notes}, {"tempo", s.tempo()}, {"at", "next bar"}};
    };
}

std::function<json()> stop_recording(Stream& s) {
    return [&s] {
        const RecorderStatus st = s.recorder().status();
        if (!st.active)
            throw p::Error(p::code::conflict,
                           "stream '" + s.name() + "' is not recording" + (st.error.empty() ? "" : " (" + st.error + ")"));
        const uint64_t frames = s.recorder().stop();
        return json{
            {"stream", s.name()}, {"path", st.path}, {"frames", frames}, {"seconds", static_cast<double>(frames) / s.output_rate()}};
    };
}

std::function<json()> start_recording(Stream& s, const p::Record& c, const std::string& recordings_dir) {
    return [&s, c, folder = recordings_dir] {
        auto place = [&](const char* field, const std::string& asked) {
            try {
                return path_in_folder(folder, asked);
            } catch (const std::exception& e) {
                throw p::Error(p::code::io_error, std::string(field) + ": " + e.what());
            }
        };
        RecordRequest r;
        r.path = place("path", c.path);
        if (!c.midi.empty()) r.midi_path = place("midi", c.midi);
        r.seconds = c.seconds, r.bits = c.bits, r.overwrite = c.overwrite;
        r.rate = s.output_rate();
        r.programs = s.programs();
        r.tempo_bpm = s.tempo();
        s.recorder().start(r);
        json reply = {{"stream", s.name()}, {"path", r.path}, {"seconds", r.seconds}, {"sample_rate", r.rate}};
        if (!r.midi_path.empty()) reply["midi"] = r.midi_path;
        return reply;
    };
}

}  // namespace wavecast
