// Ableton Link against a peer of the test's own (another app on the network): wavecast takes
// the session's tempo, gives the session a tempo set through wavecast, and brings its beat into
// phase with the session's.
#include <gtest/gtest.h>

#include <ableton/Link.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;

TEST(Link, SharesTempoBothWaysAndComesIntoPhase) {
    // Link finds peers by UDP multicast on the machine's interfaces; where two peers of this very
    // process cannot find each other, no peer could, and there is nothing to test.
    {
        ableton::Link a(120), b(120);
        a.enable(true), b.enable(true);
        if (!eventually([&] { return a.numPeers() > 0; }, 5))
            GTEST_SKIP() << "Link peers cannot discover each other here (no multicast-capable interface)";
    }
    TempDir dir;
    JackServer jack(dir.path.string());
    ableton::Link peer(100.0);
    peer.enable(true);
    Daemon d(dir.path.string(), jack, {.jack_name = "wavecast-link", .sections = "[link]\nenabled = true\n"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    auto status = [&] { return (*d.call({{"cmd", "status"}})); };
    ASSERT_TRUE(eventually([&] { return status()["link"]["peers"].get<int>() >= 1; }, 10)) << status().dump();

    // One tempo for the session, whichever side it came from when the two met.
    ASSERT_TRUE(eventually(
        [&] { return std::abs(d.stream_status()["params"]["tempo"].get<double>() - peer.captureAppSessionState().tempo()) < 1e-3; }, 5));

    // The session changes tempo: wavecast follows.
    auto state = peer.captureAppSessionState();
    state.setTempo(111.0, peer.clock().micros());
    peer.commitAppSessionState(state);
    EXPECT_TRUE(eventually([&] { return std::abs(d.stream_status()["params"]["tempo"].get<double>() - 111.0) < 1e-3; }, 5))
        << d.stream_status().dump();

    // A tempo set through wavecast: the session follows.
    ASSERT_TRUE((*d.call({{"cmd", "set"}, {"params", {{"tempo", 97}}}}))["ok"]);
    EXPECT_TRUE(eventually([&] { return std::abs(peer.captureAppSessionState().tempo() - 97.0) < 1e-3; }, 5));

    // The beat comes into phase (within about 6 ms at 97 bpm) and stays there: over 2 s within a
    // few ms of the session's beat, half a JACK period at most, a fifth of one on average. A
    // window in which JACK reported an xrun says nothing of the daemon: the dummy driver, woken
    // late (this VM's host holds it up to 100 ms at times), starts its clock again from there and
    // the audio really is that much behind the session, so the nudge has to pull it back (at 5 %,
    // a 100 ms loss takes about 2 s). The beat is brought back into phase and measured again.
    // (jackd stopped for 120 ms in a window: 1 xrun, the error at most 0.199 beats; CI once
    // failed on 0.201.)
    const double period_beats = 1024.0 / 48000.0 * 97.0 / 60.0;
    auto xruns = [&] { return status()["jack"]["xruns"].get<uint64_t>(); };
    double worst = 0, sum = 0;
    uint64_t xruns_in_window = 0;
    for (int window = 0; window < 5; ++window) {
        // Counted from before the wait, so an xrun just ahead of the window is not missed; and
        // read a little after it, as JACK tells its clients of an xrun from another thread.
        const uint64_t xruns_before = xruns();
        ASSERT_TRUE(eventually([&] { return std::abs(status()["link"]["phase_error_beats"].get<double>()) < 0.01; }, 45))
            << status()["link"].dump();
        worst = 0, sum = 0;
        for (int i = 0; i < 40; ++i) {
            std::this_thread::sleep_for(50ms);
            const double e = std::abs(status()["link"]["phase_error_beats"].get<double>());
            worst = std::max(worst, e), sum += e;
        }
        std::this_thread::sleep_for(100ms);
        xruns_in_window = xruns() - xruns_before;
        if (xruns_in_window == 0) break;
        std::printf("window %d: %llu JACK xrun(s), phase error at most %.4f beats: measuring again\n", window + 1,
                    static_cast<unsigned long long>(xruns_in_window), worst);
    }
    if (xruns_in_window > 0) GTEST_SKIP() << "JACK reported xruns in each of 5 windows of 2 s";
    EXPECT_LT(worst, period_beats / 2);
    EXPECT_LT(sum / 40, period_beats / 5);
    std::printf("Link phase error over 2 s: mean %.4f, at most %.4f beats (a period is %.4f)\n", sum / 40, worst, period_beats);
    EXPECT_EQ(d.stream_status()["underruns"].get<int>(), 0);
}
