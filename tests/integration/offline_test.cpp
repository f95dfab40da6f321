// wavecastd's offline subcommands and its refusals at start-up: the real binary against real
// files, and its MIDI files read by a third-party parser.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "kernels/frame_features.h"
#include "kernels/generator.h"
#include "kernels/model.h"
#include "kernels/mulaw.h"
#include "kernels/safetensors.h"
#include "score/midi_file.h"
#include "score/style.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

using namespace harness;

// Not part of the suite's shared daemon: these run the binary against bad input.
TEST(DaemonStartup, RefusesBadConfigWithFileLineAndReason) {
    TempDir dir;
    const std::string cfg = dir.file("bad.toml");
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nbackend = \"quantum\"\n[[stream]]\n";
    Process p({WAVECASTD_BIN, "--config", cfg}, {}, dir.file("log"));
    EXPECT_EQ(p.wait(10).value_or(-1), 1);
    EXPECT_NE(p.log().find(cfg + ":3: backend must be"), std::string::npos) << p.log();
}

TEST(DaemonStartup, RefusesTruncatedModelWithPathAndReason) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("tiny"), 1));
    std::filesystem::resize_file(model, 1000);
    const std::string cfg = dir.file("c.toml");
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR << "/config/styles\"\n[[stream]]\n";
    Process p({WAVECASTD_BIN, "--config", cfg}, {}, dir.file("log"));
    EXPECT_EQ(p.wait(10).value_or(-1), 1);
    EXPECT_NE(p.log().find(model + ": "), std::string::npos) << p.log();
    EXPECT_NE(p.log().find("truncated"), std::string::npos) << p.log();
}

TEST(Render, SameSeedGivesTheSameFileAndAnotherSeedAnother) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors"), cfg = dir.file("c.toml");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("small"), 1));
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR << "/config/styles\"\n[[stream]]\n";
    auto render = [&](const std::string& out, int seed) {
        Process p({WAVECASTD_BIN, "--config", cfg, "--backend", "cpu", "render", "--style", "ambient", "--seconds", "1.5", "--out", out,
                   "--seed", std::to_string(seed), "--bits", "16"},
                  {}, dir.file("render.log"));
        EXPECT_EQ(p.wait(60).value_or(-1), 0) << p.log();
    };
    render(dir.file("a.wav"), 5);
    render(dir.file("c.wav"), 6);
    // The daemon's options after the subcommand, as DESIGN.md's contract writes them (refused
    // with "The following arguments were not expected" before).
    Process after({WAVECASTD_BIN, "render", "--backend", "cpu", "--style", "ambient", "--seconds", "1.5", "--out", dir.file("b.wav"),
                   "--seed", "5", "--bits", "16", "--config", cfg},
                  {}, dir.file("after.log"));
    EXPECT_EQ(after.wait(60).value_or(-1), 0) << after.log();
    int rate = 0;
    EXPECT_EQ(audio_frames(dir.file("a.wav"), &rate), 24000);
    EXPECT_EQ(rate, 16000);
    EXPECT_EQ(slurp(dir.file("a.wav")), slurp(dir.file("b.wav")));
    EXPECT_NE(slurp(dir.file("a.wav")), slurp(dir.file("c.wav")));
}

// A render plays at the config's stream parameters where the command line gives none, as the
// stream would, and the command line wins where it does.
TEST(Render, TakesTheStreamsParametersFromTheConfigUnlessGiven) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("tiny"), 1));
    auto config = [&](const std::string& name, const std::string& params) {
        std::ofstream(dir.file(name)) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR
                                      << "/config/styles\"\n[[stream]]\n[stream.params]\n"
                                      << params;
        return dir.file(name);
    };
    const std::string plain = config("plain.toml", ""), cool = config("cool.toml", "temperature = 0.3\n");
    auto render = [&](const std::string& cfg, const std::string& out, std::vector<std::string> extra) {
        std::vector<std::string> argv{WAVECASTD_BIN, "--config", cfg,     "--backend", "cpu",    "render", "--style", "ambient",
                                      "--seconds",   "1",        "--out", out,         "--seed", "3",      "--bits",  "16"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        Process p(argv, {}, dir.file("render.log"));
        EXPECT_EQ(p.wait(60).value_or(-1), 0) << p.log();
        return slurp(out);
    };
    const std::string from_config = render(cool, dir.file("a.wav"), {}), unset = render(plain, dir.file("c.wav"), {});
    EXPECT_EQ(from_config, render(plain, dir.file("b.wav"), {"--temperature", "0.3"}));
    EXPECT_NE(from_config, unset);  // 1 where neither says
    EXPECT_EQ(unset, render(cool, dir.file("d.wav"), {"--temperature", "1"}));
}

