// MIDI control with a real peer: a second JACK client of the test's sends Control Changes,
// Program Changes and notes over a real dummy jackd into wavecast:control_midi_in; the daemon's
// status shows each change promptly, learn binds the next knob, the bindings are saved, a bad
// mapping stops the start, and a flood leaves the audio alone.
#include <gtest/gtest.h>
#include <jack/jack.h>
#include <jack/midiport.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;

namespace {

// A JACK client with one MIDI output, "midi-sender:out": what send() queues goes out in the next
// period, at most 64 messages a period (a JACK MIDI buffer holds a few hundred bytes' worth).
class MidiSender {
public:
    explicit MidiSender(const JackServer& jack) {
        jack_status_t st{};
        client_ =
            jack_client_open("midi-sender", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, jack.name().c_str());
        if (!client_) throw std::runtime_error("cannot open the test's MIDI sender");
        port_ = jack_port_register(client_, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
        jack_set_process_callback(client_, &MidiSender::process, this);
        jack_activate(client_);
    }
    ~MidiSender() {
        jack_deactivate(client_);
        jack_client_close(client_);
    }
    void send(std::vector<uint8_t> message) {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(message));
    }
    bool idle() {
        std::lock_guard lock(mu_);
        return queue_.empty();
    }

private:
    static int process(jack_nframes_t n, void* arg) {
        auto* self = static_cast<MidiSender*>(arg);
        void* buf = jack_port_get_buffer(self->port_, n);
        jack_midi_clear_buffer(buf);
        std::unique_lock lock(self->mu_, std::try_to_lock);  // the test's own client: it may skip a period
        if (!lock) return 0;
        size_t sent = 0;
        for (; sent < self->queue_.size() && sent < 64; ++sent)
            if (jack_midi_event_write(buf, 0, self->queue_[sent].data(), self->queue_[sent].size()) != 0) break;
        self->queue_.erase(self->queue_.begin(), self->queue_.begin() + static_cast<long>(sent));
        return 0;
    }
    jack_client_t* client_ = nullptr;
    jack_port_t* port_ = nullptr;
    std::mutex mu_;
    std::vector<std::vector<uint8_t>> queue_;
};

// A daemon whose stream maps MIDI with `map` (a path), and a sender connected to its input.
struct Rig {
    explicit Rig(const std::string& map)
        : jack(dir.path.string()),
          daemon(dir.path.string(), jack, {.jack_name = "wavecast-midi", .sections = "midi_map = \"" + map + "\"\n"}) {}
    bool start() {
        if (!daemon.wait_ready(30)) return false;
        sender = std::make_unique<MidiSender>(jack);
        return jack_connect_ports(jack.name(), "midi-sender:out", daemon.jack_name + ":control_midi_in");
    }
    json params() const { return daemon.stream_status()["params"]; }
    json midi() const { return (*daemon.call({{"cmd", "status"}}))["midi"]; }

    TempDir dir;
    JackServer jack;
    Daemon daemon;
    std::unique_ptr<MidiSender> sender;
};

const std::string kGeneric = std::string(WAVECAST_SOURCE_DIR) + "/config/mappings/generic-8knob.toml";

}  // namespace

