#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/config.h"
#include "score/style.h"
#include "tests/unit/temp_dir.h"
#include "util/toml_util.h"

using namespace wavecast;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    std::ofstream(path) << text;
    return path;
}

// Expects `fn` to throw ConfigError whose message starts with "FILE:LINE:" and contains `reason`.
template <typename Fn>
void expect_refused(Fn fn, const std::string& file, int line, const std::string& reason) {
    try {
        fn();
        FAIL() << "accepted; expected " << reason;
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(file + ":" + std::to_string(line) + ":", 0), 0u) << msg;
        EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    }
}

const char* kMinimal = "[daemon]\nmodel = \"m.safetensors\"\n[[stream]]\nname = \"main\"\n";

}  // namespace

TEST(Config, ShippedLiveProfileParsesWithItsShortPath) {
    const DaemonConfig c = load_config(std::string(WAVECAST_SOURCE_DIR) + "/config/live.toml");
    EXPECT_EQ(c.masking_backend, "off");
    EXPECT_EQ(c.block_frames, 1);
    EXPECT_EQ(c.resampler, "fast");
    EXPECT_TRUE(c.realtime);
    ASSERT_EQ(c.streams.size(), 1u);
    EXPECT_LE(c.streams[0].lookahead_ms, 50);
    EXPECT_EQ(c.streams[0].midi_map, std::string(WAVECAST_SOURCE_DIR) + "/config/mappings/generic-8knob.toml");
    const DaemonConfig radio = load_config(std::string(WAVECAST_SOURCE_DIR) + "/config/wavecastd.toml");
    EXPECT_EQ(radio.streams[0].lookahead_ms, 400) << "the default profile keeps its look-ahead for radio";
    EXPECT_EQ(radio.block_frames, 2);
    EXPECT_FALSE(radio.realtime) << "a radio feed's producers leave the cores to the rest of the machine";
}

TEST(Config, ShippedDefaultConfigParses) {
    const DaemonConfig c = load_config(std::string(WAVECAST_SOURCE_DIR) + "/config/wavecastd.toml");
    EXPECT_EQ(c.backend, "auto");
    EXPECT_EQ(c.control, "tcp://127.0.0.1:5557");
    EXPECT_EQ(c.telemetry, "tcp://127.0.0.1:5558");
    ASSERT_EQ(c.streams.size(), 1u);
    EXPECT_EQ(c.streams[0].name, "main");
    EXPECT_EQ(c.jack_name, "wavecast");
    EXPECT_FALSE(c.autoconnect);
    // No model named: the backend picks the shipped one, and the CPU fallback is the small one.
    EXPECT_TRUE(c.model.empty());
    EXPECT_EQ(c.model_for("cpu"), std::string(WAVECAST_SOURCE_DIR) + "/models/small.safetensors");
    const bool medium = std::filesystem::exists(std::string(WAVECAST_SOURCE_DIR) + "/models/medium.safetensors");
    EXPECT_EQ(c.model_for("cuda"),
              std::string(WAVECAST_SOURCE_DIR) + (medium ? "/models/medium.safetensors" : "/models/small.safetensors"));
    EXPECT_EQ(c.fallback(), c.model_for("cpu"));
}

TEST(Config, NamedModelIsPlayedOnEveryBackendAndIsItsOwnFallback) {
    TempDir dir;
    const auto c = load_config(write(dir, "c.toml", kMinimal));
    EXPECT_EQ(c.model_for("cuda"), dir.file("m.safetensors"));
    EXPECT_EQ(c.fallback(), dir.file("m.safetensors"));
    const auto d = load_config(write(dir, "d.toml", "[daemon]\nmodels = \"shipped\"\nfallback_model = \"f.safetensors\"\n[[stream]]\n"));
    EXPECT_EQ(d.model_for("cpu"), dir.file("shipped/small.safetensors"));
    EXPECT_EQ(d.fallback(), dir.file("f.safetensors"));
}

// One generator for all streams where a GPU runs it and there are several; on the CPU each
// stream's own threads serve it better. `on` and `off` say so whatever the backend.
TEST(Config, StreamsShareAGeneratorOnCudaWithTwoOrMore) {
    TempDir dir;
    const auto one = load_config(write(dir, "one.toml", kMinimal));
    EXPECT_FALSE(one.batched("cuda"));
    const std::string two = std::string(kMinimal) + "[[stream]]\nname = \"b\"\n";
    const auto c = load_config(write(dir, "two.toml", two));
    EXPECT_TRUE(c.batched("cuda"));
    EXPECT_FALSE(c.batched("cpu"));
    const auto on = load_config(write(dir, "on.toml", "[daemon]\nmodel = \"x\"\nbatch_streams = \"on\"\n[[stream]]\n"));
    EXPECT_TRUE(on.batched("cpu"));
    const auto off =
        load_config(write(dir, "off.toml", "[daemon]\nmodel = \"x\"\nbatch_streams = \"off\"\n[[stream]]\n[[stream]]\nname = \"b\"\n"));
    EXPECT_FALSE(off.batched("cuda"));
}

