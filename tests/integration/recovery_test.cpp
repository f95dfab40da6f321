// What a daemon rides out: streams sharing a generator, a generator or masking stage that fails
// (faults injected, tests/support/faults.h), a producer too slow for real time, a bad fallback.
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