// The MIDI file of a render, read by a third-party parser (Debian's python3-mido), holds exactly
// the composer's notes for the same style and seed, on the right channels and programs.
TEST(Render, MidiFileParsesWithMidoAndEqualsTheComposersNotes) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors"), cfg = dir.file("c.toml");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("tiny"), 1));
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR << "/config/styles\"\n[[stream]]\n";
    Process render({WAVECASTD_BIN, "--config", cfg, "--backend", "cpu", "render", "--style", "house", "--seconds", "12", "--seed", "9",
                    "--out", dir.file("a.wav"), "--midi", dir.file("a.mid")},
                   {}, dir.file("render.log"));
    ASSERT_EQ(render.wait(60).value_or(-1), 0) << render.log();
    const std::string parsed = read_midi_with_mido(dir.file("a.mid"), dir.file("mido.log"));

    const auto styles = wavecast::load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    const auto& style = *styles.at("house");
    const auto expected = expected_notes("house", 9, 12);
    const double end_beat = 12 * style.tempo / 60.0;
    std::multiset<std::tuple<int, long, int, int>> want, got;  // (track, tick, note, velocity) of note-ons
    for (const auto& e : expected)
        if (e.on && e.beat <= end_beat) want.insert({e.track + 1, std::lround(e.beat * 480), e.pitch, e.velocity});

    std::istringstream lines(parsed);
    std::string line;
    std::getline(lines, line);
    const auto head = nlohmann::json::parse(line);
    EXPECT_EQ(head["type"], 1);
    EXPECT_EQ(head["ticks_per_beat"], 480);
    ASSERT_EQ(head["tracks"].size(), 5u);
    EXPECT_EQ(head["tracks"][1], "drums");
    int ons = 0, offs = 0;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        const int track = j["track"];
        const auto& ts = style.tracks[static_cast<size_t>(track - 1)];
        EXPECT_EQ(j["channel"].get<int>(), ts.drums ? 9 : track - 1);
        if (j.contains("program")) {
            EXPECT_EQ(j["program"].get<int>(), ts.program);
            continue;
        }
        if (j["on"].get<bool>()) {
            got.insert({track, j["tick"].get<long>(), j["note"].get<int>(), j["velocity"].get<int>()});
            ++ons;
        } else {
            ++offs;
        }
    }
    EXPECT_GT(ons, 50);
    EXPECT_EQ(ons, offs) << "every note ends";
    EXPECT_EQ(got, want);
}

// render --score plays a given MIDI file through the neural instruments: rendering a render's own
// MIDI file gives back the same notes (read both with python3-mido); a file that is not MIDI is
// refused with its path and the reason.
TEST(Render, ScorePlaysAGivenMidiFileNoteForNote) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors"), cfg = dir.file("c.toml");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("tiny"), 1));
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR << "/config/styles\"\n[[stream]]\n";
    auto render = [&](std::vector<std::string> args) {
        std::vector<std::string> argv{WAVECASTD_BIN, "--config", cfg, "--backend", "cpu", "render", "--seconds", "8"};
        argv.insert(argv.end(), args.begin(), args.end());
        Process p(argv, {}, dir.file("render.log"));
        const int rc = p.wait(60).value_or(-1);
        return std::make_pair(rc, p.log());
    };
    ASSERT_EQ(render({"--style", "jazz_trio", "--out", dir.file("a.wav"), "--midi", dir.file("a.mid")}).first, 0);
    auto [rc, log] = render({"--score", dir.file("a.mid"), "--out", dir.file("b.wav"), "--midi", dir.file("b.mid")});
    ASSERT_EQ(rc, 0) << log;
    EXPECT_EQ(audio_frames(dir.file("b.wav")), 8 * 16000);
    auto note_ons = [&](const std::string& midi) {
        std::multiset<std::tuple<long, int, int, int>> out;  // (tick, channel, note, velocity)
        std::istringstream lines(read_midi_with_mido(midi, dir.file("mido.log")));
        std::string line;
        std::getline(lines, line);  // the header
        while (std::getline(lines, line)) {
            const auto j = nlohmann::json::parse(line);
            if (j.contains("on") && j["on"].get<bool>())
                out.insert({j["tick"].get<long>(), j["channel"].get<int>(), j["note"].get<int>(), j["velocity"].get<int>()});
        }
        return out;
    };
    const auto a = note_ons(dir.file("a.mid")), b = note_ons(dir.file("b.mid"));
    EXPECT_GT(a.size(), 50u);
    EXPECT_EQ(a, b);

    std::ofstream(dir.file("bad.mid")) << "MThd garbage";
    std::tie(rc, log) = render({"--score", dir.file("bad.mid"), "--out", dir.file("c.wav")});
    EXPECT_EQ(rc, 1);
    EXPECT_NE(log.find(dir.file("bad.mid") + ": "), std::string::npos) << log;
}