TEST(Config, ResolvesRelativePathsAgainstTheFile) {
    TempDir dir;
    const auto c = load_config(write(dir, "c.toml", kMinimal));
    EXPECT_EQ(c.model, dir.file("m.safetensors"));
    EXPECT_EQ(c.styles_dir, dir.file("styles"));
}

TEST(Config, RefusesBadConfigWithFileLineAndReason) {
    TempDir dir;
    std::string p = write(dir, "syntax.toml", "[daemon]\nmodel = \"x\"\nbackend = \n");
    expect_refused([&] { load_config(p); }, p, 3, "");
    p = write(dir, "unknown.toml", std::string(kMinimal) + "lookahead = 5\n");
    expect_refused([&] { load_config(p); }, p, 5, "unknown key 'lookahead'");
    p = write(dir, "range.toml", std::string(kMinimal) + "lookahead_ms = 1\n");
    expect_refused([&] { load_config(p); }, p, 5, "'lookahead_ms' = 1 is outside");
    p = write(dir, "type.toml", "[daemon]\nmodel = \"x\"\nbackend = 3\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "'backend' must be a string");
    p = write(dir, "backend.toml", "[daemon]\nmodel = \"x\"\nbackend = \"tpu\"\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "backend must be");
    p = write(dir, "precision.toml", "[daemon]\nmodel = \"x\"\nprecision = \"fp8\"\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "precision must be");
    p = write(dir, "threads.toml", "[daemon]\nmodel = \"x\"\ncpu_threads = -1\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "'cpu_threads' = -1 is outside");
    p = write(dir, "batch.toml", "[daemon]\nmodel = \"x\"\nbatch_streams = \"yes\"\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "batch_streams must be");
    p = write(dir, "param.toml", std::string(kMinimal) + "[stream.params]\ntemperature = 9\n");
    expect_refused([&] { load_config(p); }, p, 6, "temperature");
    p = write(dir, "dup.toml", std::string(kMinimal) + "[[stream]]\nname = \"main\"\n");
    expect_refused([&] { load_config(p); }, p, 6, "duplicate stream name");
    p = write(dir, "endpoint.toml", "[daemon]\nmodel = \"x\"\ncontrol = \"localhost:1\"\n[[stream]]\n");
    expect_refused([&] { load_config(p); }, p, 3, "only tcp://, ipc:// and inproc://");
}

TEST(Config, RefusesConfigWithoutStream) {
    TempDir dir;
    const std::string q = write(dir, "nostream.toml", "[daemon]\nmodel = \"x\"\n");
    EXPECT_THROW(load_config(q), ConfigError);
    EXPECT_THROW(load_config(dir.file("absent.toml")), ConfigError);
}

// Every TOML file the daemon reads (config, styles, mappings, schedules in the config) is read
// as a regular file of bounded size, without blocking: a FIFO hung a SIGHUP, and a directory or a
// link to /dev/zero parsed as an empty table that dropped every binding (issue 33).
TEST(Config, RefusesAFileThatIsNotARegularFileWithoutBlocking) {
    TempDir dir;
    ASSERT_EQ(::mkfifo(dir.file("config.fifo").c_str(), 0600), 0);
    ASSERT_EQ(::symlink("/dev/zero", dir.file("zero.toml").c_str()), 0);
    std::filesystem::create_directory(dir.file("dir.toml"));
    const std::string big = write(dir, "big.toml", std::string(kMinimal) + "# " + std::string(TomlReader::kMaxTomlBytes, 'x') + "\n");
    const std::pair<std::string, std::string> cases[] = {{dir.file("config.fifo"), "a FIFO, not a regular file"},
                                                         {dir.file("zero.toml"), "a character device, not a regular file"},
                                                         {dir.file("dir.toml"), "a directory, not a regular file"},
                                                         {big, "too large"}};
    for (const auto& [path, why] : cases) {
        try {
            load_config(path);
            ADD_FAILURE() << path << " was taken";
        } catch (const ConfigError& e) {
            EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        }
    }
}

// Remote control only with CURVE; CURVE only with a key and an allow-list; one tempo source.
TEST(Config, RefusesExposedEndpointsAndIncompleteSecurity) {
    TempDir dir;
    std::string p = write(dir, "open.toml", "[daemon]\nmodel = \"m\"\ncontrol = \"tcp://0.0.0.0:5557\"\n[[stream]]\nname = \"main\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "can be reached from other machines");
    p = write(dir, "semi.toml", "[daemon]\nmodel = \"m\"\ncontrol = \"tcp://127.0.0.1:5557;0.0.0.0:5559\"\n[[stream]]\nname = \"main\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "a source-address part (';') is not taken");
    p = write(dir, "semi-tel.toml",
              "[daemon]\nmodel = \"m\"\ntelemetry = \"tcp://127.0.0.1:5558;0.0.0.0:5559\"\n[[stream]]\nname = \"main\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "a source-address part (';') is not taken");
    p = write(dir, "pgm.toml", "[daemon]\nmodel = \"m\"\ntelemetry = \"epgm://lo;239.192.7.7:6678\"\n[[stream]]\nname = \"main\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "only tcp://, ipc:// and inproc://");
    p = write(dir, "nokey.toml", std::string(kMinimal) + "[security]\ncurve = true\nallowed_clients = [\"k.pub\"]\n");
    expect_refused([&] { load_config(p); }, p, 5, "needs key_file");
    p = write(dir, "nolist.toml", std::string(kMinimal) + "[security]\ncurve = true\nkey_file = \"s.key\"\n");
    expect_refused([&] { load_config(p); }, p, 5, "needs allowed_clients");
    p = write(dir, "both.toml", std::string(kMinimal) + "[jack]\nfollow_transport = true\n[link]\nenabled = true\n");
    expect_refused([&] { load_config(p); }, p, 8, "choose one tempo source");
    p = write(dir, "clock-link.toml", std::string(kMinimal) + "[link]\nenabled = true\n[midi_clock]\nenabled = true\n");
    expect_refused([&] { load_config(p); }, p, 8, "[midi_clock] enabled or [link] enabled");
    p = write(dir, "clock-nojack.toml", std::string(kMinimal) + "[jack]\nenabled = false\n[midi_clock]\nsend = true\n");
    expect_refused([&] { load_config(p); }, p, 8, "MIDI clock needs JACK");
    p = write(dir, "clock-q.toml", std::string(kMinimal) + "[midi_clock]\nenabled = true\nquantum = 0\n");
    expect_refused([&] { load_config(p); }, p, 7, "quantum");
    const auto clock =
        load_config(write(dir, "clock.toml", std::string(kMinimal) + "[midi_clock]\nenabled = true\nquantum = 3\nsend = true\n"));
    EXPECT_TRUE(clock.midi_clock);
    EXPECT_EQ(clock.midi_clock_quantum, 3);
    EXPECT_TRUE(clock.midi_clock_send);

    const auto c = load_config(write(dir, "curve.toml",
                                     "[daemon]\nmodel = \"m\"\nfallback_model = \"small.safetensors\"\n"
                                     "control = \"tcp://192.0.2.1:5557\"\n[[stream]]\nname = \"main\"\n"
                                     "[security]\ncurve = true\nkey_file = \"keys/s.key\"\n"
                                     "allowed_clients = [\"clients/a.pub\", \"rq:rMd[fH#kr8)S9Qvz3mBNmcfu>Uy#TBM6!!)J*\"]\n"));
    EXPECT_TRUE(c.security.curve);
    EXPECT_EQ(c.security.key_file, (dir.path / "keys/s.key").string());
    ASSERT_EQ(c.security.allowed_clients.size(), 2u);
    EXPECT_EQ(c.security.allowed_clients[0], (dir.path / "clients/a.pub").string());
    EXPECT_EQ(c.security.allowed_clients[1], "rq:rMd[fH#kr8)S9Qvz3mBNmcfu>Uy#TBM6!!)J*") << "a key is kept as it is";
    EXPECT_EQ(c.fallback_model, (dir.path / "small.safetensors").string());
}

// [[stream.output]]: an Icecast source checked in full at load.
TEST(Config, ReadsIcecastOutputsAndRefusesBadOnesWithFileLineAndReason) {
    TempDir dir;
    std::ofstream(dir.file("pw")) << "s3cret\n";
    const auto c = load_config(
        write(dir, "ok.toml",
              std::string(kMinimal) + "[[stream.output]]\ntype = \"icecast\"\nmount = \"/live.opus\"\npassword_file = \"pw\"\n"
                                      "[[stream.output]]\ntype = \"icecast\"\nhost = \"radio.example\"\nport = 8010\nmount = \"/m.mp3\"\n"
                                      "password = \"p\"\nformat = \"mp3\"\nbitrate = 256\npublic = true\ngenre = \"ambient\"\n"));
    ASSERT_EQ(c.streams[0].outputs.size(), 2u);
    const IcecastConfig& a = c.streams[0].outputs[0];
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 8000);
    EXPECT_EQ(a.password, "s3cret") << "read from the file, the line's end trimmed";
    EXPECT_EQ(a.format, "opus");
    EXPECT_EQ(a.bitrate_kbps, 128);
    const IcecastConfig& b = c.streams[0].outputs[1];
    EXPECT_EQ(b.format, "mp3");
    EXPECT_EQ(b.bitrate_kbps, 256);
    EXPECT_TRUE(b.is_public);
    EXPECT_EQ(b.genre, "ambient");

    const std::string head = std::string(kMinimal) + "[[stream.output]]\ntype = \"icecast\"\n";  // the entry at line 5
    std::string p = write(dir, "nomount.toml", head + "password = \"p\"\n");
    expect_refused([&] { load_config(p); }, p, 5, "needs mount");
    p = write(dir, "format.toml", head + "mount = \"/a\"\npassword = \"p\"\nformat = \"wma\"\n");
    expect_refused([&] { load_config(p); }, p, 9, "format must be \"opus\" (Ogg Opus) or \"mp3\"");
    p = write(dir, "mount.toml", head + "mount = \"live\"\npassword = \"p\"\n");
    expect_refused([&] { load_config(p); }, p, 7, "mount must be a path");
    p = write(dir, "nopw.toml", head + "mount = \"/a\"\n");
    expect_refused([&] { load_config(p); }, p, 5, "needs password or password_file");
    p = write(dir, "pwfile.toml", head + "mount = \"/a\"\npassword_file = \"absent\"\n");
    expect_refused([&] { load_config(p); }, p, 8, dir.file("absent") + ": cannot open");
    // A FIFO or a directory in the password file's place is refused at once, not read (a FIFO
    // blocked the reload that read it).
    ASSERT_EQ(::mkfifo(dir.file("pw.fifo").c_str(), 0600), 0);
    p = write(dir, "pwfifo.toml", head + "mount = \"/a\"\npassword_file = \"pw.fifo\"\n");
    expect_refused([&] { load_config(p); }, p, 8, "a FIFO, not a regular file");
    p = write(dir, "pwdir.toml", head + "mount = \"/a\"\npassword_file = \".\"\n");
    expect_refused([&] { load_config(p); }, p, 8, "a directory, not a regular file");
    p = write(dir, "crlf.toml", head + "mount = \"/a\"\npassword = \"p\"\nname = \"radio\\r\\nX-Evil: 1\"\n");
    expect_refused([&] { load_config(p); }, p, 9, "name holds a control character");
    p = write(dir, "type.toml", std::string(kMinimal) + "[[stream.output]]\ntype = \"shoutcast\"\nmount = \"/a\"\npassword = \"p\"\n");
    expect_refused([&] { load_config(p); }, p, 6, "type must be \"icecast\"");
    p = write(dir, "rate.toml", head + "mount = \"/a\"\npassword = \"p\"\nformat = \"mp3\"\nbitrate = 500\n");
    expect_refused([&] { load_config(p); }, p, 10, "'bitrate' = 500 is outside");
    p = write(dir, "twice.toml",
              head + "mount = \"/a\"\npassword = \"p\"\n[[stream.output]]\ntype = \"icecast\"\nmount = \"/a\"\npassword = \"q\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "a mount takes one source");
}

TEST(Config, ReadsTheScheduleAndRefusesBadEntries) {
    TempDir dir;
    const auto c = load_config(write(
        dir, "ok.toml",
        std::string(kMinimal) + "[[schedule]]\nat = [\"06:00\", \"18:30:15\"]\ndays = [\"mon\", \"sun\"]\nstyle = \"ambient\"\n"
                                "crossfade = 8\n[[schedule]]\nevery = \"15m\"\nstyles = [\"lofi\", \"jazz_trio\"]\nstream = \"main\"\n"));
    ASSERT_EQ(c.schedule.size(), 2u);
    EXPECT_EQ(c.schedule[0].at_s, (std::vector<int>{6 * 3600, 18 * 3600 + 30 * 60 + 15}));
    EXPECT_EQ(c.schedule[0].days, (1u << 1) | 1u);
    EXPECT_EQ(c.schedule[0].styles, std::vector<std::string>{"ambient"});
    EXPECT_EQ(c.schedule[0].crossfade_s, 8.0);
    EXPECT_EQ(c.schedule[0].line, 5);
    EXPECT_EQ(c.schedule[1].every_s, 900);
    EXPECT_EQ(c.schedule[1].stream, "main");

    const std::string head = std::string(kMinimal) + "[[schedule]]\n";  // line 5
    std::string p = write(dir, "time.toml", head + "at = \"25:00\"\nstyle = \"a\"\n");
    expect_refused([&] { load_config(p); }, p, 6, "'25:00' is not a time of day");
    p = write(dir, "every.toml", head + "every = \"soon\"\nstyles = [\"a\"]\n");
    expect_refused([&] { load_config(p); }, p, 6, "every must be a duration");
    // Read strictly: a sign, a space or a value that overflows before the range check was taken
    // (922337203685477581m fired every 12 s).
    for (const char* bad : {"922337203685477581m", " 5m", "+5m", "5 m", "0m", "25h", "m", "-1s"}) {
        p = write(dir, "every-bad.toml", head + "every = \"" + bad + "\"\nstyles = [\"a\"]\n");
        expect_refused([&] { load_config(p); }, p, 6, "every must be a duration");
    }
    for (const char* bad : {" 1:00", "+1:05", "1:00", "01:0", "01:00:", "01:00:5", "-1:00", "01:60"}) {
        p = write(dir, "time-bad.toml", head + "at = \"" + bad + "\"\nstyle = \"a\"\n");
        expect_refused([&] { load_config(p); }, p, 6, "is not a time of day");
    }
    p = write(dir, "neither.toml", head + "style = \"a\"\n");
    expect_refused([&] { load_config(p); }, p, 5, "needs either at");
    p = write(dir, "day.toml", head + "at = \"06:00\"\nstyle = \"a\"\ndays = [\"someday\"]\n");
    expect_refused([&] { load_config(p); }, p, 8, "'someday' is not one of");
    p = write(dir, "stream.toml", head + "every = \"1h\"\nstyles = [\"a\"]\nstream = \"other\"\n");
    expect_refused([&] { load_config(p); }, p, 5, "unknown stream 'other'");
}

TEST(Config, HeadlessNeedsNoJackAndRefusesJackTempoSources) {
    TempDir dir;
    const auto c = load_config(write(dir, "headless.toml", std::string(kMinimal) + "[jack]\nenabled = false\n"));
    EXPECT_FALSE(c.jack_enabled);
    EXPECT_EQ(c.output_rate, 48000);
    const std::string p = write(dir, "transport.toml", std::string(kMinimal) + "[jack]\nenabled = false\nfollow_transport = true\n");
    expect_refused([&] { load_config(p); }, p, 5, "follow_transport needs JACK");
}

TEST(Config, OscIsLoopbackUnlessItsPeersAreListed) {
    TempDir dir;
    auto cfg = [&](const std::string& name, const std::string& lines) {
        return write(dir, name, "[daemon]\nmodel = \"m\"\n" + lines + "[[stream]]\nname = \"main\"\n");
    };
    std::string p = cfg("lo.toml", "osc = \"127.0.0.1:9000\"\n");
    EXPECT_EQ(load_config(p).osc, "127.0.0.1:9000");
    p = cfg("allowed.toml", "osc = \"0.0.0.0:9000\"\nosc_allow = [\"192.168.1.20\"]\n");
    EXPECT_EQ(load_config(p).osc_allow, std::vector<std::string>{"192.168.1.20"});
    p = cfg("open.toml", "osc = \"0.0.0.0:9000\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "reachable from other machines: list the peers it takes in osc_allow");
    p = cfg("noport.toml", "osc = \"127.0.0.1\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "expected HOST:PORT");
    p = cfg("badport.toml", "osc = \"127.0.0.1:99999\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "bad port");
    p = cfg("host.toml", "osc = \"studio.local:9000\"\n");
    expect_refused([&] { load_config(p); }, p, 3, "not an IPv4 address");
    p = cfg("peer.toml", "osc = \"0.0.0.0:9000\"\nosc_allow = [\"tablet\"]\n");
    expect_refused([&] { load_config(p); }, p, 3, "osc_allow: 'tablet' is not an IPv4 address");
    p = cfg("peers.toml", "osc = \"0.0.0.0:9000\"\nosc_allow = \"192.168.1.20\"\n");
    expect_refused([&] { load_config(p); }, p, 4, "osc_allow must be an array");
}
