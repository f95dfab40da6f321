// The daemon end to end: a real jackd (dummy backend), the real wavecastd and wavecast binaries,
// real ZeroMQ sockets, real files. Streaming, the control plane, telemetry, the client, shutdown.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "kernels/model.h"
#include "score/midi_file.h"
#include "score/style.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;

TEST_F(DaemonTest, StreamsTenSecondsIntoJackWithoutUnderruns) {
    const size_t frames = 10 * 48000;
    const auto before = daemon_->stream_status();
    Capture cap(jack_->name(), "wavecast:main_out_L", "wavecast:main_out_R", frames);
    ASSERT_TRUE(cap.wait_full(20)) << "captured only " << cap.frames() << " frames";
    EXPECT_EQ(cap.frames(), frames);
    double energy = 0;
    size_t distinct = 0;
    for (size_t i = 0; i < frames; ++i) {
        ASSERT_TRUE(std::isfinite(cap.left()[i]) && std::isfinite(cap.right()[i])) << "frame " << i;
        energy += cap.left()[i] * cap.left()[i] + cap.right()[i] * cap.right()[i];
        distinct += i > 0 && cap.left()[i] != cap.left()[i - 1];
    }
    const double rms = std::sqrt(energy / (2.0 * frames));
    EXPECT_GT(rms, 1e-3) << "the stream is silent";
    EXPECT_LT(rms, 1.0);
    EXPECT_GT(distinct, frames / 2) << "the stream is stuck on a value";
    const auto after = daemon_->stream_status();
    EXPECT_EQ(after["underruns"], 0) << after.dump();
    EXPECT_EQ(before["underruns"], 0);
    EXPECT_GT(after["samples_generated"].get<uint64_t>(), before["samples_generated"].get<uint64_t>() + 9 * 16000);
    EXPECT_GT(after["rtf"].get<double>(), 1.0);
    // Ten seconds in, the automatic gain holds the stream near its -16 LUFS target.
    EXPECT_NEAR(after["loudness"]["short_term_lufs"].get<double>(), -16.0, 3.0) << after["loudness"].dump();
    EXPECT_LE(after["loudness"]["true_peak_dbtp"].get<double>(), -0.8) << after["loudness"].dump();
}

TEST_F(DaemonTest, SetTemperatureShowsInStatus) {
    auto r = daemon_->call({{"cmd", "set"}, {"stream", "main"}, {"params", {{"temperature", 0.9}, {"gain_db", -3}, {"masking_db", 6}}}});
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE((*r)["ok"]) << r->dump();
    const auto s = daemon_->stream_status();
    EXPECT_DOUBLE_EQ(s["params"]["temperature"].get<double>(), 0.9);
    EXPECT_DOUBLE_EQ(s["params"]["gain_db"].get<double>(), -3.0);
    EXPECT_DOUBLE_EQ(s["params"]["masking_db"].get<double>(), 6.0);
    EXPECT_GT(s["masking"]["frames"].get<uint64_t>(), 0u);
    // A request with one bad value changes nothing, not even the good ones beside it.
    r = daemon_->call({{"cmd", "set"}, {"params", {{"temperature", 0.5}, {"tempo", 9999}}}});
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE((*r)["ok"]);
    EXPECT_EQ((*r)["error"]["code"], "out_of_range");
    EXPECT_DOUBLE_EQ(daemon_->stream_status()["params"]["temperature"].get<double>(), 0.9);
}

