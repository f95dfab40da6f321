// The attacks of 2026-12-07 (issue 33) with real peers: an Icecast server of the test's own that
// takes the source but never answers a title request, or stops reading; a FIFO, a directory and
// /dev/zero in a mapping file's place at SIGHUP; endpoints with a source-address part. Throughout,
// the daemon answers within a second and ends on SIGTERM within five.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;

namespace {

// An Icecast server as a hostile or broken one behaves: it takes any source (100 Continue), and
// then either reads and drops what it is sent but never answers a title request (kNeverTitles),
// or never reads again (kStopsReading). Connections stay open until it is destroyed.
class StubIcecast {
public:
    enum Mode { kNeverTitles, kStopsReading };
    explicit StubIcecast(Mode mode) : mode_(mode) {
        listen_ = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1, small = 4096;
        setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // A small receive buffer, inherited by what it accepts: a server that stops reading is
        // full after a few kilobytes, as a stalled one across a network would be after more.
        setsockopt(listen_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t n = sizeof a;
        getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &n);
        port_ = ntohs(a.sin_port);
        listen(listen_, 16);
        thread_ = std::thread([this] { run(); });
    }
    ~StubIcecast() {
        quit_ = true;
        thread_.join();
        for (const auto& c : conns_) close(c.fd);
        close(listen_);
    }
    int port() const { return port_; }
    int sources() const { return sources_.load(); }
    int title_requests() const { return titles_.load(); }

private:
    struct Conn {
        int fd;
        std::string head;
        bool source = false, title = false;
    };
    void run() {
        while (!quit_) {
            std::vector<pollfd> fds{{listen_, POLLIN, 0}};
            for (const auto& c : conns_) {
                const bool read = !c.title && !(c.source && mode_ == kStopsReading);
                fds.push_back({c.fd, static_cast<short>(read ? POLLIN : 0), 0});
            }
            if (poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents & POLLIN) conns_.push_back({accept(listen_, nullptr, nullptr), {}});
            for (size_t i = 1; i < fds.size() && i - 1 < conns_.size(); ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                Conn& c = conns_[i - 1];
                char buf[4096];
                const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n <= 0) continue;
                if (c.source) continue;  // audio, dropped
                c.head.append(buf, static_cast<size_t>(n));
                if (c.head.find("\r\n\r\n") == std::string::npos) continue;
                if (c.head.rfind("PUT ", 0) == 0) {
                    c.source = true;
                    ++sources_;
                    const std::string go = "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n";
                    send(c.fd, go.data(), go.size(), MSG_NOSIGNAL);
                } else if (c.head.find("/admin/metadata") != std::string::npos) {
                    c.title = true;  // and never answered
                    ++titles_;
                }
            }
        }
    }
    const Mode mode_;
    int listen_ = -1, port_ = 0;
    std::vector<Conn> conns_;
    std::atomic<int> sources_{0}, titles_{0};
    std::atomic<bool> quit_{false};
    std::thread thread_;
};

std::string output_to(int port, const std::string& format) {
    return "[[stream.output]]\ntype = \"icecast\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) + "\nmount = \"/live." + format +
           "\"\npassword = \"hackme\"\nformat = \"" + format + "\"\n";
}

// Status answered within `limit_ms`, every 200 ms for `seconds`: the slowest answer, in ms.
double slowest_status_ms(const Daemon& d, double seconds) {
    double slowest = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = d.call({{"cmd", "status"}}, 3000);
        const double ms = r ? std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() : 1e9;
        slowest = std::max(slowest, ms);
        std::this_thread::sleep_for(200ms);
    }
    return slowest;
}

// SIGTERM, and the seconds until the daemon has ended (99 when it has not within 10 s).
double seconds_to_end(Daemon& d) {
    const auto t0 = std::chrono::steady_clock::now();
    d.proc->signal(SIGTERM);
    if (!d.proc->wait(10).has_value()) return 99;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; ++at) ++n;
    return n;
}

