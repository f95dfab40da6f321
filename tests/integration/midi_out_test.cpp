// MIDI out against the composer and against the audio, and JACK transport's tempo followed.
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