// The daemon end to end: a real jackd (dummy backend), the real wavecastd and wavecast binaries,
// real ZeroMQ sockets, real files.
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

#include "../unit/temp_dir.h"
#include "harness.h"
#include "midi_file.h"
#include "model.h"
#include "style.h"

using namespace harness;
using namespace std::chrono_literals;

class DaemonTest : public ::testing::Test {
protected:
    // A failure here is recorded and reported by every test's SetUp: gtest would otherwise mark
    // the tests skipped, and a skip must never stand for a broken daemon.
    static void SetUpTestSuite() {
        try {
            dir_ = new TempDir;
            jack_ = new JackServer(dir_->path.string());
            daemon_ = new Daemon(dir_->path.string(), *jack_);
            if (!daemon_->wait_ready(30)) setup_error_ = "wavecastd did not come up:\n" + daemon_->proc->log();
        } catch (const std::exception& e) {
            setup_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete jack_;
        delete dir_;
        daemon_ = nullptr, jack_ = nullptr, dir_ = nullptr;
    }
    void SetUp() override {
        if (!setup_error_.empty()) FAIL() << setup_error_;
    }

    static TempDir* dir_;
    static JackServer* jack_;
    static Daemon* daemon_;
    static std::string setup_error_;
};
std::string DaemonTest::setup_error_;
TempDir* DaemonTest::dir_ = nullptr;
JackServer* DaemonTest::jack_ = nullptr;
Daemon* DaemonTest::daemon_ = nullptr;

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

TEST_F(DaemonTest, RecordForSecondsWritesExactlyThatLength) {
    const std::string path = dir_->file("timed.wav");
    auto r = daemon_->call({{"cmd", "record"}, {"path", path}, {"seconds", 1.5}, {"bits", 16}});
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");
    auto conflict = daemon_->call({{"cmd", "record"}, {"path", dir_->file("other.wav")}});
    EXPECT_EQ((*conflict)["error"]["code"], "conflict");
    for (int i = 0; i < 100 && daemon_->stream_status()["recording"]["active"].get<bool>(); ++i) std::this_thread::sleep_for(50ms);
    int rate = 0;
    EXPECT_EQ(audio_frames(path, &rate), 72000);
    EXPECT_EQ(rate, 48000);
}

TEST_F(DaemonTest, RecordWritesTheMidiItPlayedBesideTheAudio) {
    const std::string wav = dir_->file("with-midi.wav"), mid = dir_->file("with-midi.mid");
    auto r = daemon_->call({{"cmd", "record"}, {"path", wav}, {"seconds", 3}, {"midi", mid}});
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");
    for (int i = 0; i < 200 && daemon_->stream_status()["recording"]["active"].get<bool>(); ++i) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(audio_frames(wav), 3 * 48000);
    std::istringstream lines(read_midi_with_mido(mid, dir_->file("mido-rec.log")));
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(nlohmann::json::parse(line)["type"], 0);
    const double tempo = daemon_->stream_status()["params"]["tempo"];
    const long last_tick = std::lround(3.0 * tempo / 60.0 * 480);
    int programs = 0, ons = 0, offs = 0;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_LE(j["tick"].get<long>(), last_tick + 1) << j.dump();
        if (j.contains("program")) ++programs;
        else if (j["on"].get<bool>()) ++ons;
        else ++offs;
    }
    EXPECT_EQ(programs, 4) << "each track's program, at the start";
    EXPECT_GT(ons, 5);
    EXPECT_EQ(ons, offs);
}

