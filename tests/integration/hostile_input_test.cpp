// What a hostile or careless client, file or file system can do to a running daemon: bytes that
// are not UTF-8 on their way into JSON, a FIFO or a device where a file should be, paths that
// lead out of the recordings folder, a full disk, a JACK server back at another rate. Each must
// get a clear error or a clean continuation, never an abort, a hang or a silently short file.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "score/midi_file.h"
#include "score/style.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// A score whose one track is named in Latin-1 (0xFF 0xFE), as many older MIDI files are.
void write_latin1_score(const std::string& path) {
    wavecast::Style style;
    style.name = "latin1";
    wavecast::TrackStyle track;
    track.name = "\xFF\xFE";
    track.role = "lead";
    track.program = 0;
    style.tracks.push_back(track);
    std::vector<wavecast::MidiEvent> events;
    for (int i = 0; i < 16; ++i) {
        events.push_back({0, i * 0.5, 0, true, 60 + i % 12, 100});
        events.push_back({0, i * 0.5 + 0.4, 0, false, 60 + i % 12, 0});
    }
    wavecast::write_midi_file(path, style, 1, 120, events, 8.0);
}

// The code of an error reply, or "ok", or "no reply".
std::string outcome(const std::optional<json>& r) {
    if (!r) return "no reply";
    if ((*r)["ok"].get<bool>()) return "ok";
    return (*r)["error"]["code"].get<std::string>();
}

class HostileInput : public ::testing::Test {
protected:
    void SetUp() override { jack_ = std::make_unique<JackServer>(dir_.path.string()); }
    std::unique_ptr<Daemon> start(const std::string& dir, DaemonOptions o = {}) {
        auto d = std::make_unique<Daemon>(dir, *jack_, o);
        if (!d->wait_ready(30)) ADD_FAILURE() << "wavecastd did not come up:\n" << d->proc->log();
        return d;
    }
    TempDir dir_;
    std::unique_ptr<JackServer> jack_;
};

}  // namespace

TEST_F(HostileInput, ALatin1TrackNameReachesTheNotesTopicAsValidUtf8) {
    auto d = start(dir_.path.string());
    const std::string mid = dir_.file("latin1.mid");
    write_latin1_score(mid);
    zmq::context_t ctx(1);
    auto sub = subscribe(ctx, d->telemetry, "notes", 10000);
    std::this_thread::sleep_for(200ms);  // the subscription reaches the publisher
    EXPECT_EQ(outcome(d->call({{"cmd", "score"}, {"path", mid}})), "ok");
    bool seen = false;
    for (int i = 0; i < 100 && !seen; ++i) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(sub, std::back_inserter(parts))) break;
        const json body = json::parse(parts.at(1).to_string_view());  // throws on invalid UTF-8
        for (const auto& e : body["events"]) seen |= e["track"].get<std::string>() == kReplacement + kReplacement;
    }
    EXPECT_TRUE(seen) << "the score's notes, with the track named U+FFFD U+FFFD, never came";
    EXPECT_EQ(outcome(d->call({{"cmd", "status"}})), "ok");
    EXPECT_TRUE(d->proc->running()) << d->proc->log();
}

TEST_F(HostileInput, AStyleFileNamedInLatin1IsListedAndItsErrorsLoggedAfterReload) {
    const std::string styles = dir_.file("styles");
    fs::copy(std::string(WAVECAST_SOURCE_DIR) + "/config/styles", styles);
    DaemonOptions o;
    o.styles_dir = styles;
    auto d = start(dir_.path.string(), o);
    zmq::context_t ctx(1);
    auto logs = subscribe(ctx, d->telemetry, "log", 5000);
    std::this_thread::sleep_for(200ms);

    // A valid style whose name comes from a file name that is not UTF-8.
    std::string techno = slurp(styles + "/techno.toml");
    const auto at = techno.find("name = \"techno\"");
    ASSERT_NE(at, std::string::npos);
    techno.erase(at, std::string("name = \"techno\"").size());
    std::ofstream(styles + "/caf\xE9.toml") << techno;
    d->proc->signal(SIGHUP);
    bool listed = false;
    for (int i = 0; i < 50 && !listed; ++i) {
        std::this_thread::sleep_for(100ms);
        const auto r = d->call({{"cmd", "styles"}});
        ASSERT_EQ(outcome(r), "ok");
        for (const auto& s : (*r)["styles"]) listed |= s["name"].get<std::string>() == "caf" + kReplacement;
    }
    EXPECT_TRUE(listed) << "the reloaded style was not listed";

    // The same kind of name on a broken file: the refusal names the file on the log topic.
    std::ofstream(styles + "/\xFF.toml") << "tempo = [not toml\n";
    d->proc->signal(SIGHUP);
    bool logged = false;
    for (int i = 0; i < 20 && !logged; ++i) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(logs, std::back_inserter(parts))) break;
        const json body = json::parse(parts.at(1).to_string_view());
        logged |= body["message"].get<std::string>().find(kReplacement + ".toml") != std::string::npos;
    }
    EXPECT_TRUE(logged) << "the refused reload was not published on the log topic";
    EXPECT_EQ(outcome(d->call({{"cmd", "styles"}})), "ok");
    EXPECT_TRUE(d->proc->running()) << d->proc->log();
}

