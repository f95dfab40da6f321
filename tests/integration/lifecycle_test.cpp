// What a 24/7 service meets: a JACK server that crashes and comes back, SIGHUP with good and bad
// configs, and life under systemd (readiness, the watchdog, journal priorities). Each test has a
// jackd of its own, since some of them kill it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class Lifecycle : public ::testing::Test {
protected:
    void SetUp() override { jack_ = std::make_unique<JackServer>(dir_.path.string()); }
    TempDir dir_;
    std::unique_ptr<JackServer> jack_;
};

bool contains(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

size_t style_count(const Daemon& d) {
    auto r = d.call({{"cmd", "styles"}});
    return r && (*r)["ok"] ? (*r)["styles"].size() : 0;
}

}  // namespace

TEST_F(Lifecycle, AfterAJackCrashTheDaemonReconnectsWithItsConnectionsAndState) {
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-rc"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    ASSERT_TRUE(jack_connect_ports(jack_->name(), "wavecast-rc:main_out_L", "system:playback_1"));
    ASSERT_TRUE(jack_connect_ports(jack_->name(), "wavecast-rc:main_out_R", "system:playback_2"));
    ASSERT_TRUE((*d.call({{"cmd", "set"}, {"params", {{"tempo", 133}}}}))["ok"]);
    std::this_thread::sleep_for(300ms);  // the daemon notes its connections as they change
    const uint64_t before = d.stream_status()["samples_generated"];

    jack_->crash();
    ASSERT_TRUE(eventually(
        [&] {
            return !(*d.call({{"cmd", "status"}}))["jack"]["connected"].get<bool>();
        },
        5))
        << "status must say the server is gone; the daemon must still answer";
    const auto t0 = std::chrono::steady_clock::now();
    jack_->start();
    ASSERT_TRUE(eventually(
        [&] {
            return contains(jack_connections(jack_->name(), "wavecast-rc:main_out_L"), "system:playback_1") &&
                   contains(jack_connections(jack_->name(), "wavecast-rc:main_out_R"), "system:playback_2");
        },
        10))
        << d.proc->log();
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);

    Capture cap(jack_->name(), "wavecast-rc:main_out_L", "wavecast-rc:main_out_R", 24000);
    ASSERT_TRUE(cap.wait_full(10));
    const size_t zeros = silent_frames(cap);
    EXPECT_LT(zeros, cap.frames() / 100) << "the audio must resume";
    const auto st = d.stream_status();
    EXPECT_GT(st["samples_generated"].get<uint64_t>(), before);
    EXPECT_EQ(st["params"]["tempo"].get<double>(), 133.0) << "the musical state is kept";
    EXPECT_EQ(st["style"], "techno");
    EXPECT_TRUE((*d.call({{"cmd", "status"}}))["jack"]["connected"].get<bool>());
    EXPECT_NE(d.proc->log().find("JACK server back"), std::string::npos);
}

TEST_F(Lifecycle, SighupReloadsStylesAllAtOnceAndKeepsTheOldOnesWhenTheNewAreBad) {
    const fs::path styles = dir_.path / "styles";
    fs::create_directories(styles);
    const fs::path shipped = fs::path(WAVECAST_SOURCE_DIR) / "config" / "styles";
    fs::copy_file(shipped / "techno.toml", styles / "techno.toml");
    fs::copy_file(shipped / "ambient.toml", styles / "ambient.toml");
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-hup", .styles_dir = styles.string()});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    ASSERT_EQ(style_count(d), 2u);

    fs::copy_file(shipped / "lofi.toml", styles / "lofi.toml");
    d.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return style_count(d) == 3; }, 5)) << d.proc->log();
    ASSERT_TRUE((*d.call({{"cmd", "style"}, {"name", "lofi"}}))["ok"]);

    // A good new file beside a broken one: neither is taken.
    fs::copy_file(shipped / "jazz_trio.toml", styles / "jazz_trio.toml");
    std::ofstream(styles / "broken.toml") << "name = \"broken\"\ntempo = \"fast\"\n";
    d.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.proc->log().find("reload refused") != std::string::npos; }, 5)) << d.proc->log();
    EXPECT_NE(d.proc->log().find("broken.toml:"), std::string::npos) << "the file and line of the error";
    EXPECT_EQ(style_count(d), 3u);
    EXPECT_FALSE((*d.call({{"cmd", "style"}, {"name", "jazz_trio"}}))["ok"]);

    // A config that does not parse is refused too; the daemon goes on as it was.
    fs::remove(styles / "broken.toml");
    std::ofstream(d.config, std::ios::app) << "[daemon\n";
    d.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.proc->log().find(d.config + ":") != std::string::npos; }, 5)) << d.proc->log();
    EXPECT_EQ(style_count(d), 3u);
    const uint64_t samples = d.stream_status()["samples_generated"];
    std::this_thread::sleep_for(300ms);
    EXPECT_GT(d.stream_status()["samples_generated"].get<uint64_t>(), samples);
    EXPECT_EQ(d.stream_status()["underruns"].get<int>(), 0);
}