TEST_F(DaemonTest, StopRecordFinalisesTheFileAtTheReportedLength) {
    const std::string path = dir_->file("open.wav");
    ASSERT_TRUE((*daemon_->call({{"cmd", "record"}, {"path", path}}))["ok"]);
    std::this_thread::sleep_for(700ms);
    auto r = daemon_->call({{"cmd", "stop-record"}});
    ASSERT_TRUE(r && (*r)["ok"]) << (r ? r->dump() : "no reply");
    const auto frames = (*r)["frames"].get<int64_t>();
    EXPECT_GT(frames, 48000 / 2);
    EXPECT_EQ(audio_frames(path), frames);
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

// Streams that share one generator (batch_streams, what a GPU daemon does by default): both
// play, each with its own lanes, neither underruns, and SIGTERM still ends the daemon promptly
// though one producer may be waiting for the other's block.
TEST_F(DaemonTest, StreamsSharingOneGeneratorBothPlayAndStopPromptly) {
    Daemon d(dir_->path.string(), *jack_,
             {.jack_name = "wavecast-batch",
              .shape = "tiny",
              .daemon_extra = "batch_streams = \"on\"",
              .sections = "[[stream]]\nname = \"second\"\nstyle = \"ambient\"\nlanes = 2\nseed = 9\nlookahead_ms = 150\n"});
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    // Rendering in step, both fill to the longer look-ahead (400 ms), at once and in full.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << d.proc->log();
    EXPECT_NE(d.proc->log().find("2 streams share one generator of 6 lanes"), std::string::npos) << d.proc->log();
    EXPECT_NE(d.proc->log().find("stream 'second': look-ahead 400 ms rather than 150"), std::string::npos) << d.proc->log();
    EXPECT_EQ(d.proc->log().find("did not fill its look-ahead"), std::string::npos) << d.proc->log();
    Capture main(jack_->name(), "wavecast-batch:main_out_L", "wavecast-batch:main_out_R", 3 * 48000);
    Capture second(jack_->name(), "wavecast-batch:second_out_L", "wavecast-batch:second_out_R", 3 * 48000);
    ASSERT_TRUE(main.wait_full(15) && second.wait_full(15));
    EXPECT_LT(silent_frames(main), main.frames() / 100) << "main is silent";
    EXPECT_LT(silent_frames(second), second.frames() / 100) << "second is silent";
    size_t same = 0;
    for (size_t i = 0; i < main.frames(); ++i) same += main.left()[i] == second.left()[i];
    EXPECT_LT(same, main.frames() / 100) << "the streams play the same audio";
    const auto st = d.call({{"cmd", "status"}});
    ASSERT_TRUE(st.has_value());
    ASSERT_EQ((*st)["streams"].size(), 2u) << st->dump();
    for (const auto& s : (*st)["streams"]) {
        EXPECT_EQ(s["underruns"].get<int>(), 0) << s.dump();
        EXPECT_EQ(s["generator_failures"].get<int>(), 0) << s.dump();
    }
    EXPECT_EQ((*st)["streams"][1]["lanes"].get<int>(), 2);
    // A block a round for both; status may catch one a block or two ahead of the other.
    const auto a = (*st)["streams"][0]["samples_generated"].get<int64_t>(), b = (*st)["streams"][1]["samples_generated"].get<int64_t>();
    EXPECT_LE(std::abs(a - b), 1600) << st->dump();
    EXPECT_EQ(d.proc->log().find("missed a round"), std::string::npos) << d.proc->log();
    for (const auto& s : (*st)["streams"]) EXPECT_EQ(s["lookahead_ms"].get<double>(), 400.0) << s.dump();
    const auto t1 = std::chrono::steady_clock::now();
    d.proc->signal(SIGTERM);
    const auto rc = d.proc->wait(5);
    ASSERT_TRUE(rc.has_value()) << "still running 5 s after SIGTERM";
    EXPECT_EQ(*rc, 0) << d.proc->log();
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 2.0);
}

