// A knob's latency to the ear with the real things: the live profile's settings (config/live.toml:
// no masking, 10 ms blocks, the fast resampler, realtime producers) on a dummy jackd with
// 256-frame periods,
// wavecast-latency (benchmarks/latency.cpp) sending Control Changes on control_midi_in from a JACK
// client of its own and capturing main_out_L on the same time line. The changes sent while the
// music held steady must be found in the audio (all but a few), never sooner than the ring lets it through, and
// within what status says the parts add up to. The
// look-ahead is 100 ms here, not the profile's, so that a busy CI machine cannot underrun it: the
// figures at the profile's own look-ahead are the benchmark's (benchmarks/latency.sh, RESULTS).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;

TEST(Latency, TheLiveProfileBringsAKnobToTheJackPortsWithinItsParts) {
    TempDir dir;
    JackServer jack(dir.path.string(), 48000, 256);
    const std::string mapping = std::string(WAVECAST_SOURCE_DIR) + "/config/mappings/generic-8knob.toml";
    // The live profile's settings, on the harness's daemon (its model, styles and endpoints).
    Daemon d(dir.path.string(), jack,
             {.jack_name = "wavecast-live",
              .lookahead_ms = 100,
              .daemon_extra = "masking = \"off\"\nblock_frames = 1\nresampler = \"fast\"\nrealtime = true\n",
              .sections = "midi_map = \"" + mapping + "\"\n"});
    ASSERT_TRUE(d.wait_ready(30)) << d.proc->log();
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the loudness stage settles its gain
    const json latency = d.stream_status()["latency"];
    EXPECT_EQ(latency["masking_ms"], 0.0) << latency.dump();
    EXPECT_EQ(latency["block_ms"], 10.0) << latency.dump();
    // Realtime where the system and JACK allow it; where not, the daemon says why.
    const int priority = d.stream_status()["producer_priority"].get<int>();
    const std::string log = d.proc->log();
    if (priority == 0) EXPECT_TRUE(log.find("realtime") != std::string::npos && log.find("normal priority") != std::string::npos) << log;
    else EXPECT_NE(log.find("producers at realtime priority " + std::to_string(priority)), std::string::npos) << log;
    Process probe({WAVECAST_LATENCY_BIN, "--server", jack.name(), "--client", "wavecast-live", "--surface", "midi", "--changes", "24",
                   "--cc", "73", "--low-db", "-24", "--high-db", "6"},
                  jack.env(), dir.file("latency.log"));
    const auto rc = probe.wait(60);
    ASSERT_TRUE(rc.has_value()) << probe.log();
    const std::string out = probe.log();
    const json r = json::parse(out.substr(out.find('{')));
    // It exits 1 where more than a tenth of the steady changes are not found: a note that ends in
    // silence just after a change can hide it, a daemon that drops changes hides many.
    EXPECT_EQ(*rc, 0) << out;
    EXPECT_GE(r["measured"].get<int>(), 12) << "most were sent while the music held steady: " << out;
    const double bound = latency["gain_total_ms"].get<double>() + 10;  // + the control thread's wake and a period
    std::printf("MIDI CC to main_out_L: median %.1f ms, worst %.1f ms (status: %.0f ms by its parts, %s)\n", r["median_ms"].get<double>(),
                r["worst_ms"].get<double>(), latency["gain_total_ms"].get<double>(), latency.dump().c_str());
    EXPECT_LT(r["median_ms"].get<double>(), bound) << out << "\nthe parts: " << latency.dump();
    // The ring holds the look-ahead less at most a block and a period: nothing is heard sooner.
    const double soonest = 100.0 - latency["block_ms"].get<double>() - 2 * 256 * 1000.0 / 48000;
    EXPECT_GT(r["best_ms"].get<double>(), soonest) << out;
    EXPECT_EQ(d.stream_status()["underruns"].get<uint64_t>(), 0u) << d.proc->log();
}
