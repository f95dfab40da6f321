// OSC with a real peer: a UDP socket of the test's, messages written and read by liblo, against a
// daemon streaming into a real dummy jackd. Every command is answered to its sender; a bad one
// changes nothing; status reaches registered peers; a flood leaves the audio alone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <lo/lo_lowlevel.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/ip.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;

namespace {

// A UDP port on 127.0.0.1 that nothing holds now.
int free_udp_port() {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t n = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
    close(fd);
    return ntohs(a.sin_port);
}

struct Received {
    std::string path;
    std::vector<std::string> args;  // string arguments
};

class OscPeer {
public:
    explicit OscPeer(int port) {
        fd_ = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        to_.sin_family = AF_INET;
        to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to_.sin_port = htons(static_cast<uint16_t>(port));
    }
    ~OscPeer() { close(fd_); }
    int port() const {
        sockaddr_in a{};
        socklen_t n = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
        return ntohs(a.sin_port);
    }

    // `types`: 's' takes the next string, 'f' and 'i' the next number.
    void send(const std::string& path, const std::string& types = "", const std::vector<std::string>& s = {},
              const std::vector<double>& x = {}) {
        lo_message m = lo_message_new();
        size_t si = 0, xi = 0;
        for (char t : types) {
            if (t == 's') lo_message_add_string(m, s.at(si++).c_str());
            if (t == 'f') lo_message_add_float(m, static_cast<float>(x.at(xi++)));
            if (t == 'i') lo_message_add_int32(m, static_cast<int32_t>(x.at(xi++)));
        }
        size_t len = 0;
        void* data = lo_message_serialise(m, path.c_str(), nullptr, &len);
        lo_message_free(m);
        send_raw(std::string(static_cast<char*>(data), len));
        free(data);
    }
    void send_raw(const std::string& bytes) {
        sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to_), sizeof to_);
    }

    std::optional<Received> receive(int timeout_ms = 3000) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
        std::vector<char> buf(65536);
        const ssize_t got = recv(fd_, buf.data(), buf.size(), 0);
        if (got <= 0) return std::nullopt;
        int result = 0;
        lo_message m = lo_message_deserialise(buf.data(), static_cast<size_t>(got), &result);
        if (!m) return std::nullopt;
        Received r{lo_get_path(buf.data(), got), {}};
        const char* types = lo_message_get_types(m);
        lo_arg** argv = lo_message_get_argv(m);
        for (int i = 0; i < lo_message_get_argc(m); ++i)
            if (types[i] == 's') r.args.emplace_back(&argv[i]->s);
        lo_message_free(m);
        return r;
    }
    // The reply to the last message: its JSON, or an error's code and message as {"osc_error": [...]}.
    json reply(int timeout_ms = 3000) {
        auto r = receive(timeout_ms);
        if (!r) return json{{"timeout", true}};
        while (r && r->path == "/wavecast/status") r = receive(timeout_ms);  // pushes are not replies
        if (!r) return json{{"timeout", true}};
        if (r->path == "/wavecast/error") return json{{"osc_error", r->args}};
        EXPECT_EQ(r->path, "/wavecast/reply");
        return r->args.empty() ? json() : json::parse(r->args[0]);
    }

private:
    int fd_ = -1;
    sockaddr_in to_{};
};

// An OSC message as bytes.
std::string osc_bytes(const std::string& path) {
    lo_message m = lo_message_new();
    size_t len = 0;
    void* data = lo_message_serialise(m, path.c_str(), nullptr, &len);
    lo_message_free(m);
    std::string out(static_cast<char*>(data), len);
    free(data);
    return out;
}

