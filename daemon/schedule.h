// A station's clock: [[schedule]] entries in the config change a stream's style at given times of
// day, or every so often through a list of styles. Times are the machine's local time.
//
//   [[schedule]]                      [[schedule]]
//   at = ["06:00", "18:30"]           every = "15m"            # s, m or h; aligned to midnight
//   days = ["mon", "tue"]  # optional styles = ["lofi", "jazz_trio", "ambient"]
//   style = "ambient"                 stream = "main"          # optional: else every stream
//   crossfade = 8          # seconds  crossfade = 4
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/toml_util.h"

namespace wavecast {

struct ScheduleEntry {
    std::string stream;               // empty: every stream
    std::vector<int> at_s;            // times of day, seconds after local midnight
    unsigned days = 0x7f;             // with at: bit d for weekday d (0 Sunday)
    int every_s = 0;                  // > 0: a change every so many seconds
    std::vector<std::string> styles;  // with at: one; with every: taken in turn
    double crossfade_s = 0;
    int line = 0;  // in the config, for the log
    bool operator==(const ScheduleEntry&) const = default;
};

// The [[schedule]] array (`node` may be null: none). Throws ConfigError "FILE:LINE: reason".
std::vector<ScheduleEntry> parse_schedule(const TomlReader& r, const toml::node* node);

class Scheduler {
public:
    explicit Scheduler(std::vector<ScheduleEntry> entries) : entries_(std::move(entries)) {}

    struct Change {
        std::string stream;  // empty: every stream
        std::string style;
        double crossfade_s;
        int line;
    };
    // The changes that fell due since the last call (none on the first, which only starts the
    // clock), given the local time as seconds since the epoch (local_seconds()).
    std::vector<Change> due(long long local_s);
    const std::vector<ScheduleEntry>& entries() const { return entries_; }

private:
    std::vector<ScheduleEntry> entries_;
    long long last_ = -1;
};

// The wall clock as local time: seconds since 1970-01-01 00:00 in the machine's time zone.
long long local_seconds(std::chrono::system_clock::time_point t);

}  // namespace wavecast
