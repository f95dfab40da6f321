#include "control/midi_map.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "util/toml_util.h"

namespace wavecast {

std::string MidiMap::problem(const Cc& b) {
    const ParamSpec& p = param_spec(b.param);
    for (double v : {b.min, b.max})
        if (!std::isfinite(v) || v < p.min || v > p.max) {
            std::ostringstream s;
            s << "min and max must lie within " << p.name << "'s range [" << p.min << ", " << p.max << "]";
            return s.str();
        }
    if (b.curve == Curve::exp && !(b.min * b.max > 0)) return "curve \"exp\" needs min and max of one sign, neither 0";
    return "";
}

double MidiMap::value(const Cc& b, int cc_value) {
    const double x = std::clamp(cc_value, 0, 127) / 127.0;
    const double v = b.curve == Curve::exp ? b.min * std::pow(b.max / b.min, x) : b.min + (b.max - b.min) * x;
    const ParamSpec& p = param_spec(b.param);
    return std::clamp(p.integer ? std::round(v) : v, p.min, p.max);  // pow's last bit may land past max
}

MidiMap MidiMap::load(const std::string& path) {
    const TomlReader r(path);
    const toml::table root = r.parse();
    r.only_keys(root, {"cc", "program", "keys", "cue"}, "the file");
    auto tables = [&](const char* key, const std::vector<std::string>& allowed, auto each) {
        const toml::node* n = root.get(key);
        if (!n) return;
        if (!n->is_array_of_tables()) r.fail(n, std::string("'") + key + "' must be an array of tables ([[" + key + "]])");
        for (const auto& e : *n->as_array()) {
            const toml::table& t = *e.as_table();
            r.only_keys(t, allowed, std::string("[[") + key + "]]");
            each(t);
        }
    };
    auto required = [&](const toml::table& t, const char* key, const char* what) {
        if (!t.contains(key)) r.fail(&t, std::string(what) + " needs " + key);
    };
    MidiMap m;
    tables("cc", {"channel", "cc", "param", "min", "max", "curve"}, [&](const toml::table& t) {
        required(t, "cc", "[[cc]]");
        required(t, "param", "[[cc]]");
        Cc b;
        b.channel = static_cast<int>(r.get_int(t, "channel", 0, 1, 16));
        b.cc = static_cast<int>(r.get_int(t, "cc", 0, 0, 119));
        const std::string name = r.get_string(t, "param", "");
        const ParamSpec* p = find_param(name);
        if (!p) r.fail(t.get("param"), "no live parameter is named '" + name + "' (see `wavecast params`)");
        b.param = param_of(*p);
        b.min = r.get_number(t, "min", p->min, -1e12, 1e12);
        b.max = r.get_number(t, "max", p->max, -1e12, 1e12);
        const auto curve = protocol::from_name<Curve>(r.get_string(t, "curve", "linear"));
        if (!curve) r.fail(t.get("curve"), "curve must be " + protocol::choices_text<Curve>());
        b.curve = *curve;
        if (const std::string why = problem(b); !why.empty()) r.fail(&t, why);
        for (const auto& other : m.cc)
            if (other.cc == b.cc && (other.channel == b.channel || other.channel == 0 || b.channel == 0))
                r.fail(&t, "CC " + std::to_string(b.cc) + " is mapped twice on one channel");
        m.cc.push_back(b);
    });
    tables("program", {"channel", "program", "style", "crossfade", "now"}, [&](const toml::table& t) {
        required(t, "program", "[[program]]");
        required(t, "style", "[[program]]");
        Program b;
        b.channel = static_cast<int>(r.get_int(t, "channel", 0, 1, 16));
        b.program = static_cast<int>(r.get_int(t, "program", 0, 0, 127));
        b.style = r.get_string(t, "style", "");
        if (b.style.empty()) r.fail(t.get("style"), "style must name a style");
        b.crossfade_s = r.get_number(t, "crossfade", 0, 0, 600);
        b.now = r.get_bool(t, "now", false);
        m.programs.push_back(b);
    });
    tables("keys", {"channel", "low", "high"}, [&](const toml::table& t) {
        Keys b;
        b.channel = static_cast<int>(r.get_int(t, "channel", 0, 1, 16));
        b.low = static_cast<int>(r.get_int(t, "low", 0, 0, 127));
        b.high = static_cast<int>(r.get_int(t, "high", 127, 0, 127));
        if (b.low > b.high) r.fail(&t, "low must not be above high");
        m.keys.push_back(b);
    });
    tables("cue", {"channel", "note", "cue"}, [&](const toml::table& t) {
        required(t, "note", "[[cue]]");
        required(t, "cue", "[[cue]]");
        CueNote b;
        b.channel = static_cast<int>(r.get_int(t, "channel", 0, 1, 16));
        b.note = static_cast<int>(r.get_int(t, "note", 0, 0, 127));
        const auto cue = protocol::from_name<protocol::CueKind>(r.get_string(t, "cue", ""));
        if (!cue) r.fail(t.get("cue"), "cue must be " + protocol::choices_text<protocol::CueKind>());
        b.cue = *cue;
        for (const auto& other : m.cues)
            if (other.note == b.note && (other.channel == b.channel || other.channel == 0 || b.channel == 0))
                r.fail(&t, "note " + std::to_string(b.note) + " cues twice on one channel");
        m.cues.push_back(b);
    });
    return m;
}

std::string MidiMap::to_toml() const {
    toml::array cc_list, program_list, key_list, cue_list;
    for (const auto& b : cc) {
        toml::table t{
            {"cc", b.cc}, {"param", param_spec(b.param).name}, {"min", b.min}, {"max", b.max}, {"curve", protocol::name(b.curve)}};
        if (b.channel) t.insert("channel", b.channel);
        cc_list.push_back(std::move(t));
    }
    for (const auto& b : programs) {
        toml::table t{{"program", b.program}, {"style", b.style}, {"crossfade", b.crossfade_s}, {"now", b.now}};
        if (b.channel) t.insert("channel", b.channel);
        program_list.push_back(std::move(t));
    }
    for (const auto& b : keys) {
        toml::table t{{"low", b.low}, {"high", b.high}};
        if (b.channel) t.insert("channel", b.channel);
        key_list.push_back(std::move(t));
    }
    for (const auto& b : cues) {
        toml::table t{{"note", b.note}, {"cue", protocol::name(b.cue)}};
        if (b.channel) t.insert("channel", b.channel);
        cue_list.push_back(std::move(t));
    }
    toml::table root;
    if (!cc_list.empty()) root.insert("cc", std::move(cc_list));
    if (!program_list.empty()) root.insert("program", std::move(program_list));
    if (!key_list.empty()) root.insert("keys", std::move(key_list));
    if (!cue_list.empty()) root.insert("cue", std::move(cue_list));
    std::ostringstream out;
    out << "# wavecast MIDI mapping, written by `wavecast mappings --save` (see the README, \"MIDI control\").\n\n" << root << "\n";
    return out.str();
}

nlohmann::json MidiMap::to_json() const {
    nlohmann::json j = {{"cc", nlohmann::json::array()},
                        {"program", nlohmann::json::array()},
                        {"keys", nlohmann::json::array()},
                        {"cue", nlohmann::json::array()}};
    for (const auto& b : cc)
        j["cc"].push_back({{"channel", b.channel},
                           {"cc", b.cc},
                           {"param", param_spec(b.param).name},
                           {"min", b.min},
                           {"max", b.max},
                           {"curve", protocol::name(b.curve)}});
    for (const auto& b : programs)
        j["program"].push_back(
            {{"channel", b.channel}, {"program", b.program}, {"style", b.style}, {"crossfade", b.crossfade_s}, {"now", b.now}});
    for (const auto& b : keys) j["keys"].push_back({{"channel", b.channel}, {"low", b.low}, {"high", b.high}});
    for (const auto& b : cues) j["cue"].push_back({{"channel", b.channel}, {"note", b.note}, {"cue", protocol::name(b.cue)}});
    return j;
}

std::vector<protocol::Command> MidiMap::commands(const uint8_t* bytes, size_t size, const std::string& stream) const {
    std::vector<protocol::Command> out;
    if (size < 2 || bytes[0] < 0x80 || bytes[0] >= 0xF0) return out;  // channel voice messages only
    const int kind = bytes[0] & 0xF0, channel = (bytes[0] & 0x0F) + 1, d1 = bytes[1] & 0x7F, d2 = size > 2 ? bytes[2] & 0x7F : 0;
    auto on = [channel](int c) { return c == 0 || c == channel; };
    if (kind == 0xB0 && size == 3) {
        for (const auto& b : cc)
            if (b.cc == d1 && on(b.channel)) out.push_back(protocol::Set{stream, {{param_spec(b.param).name, value(b, d2)}}});
    } else if (kind == 0xC0) {
        for (const auto& b : programs)
            if (b.program == d1 && on(b.channel)) {
                protocol::StyleCmd c;
                c.stream = stream, c.name = b.style, c.now = b.now, c.crossfade_s = b.crossfade_s;
                out.push_back(c);
            }
    } else if (kind == 0x90 && size == 3 && d2 > 0) {
        for (const auto& b : cues)
            if (b.note == d1 && on(b.channel)) {
                out.push_back(protocol::Cue{stream, b.cue});
                return out;
            }
        for (const auto& b : keys)
            if (d1 >= b.low && d1 <= b.high && on(b.channel)) {
                out.push_back(protocol::Set{stream, {{"key", d1 % 12}}});
                break;  // one key however many ranges hold the note
            }
    }
    return out;
}

void MidiMap::bind(const Cc& b) {
    std::erase_if(cc, [&](const Cc& o) { return o.cc == b.cc && (o.channel == b.channel || o.channel == 0 || b.channel == 0); });
    cc.push_back(b);
}

}  // namespace wavecast