// A UDP datagram from 127.0.0.1:`from_port` that this process never sent from there: a raw
// socket writes the IP and UDP headers itself, as an attacker forging a victim's address does.
bool send_forged(int raw, int from_port, int to_port, const std::string& payload) {
    std::string packet(sizeof(iphdr) + sizeof(udphdr) + payload.size(), '\0');
    auto* ip = reinterpret_cast<iphdr*>(packet.data());
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->saddr = htonl(INADDR_LOOPBACK);
    ip->daddr = htonl(INADDR_LOOPBACK);  // length, id and checksum: the kernel fills them in
    auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
    udp->source = htons(static_cast<uint16_t>(from_port));
    udp->dest = htons(static_cast<uint16_t>(to_port));
    udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
    udp->check = 0;  // none, as IPv4 allows
    std::memcpy(packet.data() + sizeof(iphdr) + sizeof(udphdr), payload.data(), payload.size());
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sendto(raw, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(packet.size());
}

class Osc : public ::testing::Test {
protected:
    void SetUp() override { jack_ = std::make_unique<JackServer>(dir_.path.string()); }
    std::unique_ptr<Daemon> start(const std::string& name) {
        port_ = free_udp_port();
        auto d = std::make_unique<Daemon>(
            dir_.path.string(), *jack_,
            DaemonOptions{.jack_name = name, .daemon_extra = "osc = \"127.0.0.1:" + std::to_string(port_) + "\"\n"});
        EXPECT_TRUE(d->wait_ready(30)) << d->proc->log();
        return d;
    }
    TempDir dir_;
    std::unique_ptr<JackServer> jack_;
    int port_ = 0;
};

}  // namespace

TEST_F(Osc, StyleAndSetAreAnsweredAndTakeEffectWhileBadMessagesChangeNothing) {
    auto d = start("wavecast-osc");
    OscPeer peer(port_);

    peer.send("/wavecast/set/temperature", "f", {}, {0.5});
    EXPECT_TRUE(peer.reply().value("ok", false));
    EXPECT_NEAR(d->stream_status()["params"]["temperature"].get<double>(), 0.5, 1e-6);
    peer.send("/wavecast/set/tempo", "i", {}, {97});
    EXPECT_TRUE(peer.reply().value("ok", false));
    EXPECT_NEAR(d->stream_status()["params"]["tempo"].get<double>(), 97, 1e-6);
    peer.send("/wavecast/style", "sf", {"lofi"}, {1.0});
    EXPECT_TRUE(peer.reply().value("ok", false));
    EXPECT_TRUE(eventually([&] { return d->stream_status()["style"] == "lofi"; }, 10)) << d->proc->log();
    peer.send("/wavecast/cue", "s", {"fill"}, {});
    const json cue = peer.reply();
    EXPECT_TRUE(cue.value("ok", false)) << cue.dump();
    EXPECT_EQ(cue.value("cue", ""), "fill") << cue.dump();

    // Each refused with a reason, and nothing of the stream changed.
    struct Bad {
        std::string path, types;
        std::vector<std::string> s;
        std::vector<double> x;
        std::string expect;
    };
    for (const Bad& b : std::vector<Bad>{{"/wavecast/set/temperature", "f", {}, {99}, "temperature"},
                                         {"/wavecast/set/nonsense", "f", {}, {1}, "nonsense"},
                                         {"/wavecast/set/temperature", "s", {"hot"}, {}, "temperature"},
                                         {"/wavecast/set/temperature", "", {}, {}, "takes 1"},
                                         {"/wavecast/style", "s", {"no_such_style"}, {}, "no_such_style"},
                                         {"/wavecast/style", "i", {}, {3}, "name"},
                                         {"/wavecast/cue", "s", {"drop"}, {}, "what"},
                                         {"/wavecast/launch", "", {}, {}, "no such command"},
                                         {"/other/style", "s", {"lofi"}, {}, "not a wavecast address"}}) {
        peer.send(b.path, b.types, b.s, b.x);
        const json r = peer.reply();
        EXPECT_FALSE(r.contains("timeout")) << b.path << ": no reply";
        EXPECT_FALSE(r.value("ok", false)) << b.path << ": " << r.dump();
        EXPECT_NE(r.dump().find(b.expect), std::string::npos) << b.path << ": " << r.dump();
    }
    peer.send_raw("not OSC at all");
    EXPECT_TRUE(peer.reply().contains("osc_error"));
    const json s = d->stream_status();
    EXPECT_NEAR(s["params"]["temperature"].get<double>(), 0.5, 1e-6);
    EXPECT_EQ(s["style"], "lofi");
    EXPECT_EQ(s["underruns"].get<uint64_t>(), 0u) << d->proc->log();
}

