#include "daemon/supervisor.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "control/endpoints.h"
#include "daemon/daemon.h"
#include "util/toml_util.h"

namespace wavecast {
namespace {

constexpr int kShutdownDeadlineS = 5;

sigset_t daemon_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

// Shutdown is bounded: should anything hang (a file system that stopped answering), the process
// still ends, saying so, rather than leave a service that will not stop.
void arm_shutdown_deadline() {
    std::thread([] {
        std::this_thread::sleep_for(std::chrono::seconds(kShutdownDeadlineS));
        static const char msg[] = "wavecastd: shutdown did not finish in time; exiting anyway\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        std::_Exit(3);
    }).detach();
}

}  // namespace

void block_daemon_signals() {
    const sigset_t set = daemon_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_daemon(const std::string& config_path, const ConfigOverrides& overrides, const StageHooks& hooks) {
    DaemonConfig cfg = load_config(config_path);
    overrides.apply(cfg);
    // The command line's endpoints meet the same check as the file's, before anything starts.
    for (const auto& [flag, e] : {std::pair{"--control", cfg.control}, std::pair{"--telemetry", cfg.telemetry}})
        if (const std::string why = endpoint_problem(e, cfg.security.curve); !why.empty())
            throw ConfigError(std::string(flag) + ": " + why);
    Daemon daemon(std::move(cfg), hooks);
    const sigset_t set = daemon_signals();
    for (;;) {
        timespec tick{0, 50 * 1000 * 1000};
        const int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            spdlog::info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            arm_shutdown_deadline();
            break;
        }
        if (sig == SIGHUP) {
            try {
                DaemonConfig next = load_config(config_path);
                overrides.apply(next);
                daemon.reload(next);
            } catch (const std::exception& e) {
                spdlog::error("SIGHUP: reload refused, the running config and styles stay in force: {}", e.what());
            }
        }
        daemon.step();
    }
    daemon.shut_down();
    return 0;
}

}  // namespace wavecast