TEST_F(HostileInput, AConfigFolderNamedInLatin1StreamsAndReportsItsPaths) {
    const std::string folder = dir_.file("\xFF\xFE");
    fs::create_directories(folder);
    // TOML holds only UTF-8: the folder's name reaches the daemon through paths relative to it.
    DaemonOptions o;
    o.relative_paths = true;
    o.control = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    o.telemetry = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    auto d = start(folder, o);
    std::this_thread::sleep_for(2500ms);  // several telemetry status messages
    const auto r = d->call({{"cmd", "status"}});
    ASSERT_EQ(outcome(r), "ok");
    EXPECT_NE((*r)["model"]["path"].get<std::string>().find(kReplacement + kReplacement), std::string::npos) << r->dump();
    EXPECT_TRUE(d->proc->running()) << d->proc->log();
}

TEST_F(HostileInput, AFifoIsRefusedAtOnceAndShutdownStaysBounded) {
    auto d = start(dir_.path.string());
    const std::string fifo_mid = dir_.file("x.mid"), fifo_wav = dir_.file("x.wav");
    ASSERT_EQ(mkfifo(fifo_mid.c_str(), 0644), 0);
    ASSERT_EQ(mkfifo(fifo_wav.c_str(), 0644), 0);
    const auto t0 = std::chrono::steady_clock::now();
    const auto score = d->call({{"cmd", "score"}, {"path", fifo_mid}});
    EXPECT_EQ(outcome(score), "io_error");
    if (score && score->contains("error")) {
        EXPECT_NE((*score)["error"]["message"].get<std::string>().find("FIFO"), std::string::npos);
    }
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "x.wav"}, {"overwrite", true}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "x.wav"}})), "io_error");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(outcome(d->call({{"cmd", "status"}})), "ok");
    d->proc->signal(SIGTERM);
    EXPECT_EQ(d->proc->wait(5).value_or(-1), 0) << "SIGTERM did not end the daemon in 5 s";
}

TEST_F(HostileInput, DevZeroAndHugeFilesAreRefusedWithoutDisturbingTheAudio) {
    DaemonOptions o;
    auto d = start(dir_.path.string(), o);
    const uint64_t underruns = d->stream_status()["underruns"];
    const auto zero = d->call({{"cmd", "score"}, {"path", "/dev/zero"}});
    EXPECT_EQ(outcome(zero), "io_error");
    if (zero && zero->contains("error")) {
        EXPECT_NE((*zero)["error"]["message"].get<std::string>().find("device"), std::string::npos);
    }
    const std::string huge = dir_.file("huge.mid");
    { std::ofstream(huge) << "MThd"; }
    fs::resize_file(huge, wavecast::kMaxMidiFileBytes + 1);  // sparse: costs no disk
    const auto big = d->call({{"cmd", "score"}, {"path", huge}});
    EXPECT_EQ(outcome(big), "io_error");
    if (big && big->contains("error")) {
        EXPECT_NE((*big)["error"]["message"].get<std::string>().find("too large"), std::string::npos);
    }
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(d->stream_status()["underruns"].get<uint64_t>(), underruns);
    EXPECT_LT(rss_kib(d->proc->pid()), 400 * 1024);
}