class HostilePeers : public ::testing::Test {
protected:
    void SetUp() override { jack_ = std::make_unique<JackServer>(dir_.path.string()); }
    TempDir dir_;
    std::unique_ptr<JackServer> jack_;
};

}  // namespace

// An MP3 output whose server takes the audio but never answers a title request: the title is
// given up after 3 s, the audio goes on, and a reload that drops the output, and SIGTERM, are
// done at once. Before, the blocking title request hung the output thread, and a SIGHUP that
// joined it hung the main thread: SIGTERM ignored, SIGKILL needed.
TEST_F(HostilePeers, AnIcecastServerThatNeverAnswersATitleHoldsNothingUp) {
    StubIcecast ice(StubIcecast::kNeverTitles);
    const std::string kept = output_to(ice.port(), "opus");
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-notitle", .sections = output_to(ice.port(), "mp3") + kept});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    ASSERT_TRUE(eventually([&] { return ice.title_requests() >= 1; }, 10)) << d.proc->log();
    EXPECT_LT(slowest_status_ms(d, 5), 1000) << "status answered within a second throughout";
    const json o = d.stream_status()["outputs"][0];
    EXPECT_TRUE(o["connected"].get<bool>()) << o.dump();
    EXPECT_NE(o["title_error"].get<std::string>().find("did not answer the title request in time"), std::string::npos) << o.dump();
    const uint64_t bytes = o["bytes_sent"];
    std::this_thread::sleep_for(1s);
    EXPECT_GT(d.stream_status()["outputs"][0]["bytes_sent"].get<uint64_t>(), bytes) << "the audio goes on meanwhile";

    // A reload that removes the MP3 output while its next title request hangs.
    std::string config = slurp(d.config);
    config.replace(config.find(output_to(ice.port(), "mp3")), output_to(ice.port(), "mp3").size(), "");
    std::ofstream(d.config, std::ios::trunc) << config;
    const auto t0 = std::chrono::steady_clock::now();
    d.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return count(d.proc->log(), "SIGHUP: reloaded") == 1; }, 3)) << d.proc->log();
    std::printf("a reload dropping the hung output took %.0f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    // The producer takes the new list before its next block (tens of milliseconds).
    EXPECT_TRUE(eventually([&] { return d.stream_status()["outputs"].size() == 1u; }, 1)) << d.stream_status().dump();
    EXPECT_EQ(d.stream_status()["underruns"].get<uint64_t>(), 0u);
    EXPECT_LT(seconds_to_end(d), 5.0) << d.proc->log();
}

// A server that takes the login and then stops reading: reported and connected again within
// the promised 10 s and a little, where status said "connected" for 240 s before.
TEST_F(HostilePeers, AnIcecastServerThatStopsReadingIsReportedAndLeft) {
    StubIcecast ice(StubIcecast::kStopsReading);
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-stall", .sections = output_to(ice.port(), "opus")});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    ASSERT_TRUE(eventually([&] { return ice.sources() == 1; }, 10)) << d.proc->log();
    const auto t0 = std::chrono::steady_clock::now();
    auto output = [&] { return d.stream_status()["outputs"][0]; };
    ASSERT_TRUE(eventually([&] { return output()["last_error"].get<std::string>().find("has taken nothing") != std::string::npos; }, 25))
        << output().dump() << d.proc->log();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("a server that stopped reading was reported %.1f s after the login\n", s);
    EXPECT_LT(s, 16.0) << "10 s of nothing taken, after the few kilobytes the buffers hold";
    EXPECT_FALSE(output()["connected"].get<bool>());
    ASSERT_TRUE(eventually([&] { return ice.sources() >= 2; }, 5)) << "and connected again (1 s backoff): " << d.proc->log();
    EXPECT_EQ(d.stream_status()["underruns"].get<uint64_t>(), 0u);
    EXPECT_LT(seconds_to_end(d), 5.0) << d.proc->log();
}

