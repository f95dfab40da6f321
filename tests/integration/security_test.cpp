// The control plane's gate: with [security] curve = true only CURVE clients whose public key is
// on allowed_clients get an answer or telemetry; everyone else (no key, a wrong key, PLAIN, NULL)
// is refused in the handshake, and the audio goes on untouched. Without CURVE, an endpoint other
// machines could reach is refused. And no client, however rude, makes the daemon grow.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "protocol/curve_keys.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;

namespace {

struct Client {
    std::string server_key;   // empty: NULL mechanism
    wavecast::CurveKeys own;  // with server_key
    std::string plain_user;   // PLAIN mechanism instead
};

void dress(zmq::socket_t& s, const Client& c) {
    s.set(zmq::sockopt::linger, 0);
    if (!c.server_key.empty()) {
        s.set(zmq::sockopt::curve_serverkey, c.server_key);
        s.set(zmq::sockopt::curve_publickey, c.own.public_key);
        s.set(zmq::sockopt::curve_secretkey, c.own.secret_key);
    } else if (!c.plain_user.empty()) {
        s.set(zmq::sockopt::plain_username, c.plain_user);
        s.set(zmq::sockopt::plain_password, "secret");
    }
}

std::optional<json> ask(const std::string& endpoint, const Client& c, const json& req, int timeout_ms = 1500) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::req);
    dress(s, c);
    s.connect(endpoint);
    s.send(zmq::buffer(req.dump()), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    (void)s.recv(m);
    return json::parse(m.to_string_view());
}

// Status messages a subscriber gets within `seconds`.
int telemetry_heard(const std::string& endpoint, const Client& c, double seconds) {
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    dress(sub, c);
    sub.set(zmq::sockopt::subscribe, "status");
    sub.set(zmq::sockopt::rcvtimeo, 100);
    sub.connect(endpoint);
    int n = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
        std::vector<zmq::message_t> parts;
        if (zmq::recv_multipart(sub, std::back_inserter(parts))) ++n;
    }
    return n;
}

class ControlSecurity : public ::testing::Test {
protected:
    void SetUp() override {
        jack_ = std::make_unique<JackServer>(dir_.path.string());
        server_ = wavecast::generate_curve_keys();
        wavecast::write_curve_keys(dir_.file("server.key"), server_);
        // The allowed client's pair is made by the client tool, as a user would.
        auto [rc, out] = run_client(dir_.path.string(), {"keygen", dir_.file("client.key")});
        ASSERT_EQ(rc, 0) << out;
        allowed_ = wavecast::read_curve_keys(dir_.file("client.key"));
    }
    TempDir dir_;
    std::unique_ptr<JackServer> jack_;
    wavecast::CurveKeys server_, allowed_;
};

}  // namespace

TEST_F(ControlSecurity, OnlyAllowedCurveClientsAreAnsweredAndTheAudioGoesOn) {
    const std::string control = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    const std::string telemetry = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    Daemon d(dir_.path.string(), *jack_,
             {.jack_name = "wavecast-curve",
              .control = control,
              .telemetry = telemetry,
              .sections = "[security]\ncurve = true\nkey_file = \"" + dir_.file("server.key") + "\"\nallowed_clients = [\"" +
                          dir_.file("client.key.pub") + "\"]\n"});
    const Client good{server_.public_key, allowed_, ""};
    std::optional<json> r;
    for (int i = 0; i < 30 && !r && d.proc->running(); ++i) r = ask(control, good, {{"cmd", "ping"}});
    ASSERT_TRUE(r && (*r)["ok"]) << d.proc->log();

    EXPECT_FALSE(ask(control, Client{}, {{"cmd", "status"}})) << "a client without a key";
    EXPECT_FALSE(ask(control, Client{server_.public_key, wavecast::generate_curve_keys(), ""}, {{"cmd", "status"}}))
        << "a client whose key is not allowed";
    EXPECT_FALSE(ask(control, Client{"", {}, "admin"}, {{"cmd", "status"}})) << "a PLAIN client";
    EXPECT_FALSE(ask(control, Client{wavecast::generate_curve_keys().public_key, allowed_, ""}, {{"cmd", "status"}}))
        << "a client that does not know the daemon's key";
    EXPECT_EQ(telemetry_heard(telemetry, Client{}, 1.0), 0) << "telemetry without a key";
    EXPECT_GT(telemetry_heard(telemetry, good, 1.5), 0) << "telemetry for the allowed key";

    // The client tool with the keys (the server's as its .pub file); and without them.
    auto [rc, out] = run_client(dir_.path.string(), {"--endpoint", control, "--server-key", dir_.file("server.key.pub"), "--key",
                                                     dir_.file("client.key"), "set", "intensity=0.9"});
    EXPECT_EQ(rc, 0) << out;
    std::tie(rc, out) = run_client(dir_.path.string(), {"--endpoint", control, "--timeout", "300", "--retries", "1", "ping"});
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("CURVE"), std::string::npos) << "the message says what may be missing: " << out;

    r = ask(control, good, {{"cmd", "status"}});
    ASSERT_TRUE(r && (*r)["ok"]);
    const json& st = (*r)["streams"][0];
    EXPECT_EQ(st["params"]["intensity"].get<double>(), 0.9);
    EXPECT_EQ(st["underruns"].get<int>(), 0) << "the audio is untouched throughout";
    EXPECT_NE(d.proc->log().find("refused a client"), std::string::npos) << d.proc->log();
    // NULL and PLAIN clients fail the mechanism's handshake before ZAP sees them: logged too.
    EXPECT_NE(d.proc->log().find("refused a connection's handshake"), std::string::npos) << d.proc->log();
}