TEST_F(HostileInput, RecordingsStayInTheirFolderAndRefusalsTouchNothing) {
    const std::string rec = dir_.file("recordings"), outside = dir_.file("outside");
    fs::create_directories(rec);
    fs::create_directories(outside);
    DaemonOptions o;
    o.recordings = rec;
    auto d = start(dir_.path.string(), o);
    const std::string victim = outside + "/victim.conf";
    std::ofstream(victim) << "precious";
    fs::create_symlink(victim, rec + "/link.wav");
    fs::create_directory_symlink(outside, rec + "/out");
    std::ofstream(rec + "/important.mid") << "keep me";
    std::ofstream(rec + "/taken.wav") << "an earlier take";

    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "../x.wav"}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", outside + "/x.wav"}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "out/x.wav"}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "link.wav"}, {"overwrite", true}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "taken.wav"}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "nodir/a.wav"}, {"midi", "important.mid"}, {"overwrite", true}})), "io_error");
    EXPECT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "new.wav"}, {"midi", "important.mid"}})), "io_error");
    EXPECT_EQ(slurp(victim), "precious");
    EXPECT_EQ(slurp(rec + "/important.mid"), "keep me");
    EXPECT_EQ(slurp(rec + "/taken.wav"), "an earlier take");
    EXPECT_FALSE(fs::exists(outside + "/x.wav"));
    EXPECT_FALSE(fs::exists(rec + "/new.wav")) << "a refused recording left its audio file behind";

    // Relative paths land in the folder; the reply gives where; overwrite is honoured when asked.
    const auto ok = d->call({{"cmd", "record"}, {"path", "taken.wav"}, {"seconds", 0.5}, {"overwrite", true}});
    ASSERT_EQ(outcome(ok), "ok") << ok->dump();
    EXPECT_EQ((*ok)["path"], (fs::canonical(rec) / "taken.wav").string());
    ASSERT_TRUE(eventually([&] { return !d->stream_status()["recording"]["active"].get<bool>(); }, 10));
    EXPECT_EQ(audio_frames(rec + "/taken.wav"), 24000);
}

TEST_F(HostileInput, AFullDiskEndsTheRecordingWithAValidFileAndSaysWhy) {
    const std::string full = dir_.file("full");
    fs::create_directories(full);
    if (mount("tmpfs", full.c_str(), "tmpfs", 0, "size=2m") != 0)
        GTEST_SKIP() << "cannot mount a 2 MB tmpfs here (" << std::strerror(errno) << "): needs root and CAP_SYS_ADMIN";
    struct Unmount {
        std::string at;
        ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
    } unmount{full};
    auto d = start(dir_.path.string());
    const auto r = d->call({{"cmd", "record"}, {"path", "full/take.wav"}, {"midi", "full/take.mid"}});
    ASSERT_EQ(outcome(r), "ok") << r->dump();
    // 2 MB hold about 7 s of 24-bit stereo at 48 kHz.
    ASSERT_TRUE(eventually([&] { return !d->stream_status()["recording"]["active"].get<bool>(); }, 20))
        << "the recording went on past a full disk";
    const json rec = d->stream_status()["recording"];
    const std::string error = rec["error"];
    EXPECT_NE(error.find("No space left"), std::string::npos) << rec.dump();
    const long long frames = audio_frames(full + "/take.wav");
    EXPECT_GT(frames, 48000) << "the file is not readable, or holds under a second";
    EXPECT_EQ(rec["frames"].get<long long>(), frames) << "status and the file disagree on what was written";
    EXPECT_NE(rec["last"].get<std::string>().find(std::to_string(frames) + " frames"), std::string::npos) << rec.dump();
    const auto stop = d->call({{"cmd", "stop-record"}});
    EXPECT_EQ(outcome(stop), "conflict");
    EXPECT_NE(stop->dump().find("No space left"), std::string::npos) << stop->dump();
    EXPECT_TRUE(d->proc->running());
}

