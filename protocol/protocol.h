// The control protocol, shared by wavecastd and the wavecast client: one JSON object per message,
// requests {"cmd": ..., "id": any?, ...}, replies {"ok": true, "id": ..., ...} or
// {"ok": false, "id": ..., "error": {"code": ..., "message": ...}}. One parser, one vocabulary.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/params.h"

namespace wavecast::protocol {

using json = nlohmann::json;

inline constexpr const char* kDefaultControl = "tcp://127.0.0.1:5557";
inline constexpr const char* kDefaultTelemetry = "tcp://127.0.0.1:5558";
// A request larger than this is answered with too_large and not parsed.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

// The error vocabulary; every error reply carries one of these codes.
namespace code {
inline constexpr const char* bad_json = "bad_json";        // not parseable JSON
inline constexpr const char* bad_request = "bad_request";  // not an object, missing or unknown field
inline constexpr const char* unknown_command = "unknown_command";
inline constexpr const char* bad_type = "bad_type";          // a field of the wrong JSON type
inline constexpr const char* out_of_range = "out_of_range";  // a number outside its range, or not finite
inline constexpr const char* unknown_stream = "unknown_stream";
inline constexpr const char* unknown_param = "unknown_param";
inline constexpr const char* unknown_style = "unknown_style";
inline constexpr const char* too_large = "too_large";
inline constexpr const char* unsupported = "unsupported";  // valid, but this build cannot do it yet
inline constexpr const char* io_error = "io_error";        // e.g. a recording file that cannot be opened
inline constexpr const char* conflict = "conflict";        // e.g. already recording, or not recording
inline constexpr const char* busy = "busy";                // too much file work queued; try again
inline constexpr const char* internal = "internal";
}  // namespace code

struct Error : std::runtime_error {
    std::string code;
    Error(std::string c, const std::string& message) : std::runtime_error(message), code(std::move(c)) {}
};

// A live parameter's value as a request or a config gives it, checked against params.h's table.
// Throws Error(unknown_param | bad_type | out_of_range) naming `where`.
double check_param(const std::string& where, std::string_view name, const json& value);

struct Request {
    std::string cmd;
    json id;    // echoed in the reply; null when absent
    json body;  // the whole request object
};

// Parses and checks one request: valid JSON, an object, a known "cmd", only the fields that
// command takes, each of the right type. Throws Error; `id_out` receives the id whenever the
// request got far enough to have one, so that even an error reply can carry it.
Request parse_request(std::string_view raw, json& id_out);
// The checks of parse_request on a request already read as JSON.
Request check_request(const json& request, json& id_out);

// The commands and the fields each takes beyond cmd and id.
struct CommandSpec {
    const char* name;
    std::vector<const char*> fields;
};
const std::vector<CommandSpec>& commands();

// Typed field access for handlers: absent optional fields give nullopt.
std::optional<std::string> get_string(const json& body, const char* field);
std::optional<double> get_number(const json& body, const char* field, double min, double max);
std::optional<bool> get_bool(const json& body, const char* field);
std::string require_string(const json& body, const char* field);

json ok_reply(const json& id, json fields = json::object());
// One message as it goes on the wire. Strings that are not valid UTF-8 (a Latin-1 track name, a
// path from a non-UTF-8 file system) get U+FFFD in place of each bad byte: serialising never throws.
std::string to_wire(const json& message);
json error_reply(const json& id, const std::string& code, const std::string& message);

}  // namespace wavecast::protocol
