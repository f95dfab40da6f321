// wavecastd: the daemon (streams into JACK, steered over ZeroMQ) and its offline subcommands.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "export_file.h"
#include "mask_file.h"
#include "render_file.h"
#include "run_daemon.h"
#include "systemd.h"
#include "toml_util.h"

using namespace wavecast;

int main(int argc, char** argv) {
    block_daemon_signals();

    CLI::App app{"wavecastd: composes and renders music with a neural network, forever, into JACK"};
    std::string config_path = default_config_path();
    ConfigOverrides over;
    app.add_option("--config", config_path, "daemon config (TOML); SIGHUP reloads it");
    app.add_option("--backend", over.backend, "auto, cpu or cuda (overrides the config)");
    app.add_option("--control", over.control, "control endpoint (ZeroMQ ROUTER), e.g. tcp://127.0.0.1:5557");
    app.add_option("--telemetry", over.telemetry, "telemetry endpoint (ZeroMQ PUB), e.g. tcp://127.0.0.1:5558");
    app.add_option("--jack-name", over.jack_name, "JACK client name");
    app.add_flag("--no-jack", over.no_jack, "play by the internal clock without JACK ([jack] enabled = false): a headless station");
    app.add_option("--log-level", over.log_level, "trace, debug, info, warn or error");

    auto* render = app.add_subcommand("render", "render a style offline to a WAV file");
    RenderOptions ro;
    auto* style_opt = render->add_option("--style", ro.style, "style name");
    auto* score_opt = render->add_option("--score", ro.score, "play this MIDI file through the neural instruments instead of composing");
    style_opt->excludes(score_opt);
    render->callback([&] {
        if (ro.style.empty() && ro.score.empty()) throw CLI::ValidationError("render", "--style or --score is required");
    });
    render->add_option("--seconds", ro.seconds, "length")->check(CLI::Range(0.01, 86400.0));
    render->add_option("--out", ro.out, "output .wav")->required();
    render->add_option("--midi", ro.midi, "also write the notes as a standard MIDI file");
    render->add_option("--seed", ro.seed, "seed of the score and the sampler");
    render->add_option("--bits", ro.bits, "16 or 24")->check(CLI::IsMember({16, 24}));
    render->add_option("--rate", ro.rate, "output sample rate (default: the model's)");
    // Left unset, these are what the config's first stream plays at: a render sounds like the stream.
    struct FromStream {
        CLI::Option* option;
        const char* param;
        double* value;
    };
    const FromStream from_stream[] = {
        {render->add_option("--temperature", ro.temperature, "sampling temperature (default: the stream's in the config, else 1)")
             ->check(CLI::Range(0.0, 4.0)),
         "temperature", &ro.temperature},
        {render
             ->add_option("--tail-cut", ro.tail_cut,
                          "never draw samples less likely than this times the likeliest (default: the stream's, else 0)")
             ->check(CLI::Range(0.0, 1.0)),
         "tail_cut", &ro.tail_cut},
        {render
             ->add_option("--sustain-temperature", ro.sustain_temperature,
                          "the most the temperature is once a note has sounded 0.1 s (default: the stream's, else 0)")
             ->check(CLI::Range(0.0, 4.0)),
         "sustain_temperature", &ro.sustain_temperature},
        {render->add_option("--intensity", ro.intensity, "0..1 (default: the stream's, else 0.6)")->check(CLI::Range(0.0, 1.0)),
         "intensity", &ro.intensity},
        {render->add_option("--gain-db", ro.gain_db, "trim around the loudness target (default: the stream's, else 0)")
             ->check(CLI::Range(-60.0, 12.0)),
         "gain_db", &ro.gain_db},
        {render
             ->add_option("--masking-db", ro.masking_db, "frequency masking strength, see `wavecastd mask` (default: the stream's, else 0)")
             ->check(CLI::Range(-100.0, 40.0)),
         "masking_db", &ro.masking_db}};
    render->add_option("--tempo", ro.tempo, "bpm (default: the style's)")->check(CLI::Range(20.0, 300.0));
    auto* exp = app.add_subcommand("export", "write the conditioning frames a style or score gives the network (training data)");
    RenderOptions eo;
    auto* exp_style = exp->add_option("--style", eo.style, "style name");
    exp_style->excludes(exp->add_option("--score", eo.score, "a MIDI file to export instead of composing"));
    exp->callback([&] {
        if (eo.style.empty() && eo.score.empty()) throw CLI::ValidationError("export", "--style or --score is required");
    });
    exp->add_option("--seconds", eo.seconds, "length")->check(CLI::Range(0.01, 86400.0));
    exp->add_option("--out", eo.out, "output .safetensors")->required();
    exp->add_option("--midi", eo.midi, "also write the notes as a standard MIDI file");
    exp->add_option("--seed", eo.seed, "seed of the composer");
    exp->add_option("--lanes", eo.lanes, "tracks")->check(CLI::Range(1, 16));
    exp->add_option("--temperature", eo.temperature, "how far the composer varies")->check(CLI::Range(0.0, 4.0));
    exp->add_option("--intensity", eo.intensity, "0..1")->check(CLI::Range(0.0, 1.0));
    exp->add_option("--tempo", eo.tempo, "bpm (default: the style's)")->check(CLI::Range(20.0, 300.0));
    auto* mask = app.add_subcommand("mask", "run the frequency-masking stage on a file");
    std::string mask_in, mask_out;
    float strength = 0.0f;
    mask->add_option("IN", mask_in, "input audio file (mono or stereo, any rate)")->required();
    mask->add_option("OUT", mask_out, "output file (same format as the input)")->required();
    mask->add_option("--strength", strength,
                     "dB relative to the masking threshold: 0 removes what is inaudible, positive removes more "
                     "(audible lo-fi), <= -90 passes everything")
        ->check(CLI::Range(-100.0f, 40.0f));
    // The daemon's options are taken after a subcommand too (`wavecastd render --backend cpu ...`),
    // as before it: they fall through to the app.
    for (auto* sub : {render, exp, mask}) sub->fallthrough();
    CLI11_PARSE(app, argc, argv);

    auto logger = spdlog::stderr_color_mt("wavecastd");
    if (stderr_is_journal()) use_journal_format(*logger);
    spdlog::set_default_logger(logger);
    try {
        if (*mask) {
            mask_file(mask_in, mask_out, strength, over.backend.empty() ? "auto" : over.backend);
            return 0;
        }
        if (*render || *exp) {
            DaemonConfig cfg = load_config(config_path);
            over.apply(cfg);
            spdlog::set_level(spdlog::level::from_str(cfg.log_level));
            if (*render && !cfg.streams.empty()) {
                const auto& params = cfg.streams.front().params;
                for (const auto& f : from_stream)
                    if (const auto found = params.find(f.param); f.option->count() == 0 && found != params.end()) *f.value = found->second;
            }
            if (*render) render_file(cfg, ro);
            else export_conditioning(cfg, eo);
            return 0;
        }
        const int rc = run_daemon(config_path, over);
        spdlog::debug("exiting with status {}", rc);
        return rc;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