TEST_F(DaemonTest, ThousandMalformedRequestsEachGetAnErrorWhileTheAudioGoesOn) {
    const std::vector<std::string> bad = {"{",
                                          "",
                                          "null",
                                          "[]",
                                          "42",
                                          R"({"id":1})",
                                          R"({"cmd":7})",
                                          R"({"cmd":"dance"})",
                                          R"({"cmd":"ping","x":1})",
                                          R"({"cmd":"set","params":{"temperature":"hot"}})",
                                          R"({"cmd":"set","params":{"temperature":1e999}})",
                                          R"({"cmd":"set","params":{"volume":1}})",
                                          R"({"cmd":"set","params":[]})",
                                          R"({"cmd":"set","stream":"nope","params":{"tempo":100}})",
                                          R"({"cmd":"style","name":"polka"})",
                                          R"({"cmd":"style"})",
                                          R"({"cmd":"record"})",
                                          R"({"cmd":"record","path":"/no/such/dir/x.wav"})",
                                          R"({"cmd":"stop-record"})",
                                          std::string(100000, 'x')};
    const uint64_t underruns = daemon_->stream_status()["underruns"];
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);  // a DEALER may pipeline: send all, then read all
    s.set(zmq::sockopt::linger, 0);
    s.connect(daemon_->control);
    for (int i = 0; i < 1000; ++i) {
        s.send(zmq::message_t(), zmq::send_flags::sndmore);  // the delimiter a REQ peer would add
        s.send(zmq::buffer(bad[static_cast<size_t>(i) % bad.size()]), zmq::send_flags::none);
    }
    int errors = 0;
    std::map<std::string, int> codes;
    s.set(zmq::sockopt::rcvtimeo, 5000);
    for (int i = 0; i < 1000; ++i) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(s, std::back_inserter(parts))) break;
        ASSERT_EQ(parts.size(), 2u);
        const auto r = nlohmann::json::parse(parts[1].to_string_view());
        ASSERT_FALSE(r["ok"].get<bool>()) << r.dump();
        ASSERT_FALSE(r["error"]["message"].get<std::string>().empty());
        ++codes[r["error"]["code"]];
        ++errors;
    }
    EXPECT_EQ(errors, 1000);
    EXPECT_GE(codes.size(), 8u);
    EXPECT_EQ(codes["too_large"], 50);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(daemon_->stream_status()["underruns"].get<uint64_t>(), underruns);
    auto ok = daemon_->call({{"cmd", "ping"}, {"id", "after"}});
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ((*ok)["id"], "after");
}

TEST_F(DaemonTest, TelemetryPublishesStatus) {
    zmq::context_t ctx(1);
    zmq::socket_t sub = subscribe(ctx, daemon_->telemetry, "status", 3000);
    std::vector<zmq::message_t> parts;
    ASSERT_TRUE(zmq::recv_multipart(sub, std::back_inserter(parts)));
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].to_string(), "status");
    const auto body = nlohmann::json::parse(parts[1].to_string_view());
    for (const char* key : {"backend", "model", "sample_rate", "uptime_s", "streams"}) EXPECT_TRUE(body.contains(key)) << key;
    for (const char* key : {"name", "style", "params", "samples_generated", "underruns", "xruns", "rtf", "ring_ms", "masking", "loudness"})
        EXPECT_TRUE(body["streams"][0].contains(key)) << key;
}

TEST_F(DaemonTest, TelemetryPublishesNotesAsTheySound) {
    zmq::context_t ctx(1);
    zmq::socket_t sub = subscribe(ctx, daemon_->telemetry, "notes", 3000);
    int ons = 0;
    std::set<std::string> tracks;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (ons < 20 && std::chrono::steady_clock::now() < until) {
        std::vector<zmq::message_t> parts;
        ASSERT_TRUE(zmq::recv_multipart(sub, std::back_inserter(parts)));
        ASSERT_EQ(parts[0].to_string(), "notes");
        const auto body = nlohmann::json::parse(parts[1].to_string_view());
        EXPECT_EQ(body["stream"], "main");
        for (const auto& e : body["events"]) {
            ASSERT_TRUE(e["pitch"].is_number_integer() && e["pitch"].get<int>() >= 0 && e["pitch"].get<int>() < 128) << e.dump();
            tracks.insert(e["track"].get<std::string>());
            ons += e["on"].get<bool>();
        }
    }
    EXPECT_GE(ons, 20);
    EXPECT_TRUE(tracks.count("drums")) << "the techno drums should be among the first notes";
}