// The command line's endpoints get the config's check, before anything starts: multicast and
// TIPC reached bind() from --telemetry before, and a wildcard address from --control.
TEST_F(ControlSecurity, EndpointsFromTheCommandLineMeetTheSameCheck) {
    Daemon base(dir_.path.string(), *jack_, {.jack_name = "wavecast-flags-base"});
    base.proc->signal(SIGTERM);
    base.proc->wait(10);
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--telemetry", "epgm://lo;239.192.7.7:6678"}, "only tcp://, ipc:// and inproc://"},
        {{"--telemetry", "tipc://{5560,0,0}"}, "only tcp://, ipc:// and inproc://"},
        {{"--control", "tcp://0.0.0.0:" + std::to_string(free_tcp_port())}, "can be reached from other machines"},
        {{"--control", "tcp://*:" + std::to_string(free_tcp_port())}, "can be reached from other machines"}};
    for (const auto& [flags, why] : cases) {
        std::vector<std::string> argv{WAVECASTD_BIN, "--config", base.config};
        argv.insert(argv.end(), flags.begin(), flags.end());
        Process p(argv, jack_->env(), dir_.file(unique_name("flags") + ".log"));
        ASSERT_EQ(p.wait(20).value_or(-1), 1) << flags[1] << "\n" << p.log();
        EXPECT_NE(p.log().find(why), std::string::npos) << flags[1] << "\n" << p.log();
        EXPECT_NE(p.log().find(flags[0]), std::string::npos) << "the refusal names the flag:\n" << p.log();
    }
}

TEST_F(ControlSecurity, AnEndpointOtherMachinesCanReachNeedsCurve) {
    Daemon open(dir_.path.string(), *jack_, {.jack_name = "wavecast-open", .control = "tcp://0.0.0.0:" + std::to_string(free_tcp_port())});
    ASSERT_EQ(open.proc->wait(30).value_or(-1), 1);
    EXPECT_NE(open.proc->log().find("curve = true"), std::string::npos) << open.proc->log();

    // A secret key others may read is refused, with its path.
    const std::string leaky = dir_.file("leaky.key");
    wavecast::write_curve_keys(leaky, wavecast::generate_curve_keys());
    chmod(leaky.c_str(), 0644);
    Daemon bad(
        dir_.path.string(), *jack_,
        {.jack_name = "wavecast-leaky",
         .sections = "[security]\ncurve = true\nkey_file = \"" + leaky + "\"\nallowed_clients = [\"" + allowed_.public_key + "\"]\n"});
    ASSERT_EQ(bad.proc->wait(30).value_or(-1), 1);
    EXPECT_NE(bad.proc->log().find("leaky.key: holds a secret key but others may read it"), std::string::npos) << bad.proc->log();
}

// A subscriber that never reads and a flood of requests whose replies are never read: the daemon
// drops what it cannot send (bounded queues), its memory stays flat and the audio plays on.
TEST_F(ControlSecurity, ARudeClientCannotMakeTheDaemonGrowOrStutter) {
    Daemon d(dir_.path.string(), *jack_, {.jack_name = "wavecast-flood"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    zmq::context_t ctx(1);
    zmq::socket_t deaf(ctx, zmq::socket_type::sub);
    deaf.set(zmq::sockopt::subscribe, "");
    deaf.set(zmq::sockopt::rcvhwm, 1);
    deaf.connect(d.telemetry);
    zmq::socket_t flood(ctx, zmq::socket_type::dealer);
    flood.set(zmq::sockopt::linger, 0);
    flood.set(zmq::sockopt::rcvhwm, 1);
    flood.connect(d.control);
    const std::string status = json{{"cmd", "status"}}.dump();
    auto blast = [&](double seconds) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        int sent = 0;
        while (std::chrono::steady_clock::now() < until) {
            zmq::message_t empty;
            if (flood.send(empty, zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
                flood.send(zmq::buffer(status), zmq::send_flags::dontwait))
                ++sent;
            else std::this_thread::sleep_for(1ms);
        }
        return sent;
    };
    blast(2.0);  // queues fill to their bounds
    const long before = rss_kib(d.proc->pid());
    const int sent = blast(4.0);
    const long after = rss_kib(d.proc->pid());
    EXPECT_GT(sent, 1000);
    EXPECT_LT(after - before, 8 * 1024) << "resident memory grew from " << before << " KiB to " << after << " KiB";
    const auto st = d.stream_status();
    EXPECT_EQ(st["underruns"].get<int>(), 0) << st.dump();
}