TEST_F(Osc, StatusIsAnsweredAndPushedToRegisteredPeersAndARecordingIsMade) {
    auto d = start("wavecast-osc-status");
    OscPeer peer(port_);
    // Status is a thousand bytes and more: it goes to a peer that has shown it receives.
    peer.send("/wavecast/status");
    EXPECT_EQ(peer.reply().value("osc_error", std::vector<std::string>{}).at(0), "not_registered");
    peer.send("/wavecast/register");
    const auto confirm = peer.receive();
    ASSERT_TRUE(confirm && confirm->path == "/wavecast/confirm" && confirm->args.size() == 1);
    peer.send("/wavecast/register", "s", {confirm->args[0]});
    const json registered = peer.reply();
    EXPECT_TRUE(registered.value("ok", false)) << registered.dump();
    EXPECT_EQ(registered.value("registered_s", 0.0), 30.0);
    peer.send("/wavecast/status");
    const json status = peer.reply();
    ASSERT_TRUE(status.contains("streams")) << status.dump();
    EXPECT_EQ(status["streams"][0]["name"], "main");
    EXPECT_EQ(status["osc"]["registered"], 1) << "the OSC server's counts are in status";
    std::optional<Received> pushed;
    for (int i = 0; i < 10 && !(pushed && pushed->path == "/wavecast/status"); ++i) pushed = peer.receive(2000);
    ASSERT_TRUE(pushed && pushed->path == "/wavecast/status");
    EXPECT_TRUE(json::parse(pushed->args.at(0)).contains("streams"));
    peer.send("/wavecast/unregister");
    EXPECT_TRUE(peer.reply().value("ok", false));
    // The status interval is 0.25 s: a second without a push says the peer is gone from the list.
    bool more = false;
    for (auto r = peer.receive(1000); r; r = peer.receive(1000)) more = more || r->path == "/wavecast/status";
    EXPECT_FALSE(more);

    peer.send("/wavecast/record", "s", {"osc-take.wav"});
    EXPECT_TRUE(peer.reply().value("ok", false));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    peer.send("/wavecast/stop-record");
    const json stopped = peer.reply();
    EXPECT_TRUE(stopped.value("ok", false)) << stopped.dump();
    EXPECT_GT(audio_frames((dir_.path / "osc-take.wav").string()), 0);
}

TEST_F(Osc, AFloodOfMessagesLeavesTheAudioAndTheControlPlaneAlone) {
    auto d = start("wavecast-osc-flood");
    OscPeer peer(port_);
    for (int i = 0; i < 5000; ++i) {
        if (i % 3 == 0) peer.send("/wavecast/set/temperature", "f", {}, {0.5 + (i % 5) * 0.1});
        else if (i % 3 == 1) peer.send("/wavecast/nonsense", "f", {}, {1});
        else peer.send_raw(std::string(200, static_cast<char>(i)));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const json s = d->stream_status();
    EXPECT_EQ(s["underruns"].get<uint64_t>(), 0u) << d->proc->log();
    EXPECT_TRUE(d->call({{"cmd", "ping"}}).has_value());
}

// The attack of 2026-12-07: register and status sent with a victim's source address. The victim
// drew 13,664 bytes in 10 s from 48 bytes sent (285x), status pushes forever. Now it is sent a
// token it never uses and an error, each no larger than a few times what was forged, and nothing
// after: a registration needs the token back from the address itself.
TEST_F(Osc, AForgedSourceAddressDrawsLittleOntoItsVictim) {
    const int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (raw < 0) GTEST_SKIP() << "forging a source address needs a raw socket (CAP_NET_RAW): " << std::strerror(errno);
    auto d = start("wavecast-osc-forged");
    OscPeer victim(port_);  // listens, never sends
    size_t forged = 0;
    for (const char* path : {"/wavecast/register", "/wavecast/status"}) {
        const std::string bytes = osc_bytes(path);
        ASSERT_TRUE(send_forged(raw, victim.port(), port_, bytes)) << std::strerror(errno);
        forged += bytes.size();
    }
    close(raw);
    size_t drawn = 0;
    std::vector<std::string> paths;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
        std::optional<Received> r = victim.receive(200);
        if (!r) continue;
        paths.push_back(r->path);
        drawn += r->path.size() + 8;
        for (const auto& a : r->args) drawn += a.size() + 4;
    }
    std::printf("forged %zu bytes; the victim drew about %zu in 5 s (%s)\n", forged, drawn,
                paths.empty() ? "nothing" : (paths.front() + (paths.size() > 1 ? ", " + paths[1] : "")).c_str());
    EXPECT_EQ(paths.size(), 2u) << "a token and an error, no pushes";
    EXPECT_LE(drawn, 3 * forged + 64);
    EXPECT_EQ((*d->call({{"cmd", "status"}}))["osc"]["registered"], 0);
}
