// The OSC server against peers of the test's own on loopback, driven turn by turn as the control
// thread drives it: registration by token, expiry, what an unregistered or forged peer is sent,
// and the counts status shows.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <lo/lo_lowlevel.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "control/osc.h"
#include "protocol/protocol.h"

using nlohmann::json;
using wavecast::OscServer;
using namespace std::chrono_literals;

namespace {

struct Message {
    std::string path;
    std::vector<std::string> args;
    size_t bytes = 0;
};

class Peer {
public:
    explicit Peer(int server_port, const char* ip = "127.0.0.1") {
        fd_ = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a.sin_addr);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        to_.sin_family = AF_INET;
        to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to_.sin_port = htons(static_cast<uint16_t>(server_port));
    }
    ~Peer() { close(fd_); }
    size_t send(const std::string& path, const std::vector<std::string>& strings = {}) {
        lo_message m = lo_message_new();
        for (const auto& s : strings) lo_message_add_string(m, s.c_str());
        size_t len = 0;
        void* data = lo_message_serialise(m, path.c_str(), nullptr, &len);
        lo_message_free(m);
        sendto(fd_, data, len, 0, reinterpret_cast<const sockaddr*>(&to_), sizeof to_);
        free(data);
        return len;
    }
    std::optional<Message> receive(int timeout_ms = 200) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
        std::vector<char> buf(70000);
        const ssize_t got = recv(fd_, buf.data(), buf.size(), 0);
        int result = 0;
        lo_message m = lo_message_deserialise(buf.data(), static_cast<size_t>(got), &result);
        if (!m) return std::nullopt;
        Message r{lo_get_path(buf.data(), got), {}, static_cast<size_t>(got)};
        const char* types = lo_message_get_types(m);
        lo_arg** argv = lo_message_get_argv(m);
        for (int i = 0; i < lo_message_get_argc(m); ++i)
            if (types[i] == 's') r.args.emplace_back(&argv[i]->s);
        lo_message_free(m);
        return r;
    }
    size_t drain_bytes(int timeout_ms = 100) {
        size_t n = 0;
        while (auto m = receive(timeout_ms)) n += m->bytes;
        return n;
    }

private:
    int fd_ = -1;
    sockaddr_in to_{};
};

// A status body as large as a daemon's with a few streams.
json big_status() {
    json s = {{"uptime_s", 1}, {"streams", json::array()}};
    for (int i = 0; i < 8; ++i) s["streams"].push_back({{"name", "stream-" + std::to_string(i)}, {"padding", std::string(150, 'x')}});
    return s;
}

// Answers as the engine would: status in full, an unknown style refused, the rest done.
class FakeEngine final : public wavecast::Replies {
public:
    void answer(const wavecast::protocol::TypedRequest& request, Deliver deliver) override {
        namespace p = wavecast::protocol;
        if (std::holds_alternative<p::Status>(request.command)) {
            json reply = big_status();
            reply["ok"] = true;
            return deliver(reply);
        }
        if (const auto* style = std::get_if<p::StyleCmd>(&request.command))
            return deliver(p::error_reply(request.id, p::code::unknown_style, "no style '" + style->name + "'"));
        deliver(json{{"ok", true}});
    }
    void refused() override { ++refused_; }
    int refused_ = 0;
};

// A stranger's requests must never reach the engine.
class NoEngine final : public wavecast::Replies {
public:
    void answer(const wavecast::protocol::TypedRequest&, Deliver) override { ADD_FAILURE() << "a stranger was served"; }
    void refused() override { ADD_FAILURE() << "a stranger was answered"; }
};

struct Server {
    explicit Server(std::chrono::milliseconds registration = OscServer::kRegistration) : osc("127.0.0.1:0", {}, registration) {}
    // One control turn: every waiting datagram answered.
    void turn() {
        std::this_thread::sleep_for(20ms);
        osc.take(engine);
    }
    OscServer osc;
    FakeEngine engine;
};

// The full exchange a client makes: register, the token back, registered.
bool register_peer(Server& s, Peer& p) {
    p.send("/wavecast/register");
    s.turn();
    const auto confirm = p.receive();
    if (!confirm || confirm->path != "/wavecast/confirm" || confirm->args.size() != 1) return false;
    p.send("/wavecast/register", {confirm->args[0]});
    s.turn();
    const auto ok = p.receive();
    return ok && ok->path == "/wavecast/reply" && json::parse(ok->args.at(0)).value("ok", false);
}

}  // namespace

TEST(OscServer, RegistrationTakesTheTokenSentToTheAddressAndLapsesUnlessRenewed) {
    Server s(400ms);
    Peer p(s.osc.port());
    ASSERT_TRUE(register_peer(s, p));
    EXPECT_EQ(s.osc.counts().registered, 1u);
    s.osc.push_status(big_status());
    auto pushed = p.receive();
    ASSERT_TRUE(pushed && pushed->path == "/wavecast/status");

    // Renewed with the same token before it lapses: still registered past the first 400 ms.
    std::this_thread::sleep_for(250ms);
    ASSERT_TRUE(register_peer(s, p));
    std::this_thread::sleep_for(250ms);
    s.osc.push_status(big_status());
    EXPECT_TRUE(p.receive()) << "renewed";
    // Not renewed: pushes stop.
    std::this_thread::sleep_for(450ms);
    s.osc.push_status(big_status());
    EXPECT_FALSE(p.receive(300)) << "a registration not renewed lapses";
    EXPECT_EQ(s.osc.counts().registered, 0u);
}