// export writes the conditioning the engine's renderer hands the network: the same frames a
// composer of the same seed writes, onsets where the MIDI file's notes start, and a file the
// training side's reader (training/wavecast_export.py, Debian's numpy) reads back the same.
TEST(Export, ConditioningEqualsTheComposersAndTheTrainingReaderReadsIt) {
    TempDir dir;
    const std::string model = dir.file("m.safetensors"), cfg = dir.file("c.toml");
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape("tiny"), 1));
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR << "/config/styles\"\n[[stream]]\n";
    const std::string out = dir.file("dnb.safetensors"), mid = dir.file("dnb.mid");
    Process exp({WAVECASTD_BIN, "--config", cfg, "export", "--style", "dnb", "--seconds", "20", "--seed", "3", "--out", out, "--midi", mid},
                {}, dir.file("export.log"));
    ASSERT_EQ(exp.wait(60).value_or(-1), 0) << exp.log();

    const auto file = wavecast::read_safetensors(out);
    const auto& feats = file.tensors.at("features");
    ASSERT_EQ(feats.shape, (std::vector<int64_t>{2000, 4, wavecast::kFrameFeatures}));
    EXPECT_EQ(file.tensors.at("instruments").shape, (std::vector<int64_t>{2000, 4, 8}));
    const auto meta = nlohmann::json::parse(file.metadata.at("wavecast_export"));
    EXPECT_EQ(meta["layout"], "notes-v1");
    EXPECT_EQ(meta["tracks"][0]["name"], "drums");

    // The composer alone, as a stream drives it, block by block.
    const auto styles = wavecast::load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    wavecast::Composer c(4, 16000, 160, 3);
    c.set_style(styles.at("dnb"));
    std::vector<float> want(feats.data.size());
    for (int f = 0; f < 2000; f += 8) {
        c.set_tempo(styles.at("dnb")->tempo);
        c.set_intensity(0.6);
        c.set_temperature(1.0);
        c.set_seed(3);
        c.next_frames(8, want.data() + static_cast<size_t>(f) * 4 * wavecast::kFrameFeatures);
    }
    ASSERT_TRUE(feats.data == want) << "the exported frames are not the composer's";

    // Every note-on of the MIDI file starts in the frame whose onset feature says so (a note on
    // a frame boundary, as the file's ticks round it, may fall on the frame before).
    const auto score = wavecast::read_midi_file(mid);
    const double spb = 60.0 / score.tempo_bpm;
    auto onset = [&](int64_t frame, int lane, int pitch) {
        return frame >= 0 && frame < 2000 &&
               feats.data[(static_cast<size_t>(frame) * 4 + static_cast<size_t>(lane)) * wavecast::kFrameFeatures + 128 +
                          static_cast<size_t>(pitch)] == 1.0f;
    };
    int checked = 0;
    for (const auto& n : score.notes) {
        const auto frame = static_cast<int64_t>(n.start * spb * 100.0);
        if (frame >= 1999) continue;
        EXPECT_TRUE(onset(frame, n.lane, n.pitch) || onset(frame - 1, n.lane, n.pitch))
            << "lane " << n.lane << " pitch " << n.pitch << " at frame " << frame;
        ++checked;
    }
    EXPECT_GT(checked, 100);
    int onsets_here = 0;
    for (size_t i = 0; i < feats.data.size(); ++i)
        onsets_here += i % wavecast::kFrameFeatures >= 128 && i % wavecast::kFrameFeatures < 256 && feats.data[i] > 0;

    Process reader({"/usr/bin/python3", std::string(WAVECAST_SOURCE_DIR) + "/training/wavecast_export.py", out}, {},
                   dir.file("reader.log"));
    ASSERT_EQ(reader.wait(60).value_or(-1), 0) << reader.log();
    const auto summary = nlohmann::json::parse(reader.log());
    double sum = 0;
    for (float v : feats.data) sum += v;
    EXPECT_EQ(summary["frames"], 2000);
    EXPECT_NEAR(summary["sum"].get<double>(), sum, 1e-3 * std::abs(sum));
    int onsets = 0;
    for (const auto& k : summary["onsets"]) onsets += k.get<int>();
    EXPECT_EQ(onsets, onsets_here) << "the reader finds the onsets the file holds";
}