TEST(MidiControl, KnobsProgramChangesAndKeysSteerTheStream) {
    Rig rig(kGeneric);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    // Knob 1 (CC 70) to the top: temperature 1.5. Timed from the send to the status that shows it.
    const auto sent = std::chrono::steady_clock::now();
    rig.sender->send({0xB0, 70, 127});
    ASSERT_TRUE(eventually([&] { return rig.params()["temperature"].get<double>() == 1.5; }, 2)) << rig.params().dump();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
    // Within a JACK period (21 ms here) of reaching the port, plus this test's 20 ms polling.
    std::printf("CC 70 = 127 seen in status after %.1f ms\n", ms);
    EXPECT_LT(ms, 250);
    // Knob 3 (CC 72, exp) at the bottom: 60 bpm; knob 6 (CC 75) at 70 of 127: key round(-1 + 12 * 70 / 127) = 6.
    rig.sender->send({0xB0, 72, 0});
    rig.sender->send({0xB3, 75, 70});  // any channel
    EXPECT_TRUE(eventually([&] { return rig.params()["tempo"].get<double>() == 60 && rig.params()["key"].get<double>() == 6; }, 2))
        << rig.params().dump();
    // A note in C3..B3 sets the key: G (55) -> 7. A note outside the range does nothing.
    rig.sender->send({0x90, 55, 100});
    EXPECT_TRUE(eventually([&] { return rig.params()["key"].get<double>() == 7; }, 2)) << rig.params().dump();
    rig.sender->send({0x90, 72, 100});
    // Program 3 is house: the style changes at the next bar.
    rig.sender->send({0xC0, 3});
    EXPECT_TRUE(eventually([&] { return rig.daemon.stream_status()["style"] == "house"; }, 10)) << rig.daemon.stream_status().dump();
    EXPECT_EQ(rig.params()["key"].get<double>(), 7);
    const json midi = rig.midi();
    EXPECT_EQ(midi["received"].get<int>(), 6) << midi.dump();
    EXPECT_EQ(midi["applied"].get<int>(), 5) << midi.dump();
    EXPECT_EQ(midi["refused"].get<int>(), 0) << midi.dump();
    EXPECT_EQ(rig.daemon.stream_status()["underruns"].get<int>(), 0);
    // The client lists the bindings as a table, a line each, as status is printed.
    const auto [rc, out] = run_client(rig.dir.path.string(), {"--endpoint", rig.daemon.control, "mappings"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("CC 70  ch any -> temperature"), std::string::npos) << out;
    EXPECT_NE(out.find("program 3"), std::string::npos) << out;
    EXPECT_EQ(out.find("{"), std::string::npos) << "no JSON unless --json: " << out;
}

TEST(MidiControl, LearnBindsTheNextKnobAndTheBindingsAreSaved) {
    TempDir files;
    const std::string map = files.file("stage.toml");
    const std::string original = "# my controller\n[[cc]]\ncc = 1\nparam = \"intensity\"\n";
    std::ofstream(map) << original;
    Rig rig(map);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    auto call = [&](const json& req) { return *rig.daemon.call(req); };

    json r = call({{"cmd", "learn"}, {"param", "gain_db"}, {"min", -20}, {"max", 0}});
    ASSERT_TRUE(r["ok"]) << r.dump();
    EXPECT_EQ(rig.midi()["learning"]["param"], "gain_db");
    // A note is not a knob: learn waits on.
    rig.sender->send({0x90, 60, 100});
    ASSERT_TRUE(eventually([&] { return rig.midi()["received"].get<int>() == 1; }, 2));
    EXPECT_EQ(rig.midi()["learning"]["param"], "gain_db");
    // Knob CC 77 on channel 3, moved to the top: bound, and its value taken at once.
    rig.sender->send({0xB2, 77, 127});
    ASSERT_TRUE(eventually([&] { return rig.params()["gain_db"].get<double>() == 0 && rig.midi()["learning"].is_null(); }, 2))
        << rig.params().dump() << rig.midi().dump();
    rig.sender->send({0xB2, 77, 0});
    EXPECT_TRUE(eventually([&] { return rig.params()["gain_db"].get<double>() == -20; }, 2)) << rig.params().dump();
    // On another channel the knob is not bound.
    rig.sender->send({0xB0, 77, 127});
    ASSERT_TRUE(eventually([&] { return rig.midi()["received"].get<int>() == 4; }, 2));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(rig.params()["gain_db"].get<double>(), -20);

    // A cancelled learn binds nothing.
    ASSERT_TRUE(call({{"cmd", "learn"}, {"param", "tempo"}})["ok"]);
    r = call({{"cmd", "learn"}, {"cancel", true}});
    EXPECT_TRUE(r["ok"] && r["cancelled"] == true) << r.dump();
    rig.sender->send({0xB0, 5, 127});
    ASSERT_TRUE(eventually([&] { return rig.midi()["received"].get<int>() == 5; }, 2));

    r = call({{"cmd", "mappings"}});
    ASSERT_TRUE(r["ok"]) << r.dump();
    EXPECT_EQ(r["file"], map);
    ASSERT_EQ(r["cc"].size(), 2u) << r.dump();
    EXPECT_EQ(r["cc"][1], json({{"channel", 3}, {"cc", 77}, {"param", "gain_db"}, {"min", -20.0}, {"max", 0.0}, {"curve", "linear"}}));

    // Saved: the file now holds both bindings (a daemon started on it plays them), the old one
    // is kept beside it.
    r = call({{"cmd", "mappings"}, {"save", true}});
    ASSERT_TRUE(r["ok"]) << r.dump();
    std::stringstream saved, kept;
    saved << std::ifstream(map).rdbuf();
    kept << std::ifstream(map + ".bak").rdbuf();
    EXPECT_EQ(kept.str(), original);
    EXPECT_NE(saved.str().find("cc = 77"), std::string::npos) << saved.str();
    EXPECT_NE(saved.str().find("channel = 3"), std::string::npos) << saved.str();
    TempDir dir2;
    Daemon again(dir2.path.string(), rig.jack, {.jack_name = "wavecast-midi-2", .sections = "midi_map = \"" + map + "\"\n"});
    ASSERT_TRUE(again.wait_ready(30)) << again.proc->log();
    EXPECT_EQ((*again.call({{"cmd", "mappings"}}))["cc"], call({{"cmd", "mappings"}})["cc"]);
    EXPECT_EQ(rig.daemon.stream_status()["underruns"].get<int>(), 0);
}

TEST(MidiControl, RequestsItCannotServeAreRefusedAndChangeNothing) {
    Rig rig(kGeneric);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    const json before = rig.params();
    for (const json& bad : {json{{"cmd", "learn"}, {"param", "loudness"}}, json{{"cmd", "learn"}, {"param", "tempo"}, {"max", 999}},
                            json{{"cmd", "learn"}, {"param", "tempo"}, {"stream", "nope"}}, json{{"cmd", "mappings"}, {"save", "yes"}}}) {
        const json r = *rig.daemon.call(bad);
        EXPECT_FALSE(r["ok"]) << bad.dump() << " -> " << r.dump();
    }
    EXPECT_TRUE(rig.midi()["learning"].is_null());
    EXPECT_EQ(rig.params(), before);
}

TEST(MidiControl, AFloodOfKnobsLeavesTheAudioAlone) {
    Rig rig(kGeneric);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    // 5,000 Control Changes over about 1.7 s (64 a period), sweeping knobs 1, 2 and 5.
    for (int i = 0; i < 5000; ++i)
        rig.sender->send({0xB0, static_cast<uint8_t>(i % 3 == 2 ? 74 : 70 + i % 3), static_cast<uint8_t>(i % 128)});
    ASSERT_TRUE(eventually([&] { return rig.sender->idle(); }, 20));
    ASSERT_TRUE(eventually([&] { return rig.midi()["received"].get<int>() == 5000; }, 5)) << rig.midi().dump();
    const json midi = rig.midi();
    EXPECT_EQ(midi["applied"].get<int>() + midi["dropped"].get<int>(), 5000) << midi.dump();
    EXPECT_EQ(midi["refused"].get<int>(), 0);
    EXPECT_TRUE((*rig.daemon.call({{"cmd", "ping"}}))["ok"]);
    EXPECT_EQ(rig.daemon.stream_status()["underruns"].get<int>(), 0);
}

TEST(MidiControl, ABadMappingStopsTheStartNamingTheFile) {
    TempDir files;
    const std::string map = files.file("bad.toml");
    std::ofstream(map) << "[[program]]\nprogram = 2\nstyle = \"polka\"\n";
    Rig rig(map);
    const auto status = rig.daemon.proc->wait(30);
    ASSERT_TRUE(status.has_value()) << "the daemon started on a mapping naming an unknown style";
    EXPECT_NE(*status, 0);
    const std::string log = rig.daemon.proc->log();
    EXPECT_NE(log.find(map + ": [[program]] 2 names unknown style 'polka'"), std::string::npos) << log;

    std::ofstream(map, std::ios::trunc) << "[[cc]]\ncc = 7\nparam = \"volume\"\n";
    TempDir dir2;
    Daemon again(dir2.path.string(), rig.jack, {.jack_name = "wavecast-midi-2", .sections = "midi_map = \"" + map + "\"\n"});
    ASSERT_TRUE(again.proc->wait(30).has_value());
    EXPECT_NE(again.proc->log().find(map + ":3: no live parameter is named 'volume'"), std::string::npos) << again.proc->log();
}

// Cue notes (the shipped mapping: C4 a fill, D4 the next section) and the same over ZeroMQ: the
// section moves on at the next bar line, not at the end of the section.
TEST(MidiControl, CueNotesMoveTheFormOn) {
    Rig rig(kGeneric);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    auto section = [&] { return rig.daemon.stream_status()["section"].get<std::string>(); };
    ASSERT_TRUE(eventually([&] { return section() == "intro"; }, 5)) << rig.daemon.stream_status().dump();  // techno: intro for 8 bars
    rig.sender->send({0x90, 60, 100});                                                                      // a fill: the form stays
    rig.sender->send({0x90, 62, 100});  // the next section: a bar (1.9 s at 128 bpm) and the look-ahead at most
    EXPECT_TRUE(eventually([&] { return section() == "build"; }, 4)) << rig.daemon.stream_status().dump();
    const json cue = *rig.daemon.call({{"cmd", "cue"}, {"what", "next_section"}});
    ASSERT_TRUE(cue["ok"]) << cue.dump();
    EXPECT_TRUE(eventually([&] { return section() == "drop"; }, 4)) << rig.daemon.stream_status().dump();
    const json bad = *rig.daemon.call({{"cmd", "cue"}, {"what", "drop"}});
    EXPECT_EQ(bad["error"]["code"], "out_of_range") << bad.dump();
    const json midi = rig.midi();
    EXPECT_EQ(midi["applied"].get<int>(), 2) << midi.dump();
    EXPECT_EQ(midi["refused"].get<int>(), 0) << midi.dump();
    EXPECT_EQ(rig.daemon.stream_status()["underruns"].get<int>(), 0);
}

// SIGHUP reads the mapping files again: an unchanged file keeps what was learned since, a changed
// one takes over, and a broken one is refused with the rest of the reload.
TEST(MidiControl, SighupReadsAChangedMappingAgain) {
    TempDir files;
    const std::string map = files.file("stage.toml");
    std::ofstream(map) << "[[cc]]\ncc = 1\nparam = \"intensity\"\n";
    Rig rig(map);
    ASSERT_TRUE(rig.start()) << rig.daemon.proc->log();
    auto call = [&](const json& req) { return *rig.daemon.call(req); };
    auto ccs = [&] { return call({{"cmd", "mappings"}})["cc"]; };
    auto reloads = [&] {
        const std::string log = rig.daemon.proc->log();
        size_t n = 0;
        for (size_t at = 0; (at = log.find("SIGHUP: reloaded", at)) != std::string::npos; ++at) ++n;
        return n;
    };

    ASSERT_TRUE(call({{"cmd", "learn"}, {"param", "gain_db"}, {"min", -20}, {"max", 0}})["ok"]);
    rig.sender->send({0xB0, 77, 127});
    ASSERT_TRUE(eventually([&] { return ccs().size() == 2; }, 2)) << rig.midi().dump();

    rig.daemon.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return reloads() == 1; }, 5)) << rig.daemon.proc->log();
    std::this_thread::sleep_for(200ms);  // the control thread takes the maps on its next turn (50 ms at most)
    EXPECT_EQ(ccs().size(), 2u) << "the learned binding is kept while the file is unchanged";

    std::ofstream(map, std::ios::trunc) << "[[cc]]\ncc = 2\nparam = \"temperature\"\nmin = 0.5\nmax = 1.0\n";
    rig.daemon.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return ccs().size() == 1 && ccs()[0]["cc"] == 2; }, 5)) << ccs().dump() << rig.daemon.proc->log();
    rig.sender->send({0xB0, 2, 127});
    EXPECT_TRUE(eventually([&] { return rig.params()["temperature"].get<double>() == 1.0; }, 2)) << rig.params().dump();
    const double gain = rig.params()["gain_db"];
    rig.sender->send({0xB0, 77, 0});  // no longer bound
    ASSERT_TRUE(eventually([&] { return rig.midi()["received"].get<int>() == 3; }, 2)) << rig.midi().dump();
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(rig.params()["gain_db"].get<double>(), gain);

    std::ofstream(map, std::ios::trunc) << "[[cc]]\ncc = 3\nparam = \"volume\"\n";
    rig.daemon.proc->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return rig.daemon.proc->log().find("reload refused") != std::string::npos; }, 5))
        << rig.daemon.proc->log();
    EXPECT_NE(rig.daemon.proc->log().find(map + ":3: no live parameter is named 'volume'"), std::string::npos);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(ccs()[0]["cc"], 2);
    EXPECT_EQ(rig.daemon.stream_status()["underruns"].get<int>(), 0);
}