TEST(OscServer, AWrongTokenRegistersNothingAndThrowawayRegistrationsLockNoOneOut) {
    Server s;
    // Strangers that ask and never confirm hold no slot: the 17th peer still gets in.
    std::vector<std::unique_ptr<Peer>> strangers;
    for (size_t i = 0; i < 2 * OscServer::kMaxPeers; ++i) {
        strangers.push_back(std::make_unique<Peer>(s.osc.port()));
        strangers.back()->send("/wavecast/register");
        strangers.back()->send("/wavecast/register", {"0123456789abcdef"});  // a guess
    }
    s.turn();
    EXPECT_EQ(s.osc.counts().registered, 0u);
    Peer real(s.osc.port());
    EXPECT_TRUE(register_peer(s, real));
    // A token is the address's own: another port's token does not register this one.
    Peer other(s.osc.port());
    other.send("/wavecast/register");
    s.turn();
    const auto confirm = other.receive();
    ASSERT_TRUE(confirm);
    Peer thief(s.osc.port());
    thief.send("/wavecast/register", {confirm->args.at(0)});
    s.turn();
    const auto answer = thief.receive();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->path, "/wavecast/confirm") << "a stolen token earns only a token of its own";
    EXPECT_EQ(s.osc.counts().registered, 1u);
}

// A reply to a peer that has not shown it receives is never much larger than what it sent: that
// is all a forged source address can draw onto someone else.
TEST(OscServer, AnUnregisteredPeerIsSentLittleMoreThanItSends) {
    Server s;
    Peer p(s.osc.port());
    for (const char* path : {"/wavecast/status", "/wavecast/register", "/wavecast/stop-record", "/wavecast/nonsense", "/other", "/x"}) {
        const size_t sent = p.send(path);
        s.turn();
        const size_t got = p.drain_bytes();
        EXPECT_GT(got, 0u) << path << " is answered";
        EXPECT_LE(got, std::max<size_t>(3 * sent, 64)) << path << ": sent " << sent << ", drew " << got;
    }
    p.send("/wavecast/status");
    s.turn();
    const auto refused = p.receive();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->path, "/wavecast/error");
    EXPECT_EQ(refused->args.at(0), "not_registered");
    // Registered, the status is answered in full.
    ASSERT_TRUE(register_peer(s, p));
    p.send("/wavecast/status");
    s.turn();
    const auto status = p.receive();
    ASSERT_TRUE(status && status->path == "/wavecast/reply");
    EXPECT_TRUE(json::parse(status->args.at(0)).contains("streams"));
}

// An error echoes a cut of what was asked: a 60 KiB name does not make a reply larger than a
// datagram (it was lost before), and a refused request is answered with /wavecast/error.
TEST(OscServer, ErrorsAreCutAndSentAsErrors) {
    Server s;
    Peer p(s.osc.port());
    p.send("/wavecast/style", {std::string(60000, 'n')});
    s.turn();
    const auto r = p.receive();
    ASSERT_TRUE(r) << "a reply arrives";
    EXPECT_EQ(r->path, "/wavecast/error");
    EXPECT_EQ(r->args.at(0), "unknown_style");
    EXPECT_LT(r->bytes, 400u);
    EXPECT_NE(r->args.at(1).find("no style 'nnn"), std::string::npos);
    EXPECT_EQ(s.osc.counts().refused, 1u);
    EXPECT_EQ(s.osc.counts().received, 1u);
}

// A stranger's flood is counted, not logged line by line: 20,000 datagrams from outside
// osc_allow logged 16,389 lines before (issue 33).
TEST(OscServer, AStrangersFloodIsCountedAndLoggedAtMostOnceInAWhile) {
    std::ostringstream log;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
    auto previous = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    {
        // Bound beyond loopback, taking only 10.9.9.9: this machine's 127.0.0.1 is a stranger.
        OscServer osc("0.0.0.0:0", {"10.9.9.9"});
        Peer stranger(osc.port());
        size_t sent = 0;
        NoEngine none;
        auto serve = [&] { osc.take(none); };
        for (int round = 0; round < 100; ++round) {
            for (int i = 0; i < 200; ++i, ++sent) stranger.send("/wavecast/set/temperature", {"x"});
            serve();
        }
        std::this_thread::sleep_for(20ms);
        serve();
        EXPECT_EQ(osc.counts().ignored, sent) << "each counted";
        EXPECT_EQ(osc.counts().received, 0u);
        EXPECT_EQ(stranger.drain_bytes(50), 0u) << "a stranger is sent nothing";
    }
    spdlog::set_default_logger(previous);
    size_t lines = 0;
    for (char c : log.str()) lines += c == '\n';
    EXPECT_GE(lines, 1u) << "the first is logged";
    EXPECT_LE(lines, 3u) << log.str();
}
