#include "control/systemd.h"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <spdlog/pattern_formatter.h>
#include <cstdio>
#include <cstdlib>

namespace wavecast {

Systemd::Systemd() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) interval_ = std::chrono::microseconds(usec / 2);
}

void Systemd::ready() const { sd_notify(0, "READY=1\nSTATUS=streaming"); }

void Systemd::stopping() const { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

void Systemd::status(const std::string& text) const { sd_notify(0, ("STATUS=" + text).c_str()); }

void Systemd::tick(uint64_t audio_cycles) {
    if (interval_.count() == 0 || audio_cycles == last_cycles_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    sd_notify(0, "WATCHDOG=1");
    last_ = now;
    last_cycles_ = audio_cycles;
}

bool stderr_is_journal() {
    const char* env = std::getenv("JOURNAL_STREAM");
    if (!env) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    return fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

namespace {

// sd-daemon(3)'s priorities: the journal reads "<N>" at the start of a line as its level.
class PriorityFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const char* p = SD_INFO;
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug: p = SD_DEBUG; break;
            case spdlog::level::info: p = SD_INFO; break;
            case spdlog::level::warn: p = SD_WARNING; break;
            case spdlog::level::err: p = SD_ERR; break;
            case spdlog::level::critical: p = SD_CRIT; break;
            default: break;
        }
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

}  // namespace

void use_journal_format(spdlog::logger& logger) {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<PriorityFlag>('*').set_pattern("%*%v");
    logger.set_formatter(std::move(f));
}

}  // namespace wavecast
