#include "daemon/schedule.h"

#include <ctime>
#include <map>

namespace wavecast {
namespace {

constexpr long long kDay = 86400;

bool digits(const std::string& s, size_t from, size_t n) {
    if (from + n > s.size()) return false;
    for (size_t i = from; i < from + n; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

// "HH:MM" or "HH:MM:SS", digits only (no sign, no space: sscanf took " 1:00" and "+1:05") ->
// seconds after midnight; -1 when malformed.
int time_of_day(const std::string& s) {
    if (!(s.size() == 5 || (s.size() == 8 && s[5] == ':' && digits(s, 6, 2))) || s[2] != ':' || !digits(s, 0, 2) || !digits(s, 3, 2))
        return -1;
    const int h = std::stoi(s.substr(0, 2)), m = std::stoi(s.substr(3, 2)), sec = s.size() == 8 ? std::stoi(s.substr(6, 2)) : 0;
    if (h > 23 || m > 59 || sec > 59) return -1;
    return h * 3600 + m * 60 + sec;
}

// "30s", "15m", "2h": one to five digits and a unit -> seconds, at most a day; -1 otherwise. The
// digits are counted before they are read, so no value overflows before the range check (as
// "922337203685477581m" did, firing every 12 s).
int duration_s(const std::string& s) {
    if (s.size() < 2 || s.size() > 6 || !digits(s, 0, s.size() - 1)) return -1;
    const long v = std::stol(s.substr(0, s.size() - 1));
    const char unit = s.back();
    const long scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : -1;
    if (v <= 0 || scale < 0 || v * scale > kDay) return -1;
    return static_cast<int>(v * scale);
}

long long floor_div(long long a, long long b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::vector<std::string> strings(const TomlReader& r, const toml::table& t, const char* key, const std::string& what) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    if (const auto* s = n->as_string()) return {s->get()};
    if (!n->is_array() || n->as_array()->empty()) r.fail(n, std::string(key) + " must be " + what);
    for (const auto& e : *n->as_array()) {
        if (!e.is_string()) r.fail(&e, std::string(key) + ": each entry must be a string");
        out.push_back(e.as_string()->get());
    }
    return out;
}

}  // namespace

std::vector<ScheduleEntry> parse_schedule(const TomlReader& r, const toml::node* node) {
    std::vector<ScheduleEntry> out;
    if (!node) return out;
    if (!node->is_array_of_tables()) r.fail(node, "'schedule' must be an array of tables ([[schedule]])");
    static const std::map<std::string, int> weekdays{{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3}, {"thu", 4}, {"fri", 5}, {"sat", 6}};
    for (const auto& n : *node->as_array()) {
        const toml::table& t = *n.as_table();
        r.only_keys(t, {"stream", "at", "days", "style", "every", "styles", "crossfade"}, "[[schedule]]");
        ScheduleEntry e;
        e.line = static_cast<int>(t.source().begin.line);
        e.stream = r.get_string(t, "stream", "");
        e.crossfade_s = r.get_number(t, "crossfade", 0, 0, 600);
        const bool has_at = t.contains("at"), has_every = t.contains("every");
        if (has_at == has_every) r.fail(&t, "[[schedule]] needs either at (times of day) with style, or every (\"15m\") with styles");
        if (has_at) {
            for (const std::string& s : strings(r, t, "at", "a time \"HH:MM\" or a list of them")) {
                const int sec = time_of_day(s);
                if (sec < 0) r.fail(t.get("at"), "at: '" + s + "' is not a time of day \"HH:MM\" or \"HH:MM:SS\"");
                e.at_s.push_back(sec);
            }
            if (t.contains("styles")) r.fail(t.get("styles"), "styles goes with every; at takes one style");
            if (!t.contains("style")) r.fail(&t, "[[schedule]] with at needs style");
            e.styles = {r.get_string(t, "style", "")};
            if (t.contains("days")) {
                e.days = 0;
                for (const std::string& d : strings(r, t, "days", "a list of weekdays (\"mon\" ... \"sun\")")) {
                    const auto it = weekdays.find(d);
                    if (it == weekdays.end()) r.fail(t.get("days"), "days: '" + d + "' is not one of mon, tue, wed, thu, fri, sat, sun");
                    e.days |= 1u << it->second;
                }
            }
        } else {
            e.every_s = duration_s(r.get_string(t, "every", ""));
            if (e.every_s < 0) r.fail(t.get("every"), "every must be a duration such as \"30s\", \"15m\" or \"2h\", at most a day");
            if (t.contains("style") || t.contains("days")) r.fail(&t, "every takes styles (a list), not style or days");
            if (!t.contains("styles")) r.fail(&t, "[[schedule]] with every needs styles");
            e.styles = strings(r, t, "styles", "a list of style names");
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<Scheduler::Change> Scheduler::due(long long now) {
    std::vector<Change> out;
    const long long last = last_;
    last_ = now;
    if (last < 0 || now <= last) return out;
    for (const ScheduleEntry& e : entries_) {
        if (e.every_s > 0) {
            const long long slot = floor_div(now, e.every_s);
            if (slot > floor_div(last, e.every_s))
                out.push_back(
                    {e.stream, e.styles[static_cast<size_t>(slot % static_cast<long long>(e.styles.size()))], e.crossfade_s, e.line});
            continue;
        }
        // Today's and yesterday's times cover any gap between calls shorter than a day.
        const long long today = floor_div(now, kDay);
        for (long long day : {today - 1, today}) {
            const int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
            if (!(e.days & (1u << weekday))) continue;
            for (int at : e.at_s) {
                const long long t = day * kDay + at;
                if (t > last && t <= now) out.push_back({e.stream, e.styles[0], e.crossfade_s, e.line});
            }
        }
    }
    return out;
}

long long local_seconds(std::chrono::system_clock::time_point t) {
    const std::time_t utc = std::chrono::system_clock::to_time_t(t);
    std::tm local{};
    localtime_r(&utc, &local);
    return static_cast<long long>(utc) + local.tm_gmtoff;
}

}  // namespace wavecast
