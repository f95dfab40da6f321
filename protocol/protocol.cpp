#include "protocol/protocol.h"

#include <cmath>

namespace wavecast::protocol {

const std::vector<CommandSpec>& commands() {
    static const std::vector<CommandSpec> table = {
        {"ping", {}},
        {"status", {}},
        {"styles", {}},
        {"style", {"stream", "name", "blend", "crossfade", "now"}},
        {"set", {"stream", "params"}},
        {"record", {"stream", "path", "seconds", "bits", "midi", "overwrite"}},
        {"stop-record", {"stream"}},
        {"score", {"stream", "path"}},
        {"learn", {"stream", "param", "min", "max", "curve", "cancel"}},
        {"mappings", {"stream", "save"}},
        {"cue", {"stream", "what"}},
    };
    return table;
}

double check_param(const std::string& where, std::string_view name, const json& value) {
    const ParamSpec* p = find_param(name);
    if (!p) {
        std::string known;
        for (const auto& k : kParams) known += std::string(known.empty() ? "" : ", ") + k.name;
        throw Error(code::unknown_param, where + ": unknown parameter '" + std::string(name) + "' (known: " + known + ")");
    }
    if (!value.is_number()) throw Error(code::bad_type, where + "." + p->name + ": must be a number");
    const double v = value.get<double>();
    if (!std::isfinite(v)) throw Error(code::out_of_range, where + "." + p->name + ": must be finite");
    if (p->integer && v != std::floor(v)) throw Error(code::bad_type, where + "." + p->name + ": must be a whole number");
    if (v < p->min || v > p->max)
        throw Error(code::out_of_range, where + "." + p->name + ": " + json(v).dump() + " is outside [" + json(p->min).dump() + ", " +
                                            json(p->max).dump() + "]");
    return v;
}

Request parse_request(std::string_view raw, json& id_out) {
    id_out = nullptr;
    if (raw.size() > kMaxRequestBytes)
        throw Error(code::too_large,
                    "request of " + std::to_string(raw.size()) + " bytes exceeds the limit of " + std::to_string(kMaxRequestBytes));
    const json j = json::parse(raw.begin(), raw.end(), nullptr, false);
    if (j.is_discarded()) throw Error(code::bad_json, "request is not valid JSON");
    return check_request(j, id_out);
}

Request check_request(const json& j, json& id_out) {
    id_out = nullptr;
    if (!j.is_object()) throw Error(code::bad_request, "request must be a JSON object");
    if (j.contains("id")) id_out = j["id"];
    if (!j.contains("cmd")) throw Error(code::bad_request, "cmd: missing");
    if (!j["cmd"].is_string()) throw Error(code::bad_type, "cmd: must be a string");
    Request r{j["cmd"].get<std::string>(), id_out, j};
    const CommandSpec* spec = nullptr;
    for (const auto& c : commands())
        if (r.cmd == c.name) spec = &c;
    if (!spec) throw Error(code::unknown_command, "cmd: unknown command '" + r.cmd + "'");
    for (const auto& [key, value] : j.items()) {
        if (key == "cmd" || key == "id") continue;
        bool known = false;
        for (const char* f : spec->fields) known |= key == f;
        if (!known) throw Error(code::bad_request, key + ": not a field of '" + r.cmd + "'");
    }
    return r;
}

std::optional<std::string> get_string(const json& body, const char* field) {
    if (!body.contains(field)) return std::nullopt;
    if (!body[field].is_string()) throw Error(code::bad_type, std::string(field) + ": must be a string");
    return body[field].get<std::string>();
}

std::string require_string(const json& body, const char* field) {
    auto s = get_string(body, field);
    if (!s) throw Error(code::bad_request, std::string(field) + ": missing");
    if (s->empty()) throw Error(code::out_of_range, std::string(field) + ": must not be empty");
    return *s;
}

std::optional<double> get_number(const json& body, const char* field, double min, double max) {
    if (!body.contains(field)) return std::nullopt;
    if (!body[field].is_number()) throw Error(code::bad_type, std::string(field) + ": must be a number");
    const double v = body[field].get<double>();
    if (!std::isfinite(v) || v < min || v > max)
        throw Error(code::out_of_range,
                    std::string(field) + ": " + json(v).dump() + " is outside [" + json(min).dump() + ", " + json(max).dump() + "]");
    return v;
}

std::optional<bool> get_bool(const json& body, const char* field) {
    if (!body.contains(field)) return std::nullopt;
    if (!body[field].is_boolean()) throw Error(code::bad_type, std::string(field) + ": must be true or false");
    return body[field].get<bool>();
}

json ok_reply(const json& id, json fields) {
    json r = {{"ok", true}, {"id", id}};
    for (auto& [k, v] : fields.items()) r[k] = v;
    return r;
}

std::string to_wire(const json& message) { return message.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_reply(const json& id, const std::string& c, const std::string& message) {
    return {{"ok", false}, {"id", id}, {"error", {{"code", c}, {"message", message}}}};
}

}  // namespace wavecast::protocol