// The mapping file replaced by a FIFO, a directory and a link to /dev/zero: each SIGHUP refuses
// the reload with the path and the reason, at once, and the bindings stay.
TEST_F(HostilePeers, AMappingFileThatIsNotARegularFileRefusesTheReload) {
    const std::string map = dir_.file("stage.toml");
    std::ofstream(map) << "[[cc]]\ncc = 1\nparam = \"intensity\"\n";
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-fifo", .sections = "midi_map = \"" + map + "\"\n"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    const std::pair<std::function<void()>, std::string> swaps[] = {
        {[&] { ASSERT_EQ(::mkfifo(map.c_str(), 0600), 0); }, "a FIFO, not a regular file"},
        {[&] { std::filesystem::create_directory(map); }, "a directory, not a regular file"},
        {[&] { ASSERT_EQ(::symlink("/dev/zero", map.c_str()), 0); }, "a character device, not a regular file"}};
    size_t refused = 0;
    for (const auto& [swap, why] : swaps) {
        std::filesystem::remove(map);
        swap();
        d.proc->signal(SIGHUP);
        ASSERT_TRUE(eventually([&] { return count(d.proc->log(), "reload refused") == refused + 1; }, 3)) << why << "\n" << d.proc->log();
        ++refused;
        EXPECT_NE(d.proc->log().find(map + ": " + why), std::string::npos) << d.proc->log();
        EXPECT_LT(slowest_status_ms(d, 0.5), 1000);
        const json m = *d.call({{"cmd", "mappings"}});
        ASSERT_EQ(m["cc"].size(), 1u) << why << ": the bindings stay: " << m.dump();
    }
    // Saving, with a FIFO where the new file is first written: refused at once, nothing changed.
    std::filesystem::remove(map);
    std::ofstream(map) << "[[cc]]\ncc = 1\nparam = \"intensity\"\n";
    ASSERT_EQ(::mkfifo((map + ".tmp").c_str(), 0600), 0);
    const auto t0 = std::chrono::steady_clock::now();
    const auto saved = d.call({{"cmd", "mappings"}, {"save", true}}, 3000);
    ASSERT_TRUE(saved.has_value()) << "answered, not hung";
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
    EXPECT_EQ((*saved)["error"]["code"], "io_error") << saved->dump();
    EXPECT_NE((*saved)["error"]["message"].get<std::string>().find("a FIFO"), std::string::npos) << saved->dump();
    EXPECT_EQ(slurp(map), "[[cc]]\ncc = 1\nparam = \"intensity\"\n");
    EXPECT_EQ(d.stream_status()["underruns"].get<uint64_t>(), 0u);
    EXPECT_LT(seconds_to_end(d), 5.0) << d.proc->log();
}

// ZeroMQ binds what follows a ';' in "tcp://SOURCE;ADDRESS": such an endpoint is refused, in the
// config and on the command line, and nothing listens beyond loopback.
TEST_F(HostilePeers, AnEndpointWithASourceAddressPartIsRefused) {
    const int open_port = free_tcp_port();
    const std::string sneaky = "tcp://127.0.0.1:" + std::to_string(free_tcp_port()) + ";0.0.0.0:" + std::to_string(open_port);
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-semi", .control = sneaky});
    const auto rc = d.proc->wait(20);
    ASSERT_TRUE(rc.has_value()) << d.proc->log();
    EXPECT_NE(*rc, 0);
    EXPECT_NE(d.proc->log().find("a source-address part (';') is not taken"), std::string::npos) << d.proc->log();

    // The same config with a good control endpoint, and the bad one as --telemetry.
    std::string config = slurp(d.config);
    config.replace(config.find(sneaky), sneaky.size(), "ipc://" + dir_.file("control"));
    std::ofstream(d.config, std::ios::trunc) << config;
    Process p({WAVECASTD_BIN, "--config", d.config, "--telemetry", sneaky}, jack_->env(), dir_.file("telemetry.log"));
    const auto rc2 = p.wait(20);
    ASSERT_TRUE(rc2.has_value()) << p.log();
    EXPECT_NE(*rc2, 0);
    EXPECT_NE(p.log().find("a source-address part (';') is not taken"), std::string::npos) << p.log();
}
