#include "protocol/requests.h"

#include <cmath>

namespace wavecast::protocol {

TypedRequest typed(const Request& r, const json& id_out);

namespace {

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

StyleCmd parse_style(const json& b) {
    StyleCmd c;
    c.stream = get_string(b, "stream");
    c.name = require_string(b, "name");
    c.now = get_bool(b, "now").value_or(false);
    c.crossfade_s = get_number(b, "crossfade", 0, 600).value_or(0);
    if (!b.contains("blend")) return c;
    const json& blend = b["blend"];
    if (!blend.is_object() || blend.empty()) throw Error(code::bad_type, "blend: must be an object of style names to weights");
    double total = 0;
    for (const auto& [name, w] : blend.items()) {
        if (!w.is_number()) throw Error(code::bad_type, "blend." + name + ": must be a number");
        const double v = w.get<double>();
        if (!std::isfinite(v) || v < 0 || v > 1000) throw Error(code::out_of_range, "blend." + name + ": must be a weight in [0, 1000]");
        c.blend.emplace_back(name, v);
        total += v;
    }
    if (!(total > 0)) throw Error(code::out_of_range, "blend: the weights must not all be zero");
    if (!blend.contains(c.name)) throw Error(code::bad_request, "blend: must include the style named by name, which leads the composition");
    return c;
}

Set parse_set(const json& b) {
    Set c;
    c.stream = get_string(b, "stream");
    if (!b.contains("params")) throw Error(code::bad_request, "params: missing");
    const json& params = b["params"];
    if (!params.is_object()) throw Error(code::bad_type, "params: must be an object");
    if (params.empty()) throw Error(code::bad_request, "params: names no parameter");
    for (const auto& [k, v] : params.items()) c.params.emplace_back(k, check_param("params", k, v));
    return c;
}

Record parse_record(const json& b) {
    Record c;
    c.stream = get_string(b, "stream");
    c.path = require_string(b, "path");
    c.seconds = get_number(b, "seconds", 0, 7 * 24 * 3600).value_or(0);
    const double bits = get_number(b, "bits", 16, 24).value_or(24);
    if (bits != 16 && bits != 24) throw Error(code::out_of_range, "bits: must be 16 or 24");
    c.bits = static_cast<int>(bits);
    c.midi = get_string(b, "midi").value_or("");
    c.overwrite = get_bool(b, "overwrite").value_or(false);
    return c;
}

Learn parse_learn(const json& b) {
    Learn c;
    c.stream = get_string(b, "stream");
    c.cancel = get_bool(b, "cancel").value_or(false);
    if (c.cancel) {
        for (const char* f : {"param", "min", "max", "curve"})
            if (b.contains(f)) throw Error(code::bad_request, std::string(f) + ": not taken with cancel");
        return c;
    }
    c.param = require_string(b, "param");
    const ParamSpec* p = find_param(c.param);
    if (!p) throw Error(code::unknown_param, "param: no live parameter is named '" + c.param + "'");
    c.min = get_number(b, "min", p->min, p->max);
    c.max = get_number(b, "max", p->min, p->max);
    const auto curve = from_name<Curve>(get_string(b, "curve").value_or("linear"));
    if (!curve) throw Error(code::out_of_range, "curve: must be " + choices_text<Curve>());
    c.curve = *curve;
    if (c.curve == Curve::exp && !(c.min.value_or(p->min) * c.max.value_or(p->max) > 0))
        throw Error(code::out_of_range, "curve: \"exp\" needs min and max of one sign, neither 0");
    return c;
}

}  // namespace

TypedRequest parse(std::string_view raw, json& id_out) { return typed(parse_request(raw, id_out), id_out); }

TypedRequest parse_object(const json& request, json& id_out) { return typed(check_request(request, id_out), id_out); }

TypedRequest typed(const Request& r, const json& id_out) {
    const json& b = r.body;
    TypedRequest out{id_out, Ping{}};
    if (r.cmd == "ping") out.command = Ping{};
    else if (r.cmd == "status") out.command = Status{};
    else if (r.cmd == "styles") out.command = Styles{};
    else if (r.cmd == "style") out.command = parse_style(b);
    else if (r.cmd == "set") out.command = parse_set(b);
    else if (r.cmd == "record") out.command = parse_record(b);
    else if (r.cmd == "stop-record") out.command = StopRecord{get_string(b, "stream")};
    else if (r.cmd == "score") out.command = Score{get_string(b, "stream"), require_string(b, "path")};
    else if (r.cmd == "learn") out.command = parse_learn(b);
    else if (r.cmd == "cue") {
        const auto what = from_name<CueKind>(require_string(b, "what"));
        if (!what) throw Error(code::out_of_range, "what: must be " + choices_text<CueKind>());
        out.command = Cue{get_string(b, "stream"), *what};
    } else if (r.cmd == "mappings") out.command = Mappings{get_string(b, "stream"), get_bool(b, "save").value_or(false)};
    else throw Error(code::unknown_command, "cmd: '" + r.cmd + "' has no parser");
    return out;
}

json to_json(const Command& command, const json& id) {
    json j = std::visit(Overloaded{[](const Ping&) {
                                       return json{{"cmd", "ping"}};
                                   },
                                   [](const Status&) {
                                       return json{{"cmd", "status"}};
                                   },
                                   [](const Styles&) {
                                       return json{{"cmd", "styles"}};
                                   },
                                   [](const StyleCmd& c) {
                                       json j = {{"cmd", "style"}, {"name", c.name}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       if (c.now) j["now"] = true;
                                       if (c.crossfade_s > 0) j["crossfade"] = c.crossfade_s;
                                       if (!c.blend.empty()) {
                                           j["blend"] = json::object();
                                           for (const auto& [n, w] : c.blend) j["blend"][n] = w;
                                       }
                                       return j;
                                   },
                                   [](const Set& c) {
                                       json j = {{"cmd", "set"}, {"params", json::object()}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       for (const auto& [name, v] : c.params) j["params"][name] = v;
                                       return j;
                                   },
                                   [](const Record& c) {
                                       json j = {{"cmd", "record"}, {"path", c.path}, {"bits", c.bits}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       if (c.seconds > 0) j["seconds"] = c.seconds;
                                       if (!c.midi.empty()) j["midi"] = c.midi;
                                       if (c.overwrite) j["overwrite"] = true;
                                       return j;
                                   },
                                   [](const StopRecord& c) {
                                       json j = {{"cmd", "stop-record"}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       return j;
                                   },
                                   [](const Score& c) {
                                       json j = {{"cmd", "score"}, {"path", c.path}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       return j;
                                   },
                                   [](const Learn& c) {
                                       json j = {{"cmd", "learn"}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       if (c.cancel) return j["cancel"] = true, j;
                                       j["param"] = c.param, j["curve"] = name(c.curve);
                                       if (c.min) j["min"] = *c.min;
                                       if (c.max) j["max"] = *c.max;
                                       return j;
                                   },
                                   [](const Mappings& c) {
                                       json j = {{"cmd", "mappings"}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       if (c.save) j["save"] = true;
                                       return j;
                                   },
                                   [](const Cue& c) {
                                       json j = {{"cmd", "cue"}, {"what", name(c.what)}};
                                       if (c.stream) j["stream"] = *c.stream;
                                       return j;
                                   }},
                        command);
    if (!id.is_null()) j["id"] = id;
    return j;
}

}  // namespace wavecast::protocol
