#include "daemon/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "control/systemd.h"
#include "daemon/config.h"
#include "daemon/supervisor.h"
#include "offline/export_file.h"
#include "offline/mask_file.h"
#include "offline/render_file.h"
#include "util/toml_util.h"

namespace wavecast {
namespace {

// "tail_cut" -> "--tail-cut".
std::string option_name(const char* param) {
    std::string s = std::string("--") + param;
    std::replace(s.begin(), s.end(), '_', '-');
    return s;
}

// An option per live parameter of `names` (all but the seed, which --seed sets, when empty),
// with the table's range and meaning.
void add_param_options(CLI::App* sub, ParamValues& values, const std::vector<std::string>& names, const std::string& unset_note) {
    for (size_t i = 0; i < kParamCount; ++i) {
        const ParamSpec& p = kParams[i];
        if (static_cast<Param>(i) == Param::seed) continue;
        if (!names.empty() && std::find(names.begin(), names.end(), p.name) == names.end()) continue;
        const std::string unit = *p.unit ? std::string(" (") + p.unit + ")" : "";
        sub->add_option(option_name(p.name), values.v[i], std::string(p.help) + unit + "; " + unset_note)->check(CLI::Range(p.min, p.max));
    }
}

void add_source_options(CLI::App* sub, RenderOptions& o, const char* what) {
    auto* style = sub->add_option("--style", o.style, "style name");
    style->excludes(sub->add_option("--score", o.score, std::string("a MIDI file to ") + what + " instead of composing"));
    sub->callback([sub, &o] {
        if (o.style.empty() && o.score.empty()) throw CLI::ValidationError(sub->get_name(), "--style or --score is required");
    });
    sub->add_option("--seconds", o.seconds, "length")->check(CLI::Range(0.01, 86400.0));
    sub->add_option("--midi", o.midi, "also write the notes as a standard MIDI file");
}

CLI::App* add_render(CLI::App& app, RenderOptions& o) {
    auto* render = app.add_subcommand("render", "render a style offline to a WAV file");
    add_source_options(render, o, "play through the neural instruments");
    render->add_option("--out", o.out, "output .wav")->required();
    render->add_option("--seed", o.seed, "seed of the score and the sampler");
    render->add_option("--bits", o.bits, "16 or 24")->check(CLI::IsMember({16, 24}));
    render->add_option("--rate", o.rate, "output sample rate (default: the model's)");
    add_param_options(render, o.params, {}, "default: the config's first stream's, else the table's");
    return render;
}

CLI::App* add_export(CLI::App& app, RenderOptions& o) {
    auto* exp = app.add_subcommand("export", "write the conditioning frames a style or score gives the network (training data)");
    add_source_options(exp, o, "export");
    exp->add_option("--out", o.out, "output .safetensors")->required();
    exp->add_option("--seed", o.seed, "seed of the composer");
    exp->add_option("--lanes", o.lanes, "tracks")->check(CLI::Range(1, 16));
    exp->add_flag("--play", o.play,
                  "also play it through the network (the backend render uses) and write what each lane played, at the model rate and "
                  "in its domain (\"samples\" [lanes, samples]): what the diagnostics feed back as the network's own past");
    add_param_options(exp, o.params, {"temperature", "tail_cut", "sustain_temperature", "intensity", "tempo", "key"},
                      "default: the table's (with --play, the config's first stream's, else the table's)");
    return exp;
}

struct MaskOptions {
    std::string in, out;
    float strength = 0.0f;
};

CLI::App* add_mask(CLI::App& app, MaskOptions& o) {
    auto* mask = app.add_subcommand("mask", "run the frequency-masking stage on a file");
    mask->add_option("IN", o.in, "input audio file (mono or stereo, any rate)")->required();
    mask->add_option("OUT", o.out, "output file (same format as the input)")->required();
    mask->add_option("--strength", o.strength,
                     "dB relative to the masking threshold: 0 removes what is inaudible, positive removes more "
                     "(audible lo-fi), <= -90 passes everything")
        ->check(CLI::Range(-100.0f, 40.0f));
    return mask;
}

void use_our_logger() {
    auto logger = spdlog::stderr_color_mt("wavecastd");
    if (stderr_is_journal()) use_journal_format(*logger);
    spdlog::set_default_logger(logger);
}

}  // namespace

int wavecastd_main(int argc, char** argv, const StageHooks& hooks) {
    // Every CUDA kernel loaded when the context is made (the first stream's stages, on this
    // thread), not at its first launch on a producer thread while the other streams launch theirs
    // (CUDA 12's lazy loading). A value in the environment is left as it is.
    setenv("CUDA_MODULE_LOADING", "EAGER", 0);
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
    RenderOptions ro, eo;
    MaskOptions mo;
    CLI::App* render = add_render(app, ro);
    CLI::App* exp = add_export(app, eo);
    CLI::App* mask = add_mask(app, mo);
    // The daemon's options are taken after a subcommand too (`wavecastd render --backend cpu ...`),
    // as before it: they fall through to the app.
    for (auto* sub : {render, exp, mask}) sub->fallthrough();
    CLI11_PARSE(app, argc, argv);

    use_our_logger();
    try {
        if (*mask) {
            mask_file(mo.in, mo.out, mo.strength, over.backend.empty() ? "auto" : over.backend);
            return 0;
        }
        if (*render || *exp) {
            DaemonConfig cfg = load_config(config_path);
            over.apply(cfg);
            spdlog::set_level(spdlog::level::from_str(cfg.log_level));
            const OfflineSetup setup{cfg.styles_dir,
                                     cfg.backend,
                                     cfg.model_for("cpu"),
                                     cfg.model_for("cuda"),
                                     cfg.precision,
                                     cfg.cpu_threads,
                                     cfg.streams.empty() ? std::map<std::string, double>{} : cfg.streams.front().params};
            if (*render) render_file(setup, ro);
            else export_conditioning(setup, eo);
            return 0;
        }
        const int rc = run_daemon(config_path, over, hooks);
        spdlog::debug("exiting with status {}", rc);
        return rc;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace wavecast