// A shared generator that fails (an injected lost device, in every stream's member) leaves each
// stream to fall back to a CPU generator of its own: both play on, neither waits for the other.
TEST_F(DaemonTest, StreamsSharingAFailingGeneratorEachFallBackAndPlayOn) {
    const std::string fallback = dir_->file("fallback-tiny.safetensors");
    wavecast::save_model(fallback, wavecast::random_model(wavecast::named_shape("tiny"), 7));
    Daemon d(dir_->path.string(), *jack_,
             {.jack_name = "wavecast-batchfail",
              .shape = "tiny",
              .daemon_extra = "batch_streams = \"on\"\nfallback_model = \"" + fallback + "\"",
              .sections = "[[stream]]\nname = \"second\"\nstyle = \"ambient\"\nlanes = 2\nseed = 9\n",
              .env = {{"WAVECAST_TEST_FAULTS", "generator_fails_after_s=1.5"}}});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    json st;
    ASSERT_TRUE(eventually(
        [&] {
            st = *d.call({{"cmd", "status"}});
            for (const auto& s : st["streams"])
                if (s["generator_failures"].get<int>() < 1) return false;
            return true;
        },
        10))
        << st.dump();
    Capture main(jack_->name(), "wavecast-batchfail:main_out_L", "wavecast-batchfail:main_out_R", 48000);
    Capture second(jack_->name(), "wavecast-batchfail:second_out_L", "wavecast-batchfail:second_out_R", 48000);
    ASSERT_TRUE(main.wait_full(10) && second.wait_full(10));
    EXPECT_LT(silent_frames(main), main.frames() / 100) << "main must play on after the fallback";
    EXPECT_LT(silent_frames(second), second.frames() / 100) << "second must play on after the fallback";
    st = *d.call({{"cmd", "status"}});
    for (const auto& s : st["streams"]) {
        EXPECT_EQ(s["generator_failures"].get<int>(), 1) << s.dump();
        EXPECT_EQ(s["underruns"].get<int>(), 0) << s.dump();
    }
}

// A producer slowed to a fifth of real time (an injected fault: a stalled GPU, a slow CPU): the
// callback must play zeros, count every short period, and say so on telemetry.
TEST_F(DaemonTest, UnderrunsPlayZerosAndAreCountedAndReported) {
    Daemon slow(dir_->path.string(), *jack_,
                {.jack_name = "wavecast-slow", .lookahead_ms = 50, .env = {{"WAVECAST_TEST_FAULTS", "slow_producer=5"}}});
    ASSERT_TRUE(slow.wait_ready(30)) << slow.proc->log();
    zmq::context_t ctx(1);
    zmq::socket_t sub = subscribe(ctx, slow.telemetry, "log", 5000);
    Capture cap(jack_->name(), "wavecast-slow:main_out_L", "wavecast-slow:main_out_R", 48000);
    ASSERT_TRUE(cap.wait_full(10));
    const size_t zeros = silent_frames(cap);
    EXPECT_GT(zeros, cap.frames() / 4) << "a generator at a fifth of real time must leave gaps of silence";
    const auto st = slow.stream_status();
    EXPECT_GT(st["underruns"].get<uint64_t>(), 10u) << st.dump();
    EXPECT_GT(st["underrun_frames"].get<uint64_t>(), 48000u / 4) << st.dump();
    EXPECT_GE(st["longest_gap_ms"].get<double>(), 1024 * 1000.0 / 48000) << "at least a whole period of silence";
    EXPECT_LE(st["longest_gap_ms"].get<double>(), st["underrun_frames"].get<double>() * 1000.0 / 48000);
    EXPECT_LT(st["rtf"].get<double>(), 1.0);
    // Other lines share the log topic (an xrun on a loaded machine, say): read until the warning
    // comes or 10 s pass, however many come before it. The daemon warns every status interval.
    bool warned = false;
    std::vector<std::string> seen;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!warned && std::chrono::steady_clock::now() < deadline) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(sub, std::back_inserter(parts))) break;
        if (parts.size() == 2) seen.push_back(parts[1].to_string());
        warned = parts.size() == 2 && parts[1].to_string().find("underrun") != std::string::npos;
    }
    EXPECT_TRUE(warned) << "no underrun warning on the log topic; it carried " << seen.size() << " other lines"
                        << (seen.empty() ? "" : ", the last: " + seen.back());
}