TEST_F(HostileInput, ARecordingGoesOnInANewFileWhenJackComesBackAtAnotherRate) {
    auto d = start(dir_.path.string());
    ASSERT_EQ(outcome(d->call({{"cmd", "record"}, {"path", "set.wav"}})), "ok");
    std::this_thread::sleep_for(1500ms);
    jack_->restart_at(44100);
    ASSERT_TRUE(eventually(
        [&] {
            return d->call({{"cmd", "status"}}).value_or(json{})["jack"]["connected"] == true;
        },
        20))
        << d->proc->log();
    std::this_thread::sleep_for(1500ms);
    const json rec = d->stream_status()["recording"];
    EXPECT_EQ(rec["path"], (fs::canonical(dir_.path) / "set-44100Hz.wav").string()) << rec.dump();
    EXPECT_NE(rec["error"].get<std::string>().find("44100"), std::string::npos) << rec.dump();
    const auto stop = d->call({{"cmd", "stop-record"}});
    ASSERT_EQ(outcome(stop), "ok");
    int first_rate = 0, second_rate = 0;
    const long long first = audio_frames(dir_.file("set.wav"), &first_rate),
                    second = audio_frames(dir_.file("set-44100Hz.wav"), &second_rate);
    EXPECT_EQ(first_rate, 48000);
    EXPECT_EQ(second_rate, 44100);
    EXPECT_GT(first, 48000);
    EXPECT_GT(second, 44100);
    EXPECT_EQ((*stop)["frames"].get<long long>(), second);
}

// 1,100 idle TCP connections left every request unanswered and nothing logged, with the daemon's
// descriptors (systemd's default soft limit, 1024) used up. Now a connection that does not speak
// ZeroMQ within 5 s is closed, running out of descriptors is logged, and a real client gets its
// answer through the flood. The daemon here runs under a hard limit of 256 it cannot raise.
TEST_F(HostileInput, IdleConnectionsCannotExhaustTheControlPlane) {
    const int port = free_tcp_port();
    DaemonOptions o;
    o.control = "tcp://127.0.0.1:" + std::to_string(port);
    o.telemetry = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    o.wrapper = {"prlimit", "--nofile=256:256"};
    auto d = start(dir_.path.string(), o);
    std::vector<int> fds;
    for (int i = 0; i < 600; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            if (fd >= 0) close(fd);
            break;  // the backlog is full: enough
        }
        fds.push_back(fd);
    }
    ASSERT_GT(fds.size(), 300u) << "the flood did not get going";
    const auto t0 = std::chrono::steady_clock::now();
    const bool answered = eventually([&] { return request(d->control, R"({"cmd":"ping"})", 1000).has_value(); }, 40);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (int fd : fds) close(fd);
    EXPECT_TRUE(answered) << "no answer through " << fds.size() << " idle connections";
    std::cout << "answered after " << waited << " s through " << fds.size() << " idle connections\n";
    EXPECT_NE(d->proc->log().find("cannot accept a connection"), std::string::npos) << "running out of descriptors went unlogged";
    EXPECT_TRUE(d->proc->running());
}

// A score at 1 microsecond a beat: status and the reply say what plays (the composer's range),
// not 60,000,000 bpm.
TEST_F(HostileInput, AScoreOfAbsurdTempoReportsTheTempoThatPlays) {
    auto d = start(dir_.path.string());
    const std::string mid = dir_.file("fast.mid");
    wavecast::Style style;
    style.name = "fast";
    wavecast::TrackStyle track;
    track.name = "lead", track.role = "lead";
    style.tracks.push_back(track);
    wavecast::write_midi_file(mid, style, 1, 60e6, {{0, 0.0, 0, true, 60, 100}, {0, 100.0, 0, false, 60, 0}}, 200.0);
    const auto r = d->call({{"cmd", "score"}, {"path", mid}});
    ASSERT_EQ(outcome(r), "ok") << r->dump();
    EXPECT_EQ((*r)["tempo"].get<double>(), 300.0);
    EXPECT_EQ(d->stream_status()["params"]["tempo"].get<double>(), 300.0);
}

// A second daemon asking for a JACK name in use is told so, with JACK's status decoded.
TEST_F(HostileInput, ATakenJackNameIsNamedAsTheReason) {
    auto first = start(dir_.path.string(), {.jack_name = "wavecast-twin"});
    Daemon second(dir_.path.string(), *jack_, {.jack_name = "wavecast-twin"});
    ASSERT_EQ(second.proc->wait(30).value_or(-1), 1) << second.proc->log();
    EXPECT_NE(second.proc->log().find("already on the server"), std::string::npos) << second.proc->log();
    EXPECT_EQ(second.proc->log().find("status 0x33"), std::string::npos) << second.proc->log();
}
