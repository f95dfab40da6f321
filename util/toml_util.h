// Helpers for reading TOML into plain structs with errors of the form "FILE:LINE: reason".
#pragma once

#include <toml++/toml.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace wavecast {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class TomlReader {
public:
    // Configs, styles, mappings: far below this; a file above it is refused, not read.
    static constexpr size_t kMaxTomlBytes = 1 << 20;

    explicit TomlReader(std::string path) : path_(std::move(path)) {}

    // Parses the file; a syntax error becomes ConfigError with the line and the parser's reason,
    // and a path that is not a regular file (a FIFO, a directory, a device) or is too large
    // ConfigError "PATH: reason", without blocking.
    toml::table parse() const;

    [[noreturn]] void fail(const toml::node* at, const std::string& why) const;
    [[noreturn]] void fail_line(int line, const std::string& why) const;

    // Refuses any key of `t` not in `allowed`, naming the first unknown one.
    void only_keys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& where) const;

    std::string get_string(const toml::table& t, const std::string& key, const std::string& fallback) const;
    double get_number(const toml::table& t, const std::string& key, double fallback, double min, double max) const;
    int64_t get_int(const toml::table& t, const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
    bool get_bool(const toml::table& t, const std::string& key, bool fallback) const;
    const toml::table* get_table(const toml::table& t, const std::string& key) const;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace wavecast