// A generator that fails (an injected lost device) is replaced by the CPU generator of the
// fallback model while the stream plays on: the failure is counted and shown, the audio resumes.
TEST_F(DaemonTest, AFailingGeneratorFallsBackToTheCpuAndTheStreamGoesOn) {
    const std::string fallback = dir_->file("fallback-small.safetensors");
    wavecast::save_model(fallback, wavecast::random_model(wavecast::named_shape("small"), 7));
    Daemon d(dir_->path.string(), *jack_,
             {.jack_name = "wavecast-failover",
              .daemon_extra = "fallback_model = \"" + fallback + "\"",
              .env = {{"WAVECAST_TEST_FAULTS", "generator_fails_after_s=1.5"}}});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    json st;
    for (int i = 0; i < 100; ++i) {
        st = d.stream_status();
        if (st["generator_failures"].get<int>() > 0) break;
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(st["generator_failures"].get<int>(), 1) << st.dump();
    EXPECT_NE(st["last_failure"].get<std::string>().find("injected fault"), std::string::npos) << st.dump();
    EXPECT_EQ(st["backend"], "cpu");
    const uint64_t samples = st["samples_generated"].get<uint64_t>();
    Capture cap(jack_->name(), "wavecast-failover:main_out_L", "wavecast-failover:main_out_R", 24000);
    ASSERT_TRUE(cap.wait_full(10));
    const size_t zeros = silent_frames(cap);
    EXPECT_LT(zeros, cap.frames() / 100) << "the stream must play on after the fallback";
    st = d.stream_status();
    EXPECT_GT(st["samples_generated"].get<uint64_t>(), samples + 4000);
    EXPECT_EQ(st["underruns"].get<int>(), 0) << st.dump();
    EXPECT_NE(d.proc->log().find("falling back"), std::string::npos) << d.proc->log();
}

// A masking stage that fails as a CUDA stage with a sticky error does (injected) is replaced by
// the CPU's in the same block: the stream plays on, the control socket answers throughout, and
// status says what happened. (On an H200 the real thing left the stream silent and status
// unanswered for seconds at a time.)
TEST_F(DaemonTest, AFailingMaskingStageFallsBackToTheCpuAndControlAnswers) {
    Daemon d(dir_->path.string(), *jack_,
             {.jack_name = "wavecast-maskfail", .env = {{"WAVECAST_TEST_FAULTS", "masking_fails_after_s=1.5"}}});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    json st;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = d.call({{"cmd", "status"}}, 1000);
        ASSERT_TRUE(r.has_value()) << "status went unanswered for a second";
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
        st = (*r)["streams"][0];
        if (st["masking"]["failures"].get<int>() > 0) break;
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(st["masking"]["failures"].get<int>(), 1) << st.dump();
    EXPECT_EQ(st["masking"]["backend"], "cpu");
    EXPECT_NE(st["masking"]["last_failure"].get<std::string>().find("injected fault"), std::string::npos) << st.dump();
    Capture cap(jack_->name(), "wavecast-maskfail:main_out_L", "wavecast-maskfail:main_out_R", 48000);
    ASSERT_TRUE(cap.wait_full(10));
    EXPECT_LT(silent_frames(cap), cap.frames() / 100) << "the stream must play on after the fallback";
    EXPECT_EQ(d.stream_status()["underruns"].get<int>(), 0);
}

// A fallback model that cannot be loaded is refused at start, with its path.
TEST_F(DaemonTest, ABadFallbackModelIsRefusedAtStart) {
    const std::string bad = dir_->file("broken-fallback.safetensors");
    std::ofstream(bad) << "not a model";
    Daemon d(dir_->path.string(), *jack_, {.jack_name = "wavecast-badfallback", .daemon_extra = "fallback_model = \"" + bad + "\""});
    const auto rc = d.proc->wait(30);
    ASSERT_TRUE(rc.has_value());
    EXPECT_NE(*rc, 0);
    EXPECT_NE(d.proc->log().find("broken-fallback.safetensors"), std::string::npos) << d.proc->log();
}

// MIDI out: the composer's notes arrive on STREAM_midi_out on the style's channels, spaced on the
// output clock exactly as the composer spaced them (the delay that lines them up with the audio
// is constant), and a style switch sends the new programs.
TEST_F(DaemonTest, MidiOutCarriesTheComposersNotesOnTime) {
    Daemon d(dir_->path.string(), *jack_, {.jack_name = "wavecast-midi"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    MidiCapture cap(jack_->name(), "wavecast-midi:main_midi_out");
    std::this_thread::sleep_for(3s);
    const auto before = cap.events();
    ASSERT_TRUE((*d.call({{"cmd", "style"}, {"name", "lofi"}}))["ok"]);
    std::this_thread::sleep_for(3s);
    const auto all = cap.events();
    ASSERT_GT(before.size(), 20u);

    const auto styles = wavecast::load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    const auto expected = expected_notes("techno", 1, 60);
    std::vector<wavecast::MidiEvent> ons;
    for (const auto& e : expected)
        if (e.on) ons.push_back(e);
    std::vector<MidiCapture::Event> got;
    for (const auto& e : before)
        if ((e.bytes[0] & 0xF0) == 0x90) got.push_back(e);
    ASSERT_GT(got.size(), 10u);
    // Find where the captured note-ons start in the composer's, then compare them one by one.
    auto matches = [&](size_t k) {
        for (size_t i = 0; i < got.size(); ++i) {
            const auto& e = ons[k + i];
            const auto& track = styles.at("techno")->tracks[static_cast<size_t>(e.track)];
            if (got[i].bytes[0] != (0x90 | wavecast::midi_channel(track, e.track)) || got[i].bytes[1] != e.pitch ||
                got[i].bytes[2] != e.velocity)
                return false;
        }
        return true;
    };
    size_t k = 0;
    while (k + got.size() <= ons.size() && !matches(k)) ++k;
    ASSERT_LT(k + got.size(), ons.size()) << "the captured notes are not the composer's";
    for (size_t i = 1; i < got.size(); ++i) {
        const double want = static_cast<double>(ons[k + i].sample - ons[k].sample) * 3.0;  // 16 kHz -> 48 kHz
        EXPECT_NEAR(static_cast<double>(got[i].frame - got[0].frame), want, 1.0) << "note " << i;
    }
    bool lofi_bass_program = false;
    for (size_t i = before.size(); i < all.size(); ++i) lofi_bass_program |= all[i].bytes[0] == 0xC1 && all[i].bytes[1] == 33;
    EXPECT_TRUE(lofi_bass_program) << "no program change for lofi's bass after the style switch";
    EXPECT_EQ(d.stream_status()["underruns"], 0);
}

// With follow_transport, the stream takes the tempo of JACK transport's timebase master while
// it rolls: here a test client that says 140 bpm.
namespace {
void timebase_140(jack_transport_state_t, jack_nframes_t, jack_position_t* pos, int, void*) {
    pos->valid = JackPositionBBT;
    pos->bar = 1, pos->beat = 1, pos->tick = 0, pos->bar_start_tick = 0;
    pos->beats_per_bar = 4, pos->beat_type = 4, pos->ticks_per_beat = 1920, pos->beats_per_minute = 140;
}
}  // namespace

// MIDI out against the audio itself: with the network replaced by a click where each note starts
// (an injected test fault), every note-on of main_midi_out falls within one JACK period of a
// click in main_out_L/R, and every click has its note-on. The network's own audio can start a
// note only at the frame the note starts in, so this is the alignment it gets.
TEST_F(DaemonTest, MidiNoteOnsLineUpWithTheAudioWithinAPeriod) {
    Daemon d(dir_->path.string(), *jack_, {.jack_name = "wavecast-onsets", .env = {{"WAVECAST_TEST_FAULTS", "onset_clicks=1"}}});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    // Masking would smear a click over its analysis window; the timing is what is under test.
    ASSERT_TRUE((*d.call({{"cmd", "set"}, {"params", {{"masking_db", -100}}}}))["ok"]);
    MidiCapture midi(jack_->name(), "wavecast-onsets:main_midi_out");
    std::this_thread::sleep_for(1s);
    Capture audio(jack_->name(), "wavecast-onsets:main_out_L", "wavecast-onsets:main_out_R", 48000 * 4);
    ASSERT_TRUE(audio.wait_full(15));
    constexpr double kPeriod = 1024;
    std::vector<double> clicks;
    float peak = 0;
    for (size_t i = 0; i < audio.frames(); ++i) peak = std::max(peak, std::abs(audio.left()[i]) + std::abs(audio.right()[i]));
    ASSERT_GT(peak, 0.01f) << "no clicks at all";
    // An onset: the envelope crosses a tenth of the peak after 20 ms below it.
    size_t quiet = 960;
    for (size_t i = 0; i < audio.frames(); ++i) {
        const float env = std::abs(audio.left()[i]) + std::abs(audio.right()[i]);
        if (env > 0.1f * peak) {
            if (quiet >= 960) clicks.push_back(static_cast<double>(audio.first_frame() + i));
            quiet = 0;
        } else {
            ++quiet;
        }
    }
    std::vector<double> ons;
    for (const auto& e : midi.events())
        if ((e.bytes[0] & 0xF0) == 0x90 && e.bytes[2] > 0) ons.push_back(static_cast<double>(e.frame));
    const double begin = static_cast<double>(audio.first_frame()) + kPeriod, end = begin + audio.frames() - 2 * kPeriod;
    auto near = [&](const std::vector<double>& v, double t) {
        return std::any_of(v.begin(), v.end(), [&](double x) { return std::abs(x - t) <= kPeriod; });
    };
    int checked = 0;
    for (double t : ons)
        if (t >= begin && t < end) {
            EXPECT_TRUE(near(clicks, t)) << "the note-on at frame " << t << " has no click within a period";
            ++checked;
        }
    EXPECT_GT(checked, 12) << "too few notes in 4 s of techno";
    for (double t : clicks) {
        if (t >= begin && t < end) {
            EXPECT_TRUE(near(ons, t)) << "the click at frame " << t << " has no note-on within a period";
        }
    }
    // How far apart they are, for the record: the mean offset of each note-on to its nearest click.
    double sum = 0;
    int n = 0;
    for (double t : ons)
        if (t >= begin && t < end) {
            double best = 1e9;
            for (double c : clicks) best = std::abs(c - t) < std::abs(best) ? c - t : best;
            if (std::abs(best) <= kPeriod) sum += best, ++n;
        }
    std::printf("mean click - note-on offset: %.1f frames over %d notes\n", n ? sum / n : 0.0, n);
}

TEST_F(DaemonTest, FollowsTheTempoOfJackTransport) {
    Daemon d(dir_->path.string(), *jack_, {.jack_name = "wavecast-transport", .jack_extra = "follow_transport = true"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    jack_status_t st;
    jack_client_t* master =
        jack_client_open("timebase", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, jack_->name().c_str());
    ASSERT_NE(master, nullptr);
    ASSERT_EQ(jack_set_timebase_callback(master, 0, timebase_140, nullptr), 0);
    ASSERT_EQ(jack_activate(master), 0);
    jack_transport_start(master);
    double tempo = 0;
    for (int i = 0; i < 60 && tempo != 140.0; ++i) {
        std::this_thread::sleep_for(50ms);
        tempo = d.stream_status()["params"]["tempo"].get<double>();
    }
    jack_transport_stop(master);
    jack_client_close(master);
    EXPECT_EQ(tempo, 140.0);
    EXPECT_EQ(daemon_->stream_status()["params"]["tempo"].get<double>(), 128.0) << "a daemon not following keeps its tempo";
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
