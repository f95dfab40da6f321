// Life under systemd (config/wavecastd.service, Type=notify): readiness and stopping, a watchdog
// fed only while JACK's process cycles advance, and log lines the journal can rank. Outside
// systemd every call here does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <spdlog/logger.h>

namespace wavecast {

class Systemd {
public:
    Systemd();

    void ready() const;
    void stopping() const;
    void status(const std::string& text) const;
    // Called often (every turn of the main loop) with the count of audio cycles run so far:
    // pings the watchdog every half period, but only if cycles ran since the last ping, so a
    // daemon whose audio has stalled is restarted by systemd.
    void tick(uint64_t audio_cycles);
    bool watchdog() const { return interval_.count() > 0; }

private:
    std::chrono::microseconds interval_{0};  // half of WATCHDOG_USEC; 0: no watchdog
    std::chrono::steady_clock::time_point last_{};
    uint64_t last_cycles_ = 0;
};

// True when stderr is the journal's stream (JOURNAL_STREAM names its device and inode).
bool stderr_is_journal();
// Prefixes each line with the syslog priority ("<6>" for info) and leaves the time to the journal.
void use_journal_format(spdlog::logger& logger);

}  // namespace wavecast