// export --play keeps what the network played on the frames it wrote: at temperature 0 every
// sample is the most likely class given the samples before it (the CPU generator, teacher-forced
// on those frames and that past, agrees), and the frames are export's own without --play.
TEST(Export, PlayKeepsWhatTheNetworkPlayedOnTheFramesItWrote) {
    TempDir dir;
    const std::string model_path = dir.file("m.safetensors"), cfg = dir.file("c.toml");
    auto model = std::make_shared<const wavecast::Model>(wavecast::random_model(wavecast::named_shape("tiny"), 4));
    wavecast::save_model(model_path, *model);
    std::ofstream(cfg) << "[daemon]\nmodel = \"m.safetensors\"\nbackend = \"cpu\"\nstyles = \"" << WAVECAST_SOURCE_DIR
                       << "/config/styles\"\n[[stream]]\n[stream.params]\ntemperature = 0.0\nsustain_temperature = 0.0\n";
    auto run = [&](const std::string& out, bool play) {
        std::vector<std::string> args{WAVECASTD_BIN, "--config", cfg, "export",  "--style", "jazz_trio", "--seconds",
                                      "2",           "--seed",   "5", "--lanes", "2",       "--out",     out};
        if (play) args.push_back("--play");
        Process p(args, {}, out + ".log");
        EXPECT_EQ(p.wait(60).value_or(-1), 0) << p.log();
        return wavecast::read_safetensors(out);
    };
    const auto played = run(dir.file("played.safetensors"), true), plain = run(dir.file("plain.safetensors"), false);
    EXPECT_EQ(plain.tensors.count("samples"), 0u);
    const auto& feats = played.tensors.at("features");
    ASSERT_TRUE(feats.data == plain.tensors.at("features").data) << "playing changed the frames";
    const auto& samples = played.tensors.at("samples");
    const int frames = 200, lanes = 2, hop = model->spec.frame_hop, classes = model->spec.audio_classes;
    ASSERT_EQ(samples.shape, (std::vector<int64_t>{lanes, frames * hop}));
    const auto meta = nlohmann::json::parse(played.metadata.at("wavecast_export"));
    EXPECT_EQ(meta["played_by"], "cpu");
    EXPECT_EQ(meta["temperature"], 0.0);

    // The past each sample was drawn from: the class of the sample before (silence first).
    const size_t n = static_cast<size_t>(frames) * hop;
    std::vector<int> past(static_cast<size_t>(lanes) * n);
    for (int b = 0; b < lanes; ++b)
        for (size_t t = 0; t < n; ++t)
            past[b * n + t] = t == 0 ? classes / 2 : wavecast::mulaw_encode(samples.data[b * n + t - 1], classes);
    auto gen = wavecast::make_cpu_generator(model, lanes, 5);
    const auto& weights = played.tensors.at("instruments").data;  // one style, no crossfade: the first frame's throughout
    gen->set_instruments(weights.data());
    std::vector<float> probs(static_cast<size_t>(lanes) * n * classes);
    gen->teacher_forced(feats.data.data(), past.data(), frames, probs.data());
    int disagree = 0, sounding = 0;
    for (int b = 0; b < lanes; ++b)
        for (size_t t = 0; t < n; ++t) {
            const float x = samples.data[b * n + t];
            ASSERT_NEAR(wavecast::mulaw_decode(wavecast::mulaw_encode(x, classes), classes), x, 1e-6f) << "not a decoded class";
            const float* p = &probs[(b * n + t) * classes];
            disagree += static_cast<int>(std::max_element(p, p + classes) - p) != wavecast::mulaw_encode(x, classes);
            sounding += x != 0.0f;
        }
    EXPECT_EQ(disagree, 0);
    EXPECT_GT(sounding, 0);
}