TEST_F(DaemonTest, ClientExitStatusFollowsTheReply) {
    const std::string ep = "--endpoint=" + daemon_->control;
    auto run = [&](const std::vector<std::string>& args) {
        std::vector<std::string> argv{WAVECAST_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        Process p(argv, {}, dir_->file("client.log"));
        auto rc = p.wait(20);
        return std::make_pair(rc.value_or(-1), p.log());
    };
    auto [rc, out] = run({ep, "set", "temperature=0.7"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_DOUBLE_EQ(daemon_->stream_status()["params"]["temperature"].get<double>(), 0.7);
    std::tie(rc, out) = run({ep, "set", "loudness=3"});
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("unknown_param"), std::string::npos) << out;
    std::tie(rc, out) = run({ep, "--json", "status"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(nlohmann::json::parse(out)["ok"]) << out;
    std::tie(rc, out) = run({ep, "styles"});
    EXPECT_EQ(rc, 0);
    EXPECT_NE(out.find("techno"), std::string::npos) << out;
    std::tie(rc, out) = run({ep, "style", "techno", "--blend", "techno=0.5,ambient=0.5", "--crossfade", "2"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_DOUBLE_EQ(daemon_->stream_status()["params"]["tempo"].get<double>(), 100.0) << "the blend's mean tempo";
    std::tie(rc, out) = run({ep, "style", "techno", "--blend", "techno=1,polka=1"});
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("unknown_style"), std::string::npos) << out;
    std::tie(rc, out) = run({ep, "style", "lofi"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(daemon_->stream_status()["style"], "lofi");
    std::tie(rc, out) = run({"--endpoint=ipc://" + dir_->file("nobody-home"), "--timeout=100", "--retries=2", "ping"});
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("no reply"), std::string::npos) << out;
}

TEST_F(DaemonTest, SigtermEndsTheDaemonWithinTwoSecondsAndFinalisesItsRecording) {
    Daemon second(dir_->path.string(), *jack_, {.jack_name = "wavecast2"});
    ASSERT_TRUE(second.wait_ready(30)) << second.proc->log();
    const std::string path = dir_->file("sigterm.wav");
    ASSERT_TRUE((*second.call({{"cmd", "record"}, {"path", path}}))["ok"]);
    std::this_thread::sleep_for(600ms);
    const auto t0 = std::chrono::steady_clock::now();
    second.proc->signal(SIGTERM);
    const auto rc = second.proc->wait(5);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(rc.has_value()) << "still running 5 s after SIGTERM";
    EXPECT_EQ(*rc, 0) << second.proc->log();
    EXPECT_LT(took, 2.0);
    EXPECT_GT(audio_frames(path), 48000 / 4) << second.proc->log();
    EXPECT_NE(second.proc->log().find("finalised"), std::string::npos);
}

// The score command plays a MIDI file through the stream from the next bar, until the next style.
TEST_F(DaemonTest, ScoreCommandPlaysAMidiFileInsteadOfComposing) {
    const std::string mid = dir_->file("to-play.mid");
    Process render({WAVECASTD_BIN, "--config", daemon_->config, "render", "--style", "lofi", "--seconds", "4", "--out",
                    dir_->file("to-play.wav"), "--midi", mid},
                   {}, dir_->file("score-render.log"));
    ASSERT_EQ(render.wait(60).value_or(-1), 0) << render.log();
    auto r = daemon_->call({{"cmd", "score"}, {"path", mid}});
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");
    EXPECT_GT((*r)["notes"].get<int>(), 10);
    EXPECT_NEAR((*r)["tempo"].get<double>(), 84.0, 1e-3);  // lofi's, to the file's microseconds per beat
    std::string section;
    for (int i = 0; i < 80 && section != "score"; ++i) {
        std::this_thread::sleep_for(50ms);
        section = daemon_->stream_status()["section"];
    }
    EXPECT_EQ(section, "score");
    EXPECT_EQ(daemon_->stream_status()["style"], "score");
    r = daemon_->call({{"cmd", "score"}, {"path", dir_->file("no-such.mid")}});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ((*r)["error"]["code"], "io_error");
    EXPECT_NE((*r)["error"]["message"].get<std::string>().find("no-such.mid"), std::string::npos);
    ASSERT_TRUE((*daemon_->call({{"cmd", "style"}, {"name", "techno"}}))["ok"]);
    for (int i = 0; i < 80 && section == "score"; ++i) {
        std::this_thread::sleep_for(50ms);
        section = daemon_->stream_status()["section"];
    }
    EXPECT_NE(section, "score") << "a style ends the score";
}
