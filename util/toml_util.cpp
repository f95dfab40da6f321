#include "util/toml_util.h"

#include <cmath>
#include <sstream>

#include "util/files.h"

namespace wavecast {

toml::table TomlReader::parse() const {
    // Read as a regular file of bounded size first: a FIFO in a config's place hung a SIGHUP in
    // open(), and a directory or /dev/zero parsed as an empty table (issue 33).
    std::vector<uint8_t> bytes;
    try {
        bytes = read_regular_file(path_, kMaxTomlBytes);
    } catch (const std::runtime_error& e) {
        throw ConfigError(e.what());
    }
    try {
        return toml::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path_);
    } catch (const toml::parse_error& e) {
        fail_line(static_cast<int>(e.source().begin.line), std::string(e.description()));
    }
}

void TomlReader::fail(const toml::node* at, const std::string& why) const {
    fail_line(at ? static_cast<int>(at->source().begin.line) : 0, why);
}

void TomlReader::fail_line(int line, const std::string& why) const {
    throw ConfigError(path_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + why);
}

void TomlReader::only_keys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& where) const {
    for (const auto& [k, v] : t) {
        bool ok = false;
        for (const auto& a : allowed) ok |= k.str() == a;
        if (!ok) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            fail(&v, "unknown key '" + std::string(k.str()) + "' in " + where + " (allowed: " + list + ")");
        }
    }
}

std::string TomlReader::get_string(const toml::table& t, const std::string& key, const std::string& fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_string()) fail(n, "'" + key + "' must be a string");
    return n->as_string()->get();
}

double TomlReader::get_number(const toml::table& t, const std::string& key, double fallback, double min, double max) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    double v;
    if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point()) v = n->as_floating_point()->get();
    else fail(n, "'" + key + "' must be a number");
    if (!std::isfinite(v) || v < min || v > max) {
        std::ostringstream s;
        s << "'" << key << "' = " << v << " is outside [" << min << ", " << max << "]";
        fail(n, s.str());
    }
    return v;
}

int64_t TomlReader::get_int(const toml::table& t, const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_integer()) fail(n, "'" + key + "' must be an integer");
    const int64_t v = n->as_integer()->get();
    if (v < min || v > max)
        fail(n, "'" + key + "' = " + std::to_string(v) + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return v;
}

bool TomlReader::get_bool(const toml::table& t, const std::string& key, bool fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_boolean()) fail(n, "'" + key + "' must be true or false");
    return n->as_boolean()->get();
}

const toml::table* TomlReader::get_table(const toml::table& t, const std::string& key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(n, "'" + key + "' must be a table");
    return n->as_table();
}

}  // namespace wavecast