namespace {

// The receiving end of $NOTIFY_SOCKET, as systemd holds it.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        path.copy(a.sun_path, sizeof(a.sun_path) - 1);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) throw std::runtime_error("bind " + path);
        timeval tv{0, 20000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~NotifySocket() { close(fd_); }
    // The messages that arrive within `seconds`.
    std::vector<std::string> collect(double seconds) const {
        std::vector<std::string> out;
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        char buf[4096];
        while (std::chrono::steady_clock::now() < until) {
            const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
            if (n > 0) out.emplace_back(buf, static_cast<size_t>(n));
        }
        return out;
    }
    static size_t count(const std::vector<std::string>& msgs, const std::string& what) {
        return static_cast<size_t>(
            std::count_if(msgs.begin(), msgs.end(), [&](const std::string& m) { return m.find(what) != std::string::npos; }));
    }

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace

TEST_F(Lifecycle, UnderSystemdItNotifiesAndFeedsTheWatchdogOnlyWhileAudioCyclesRun) {
    const std::string sock = (dir_.path / "notify").string();
    NotifySocket notify(sock);
    Daemon d(dir_.path.string(), *jack_,
             {.jack_name = "wavecast-sd", .journal = true, .env = {{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "200000"}}});
    std::vector<std::string> msgs;
    for (int i = 0; i < 30 && NotifySocket::count(msgs, "READY=1") == 0; ++i) {
        auto more = notify.collect(1.0);
        msgs.insert(msgs.end(), more.begin(), more.end());
    }
    ASSERT_EQ(NotifySocket::count(msgs, "READY=1"), 1u) << d.proc->log();
    EXPECT_GE(NotifySocket::count(notify.collect(1.0), "WATCHDOG=1"), 5u) << "fed every 100 ms while audio runs";

    // A server that stops running cycles (frozen) stops the watchdog; systemd would restart us.
    jack_->signal(SIGSTOP);
    notify.collect(0.2);  // a ping already on its way
    const auto frozen = notify.collect(1.0);
    jack_->signal(SIGCONT);
    EXPECT_EQ(NotifySocket::count(frozen, "WATCHDOG=1"), 0u) << "no audio cycles, no watchdog";
    EXPECT_GE(NotifySocket::count(notify.collect(1.5), "WATCHDOG=1"), 3u) << "fed again once audio runs";

    d.proc->signal(SIGTERM);
    EXPECT_EQ(NotifySocket::count(notify.collect(1.0), "STOPPING=1"), 1u);
    EXPECT_EQ(d.proc->wait(5).value_or(-1), 0);
    const std::string log = d.proc->log();
    EXPECT_EQ(log.rfind("<6>", 0), 0u) << "lines carry the journal's priority prefix:\n" << log;
    EXPECT_NE(log.find("\n<6>control on"), std::string::npos) << log;
    EXPECT_EQ(log.find("\x1b["), std::string::npos) << "no terminal colours in the journal";
}
