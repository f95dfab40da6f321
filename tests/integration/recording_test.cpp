// Recording through the control plane, against the shared daemon: a timed take, the MIDI it
// played beside the audio, stop-record at the reported length.
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
