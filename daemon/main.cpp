// wavecastd: the daemon (streams into JACK, steered over ZeroMQ) and its offline subcommands.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "backend.h"
#include "control.h"
#include "engine.h"
#include "faults.h"
#include "jack_output.h"
#include "mask_file.h"
#include "render_file.h"
#include "toml_util.h"

using namespace wavecast;

namespace {

int run_daemon(const DaemonConfig& cfg) {
    auto model = std::make_shared<const Model>(load_model(cfg.model));
    auto styles = load_styles(cfg.styles_dir);
    spdlog::info("model {}: {} at {} Hz, {} weights", cfg.model, model->spec.shape_name(), model->spec.sample_rate,
                 model->spec.random_weights ? "seeded random (untrained)" : "trained");
    spdlog::info("{} styles from {}", styles.size(), cfg.styles_dir);

    // The fallback is loaded now, so that a bad file is refused at start rather than when needed.
    auto fallback_model = cfg.fallback_model.empty() ? model : std::make_shared<const Model>(load_model(cfg.fallback_model));
    const ModelSpec &ps = model->spec, &fs = fallback_model->spec;
    if (fs.sample_rate != ps.sample_rate || fs.frame_hop != ps.frame_hop || fs.cond_features != ps.cond_features)
        throw ConfigError(cfg.path + ": fallback_model " + cfg.fallback_model + " runs at " + std::to_string(fs.sample_rate) +
                          " Hz with a frame hop of " + std::to_string(fs.frame_hop) + ", unlike the model's " +
                          std::to_string(ps.sample_rate) + " Hz and " + std::to_string(ps.frame_hop));
    const Faults faults = Faults::from_env();
    if (faults.any()) spdlog::warn("test faults injected: {}", faults.describe());

    JackOutput jack(cfg.jack_name, cfg.jack_server);
    const int rate = jack.sample_rate();
    spdlog::info("JACK client '{}' at {} Hz, period {} frames", cfg.jack_name, rate, jack.buffer_size());

    std::string backend;
    auto engine_styles = styles;
    std::vector<std::unique_ptr<Stream>> streams;
    for (const auto& sc : cfg.streams) {
        auto it = styles.find(sc.style);
        if (it == styles.end()) throw ConfigError(cfg.path + ": stream '" + sc.name + "' names unknown style '" + sc.style + "'");
        auto choice = make_generator(cfg.backend, model, sc.lanes, sc.seed);
        spdlog::info("stream '{}': generator {}; masking on {}", sc.name, choice.note,
                     cfg.backend == "cpu" || cuda_devices().empty() ? "the CPU (FFTW)" : "the GPU (cuFFT)");
        backend = choice.generator->backend();
        if (faults.generator_fails_after_s >= 0) choice.generator = failing_generator(std::move(choice.generator), faults.generator_fails_after_s);
        auto masking = make_masking(cfg.backend, model->spec.sample_rate, 2);
        streams.push_back(std::make_unique<Stream>(sc, std::move(choice.generator), std::move(masking), it->second, rate));
        streams.back()->set_fallback([fallback_model, lanes = sc.lanes, seed = sc.seed] {
            return make_cpu_generator(fallback_model, lanes, seed);
        });
        if (faults.slow_producer > 0) streams.back()->slow_down(faults.slow_producer);
    }
    Engine engine(cfg, model, std::move(engine_styles), backend);
    for (auto& s : streams) {
        jack.add_stream(s.get());
        s->start();
    }
    for (auto& s : streams) engine.add_stream(std::move(s));
    // Fill every ring to its look-ahead before JACK starts pulling, so the start is not an underrun.
    for (const auto& s : engine.streams())
        if (!s->wait_primed(30.0)) spdlog::warn("stream '{}' did not fill its look-ahead within 30 s: the generator is slower than real time", s->name());
    jack.activate(cfg.autoconnect);
    engine.set_jack(&jack, cfg.jack_name);

    auto log_sink = std::make_shared<TelemetryLogSink>();
    spdlog::default_logger()->sinks().push_back(log_sink);
    ControlServer control(engine, cfg.control, cfg.telemetry, cfg.status_interval_s, log_sink);
    spdlog::info("control on {}, telemetry on {}; streaming", cfg.control, cfg.telemetry);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int exit_code = 0;
    for (;;) {
        timespec tick{0, 100 * 1000 * 1000};
        const int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            spdlog::info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (jack.server_gone()) {
            spdlog::error("the JACK server shut down; exiting");
            exit_code = 1;
            break;
        }
    }
    jack.deactivate();
    spdlog::debug("JACK client deactivated");
    for (const auto& s : engine.streams()) {
        const auto rec = s->recorder().status();
        s->stop();  // finalises any recording
        if (rec.active) spdlog::info("recording {} finalised: {}", rec.path, s->recorder().status().last);
    }
    spdlog::debug("streams stopped");
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    // Signals are taken synchronously by the main thread (sigtimedwait); every thread started
    // from here on inherits the mask, so none of them is interrupted.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    CLI::App app{"wavecastd: composes and renders music with a neural network, forever, into JACK"};
    std::string config_path = default_config_path(), backend, control, telemetry, jack_name, log_level;
    app.add_option("--config", config_path, "daemon config (TOML)");
    app.add_option("--backend", backend, "auto, cpu or cuda (overrides the config)");
    app.add_option("--control", control, "control endpoint (ZeroMQ ROUTER), e.g. tcp://127.0.0.1:5557");
    app.add_option("--telemetry", telemetry, "telemetry endpoint (ZeroMQ PUB), e.g. tcp://127.0.0.1:5558");
    app.add_option("--jack-name", jack_name, "JACK client name");
    app.add_option("--log-level", log_level, "trace, debug, info, warn or error");

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
    render->add_option("--temperature", ro.temperature, "sampling temperature")->check(CLI::Range(0.0, 4.0));
    render->add_option("--intensity", ro.intensity, "0..1")->check(CLI::Range(0.0, 1.0));
    render->add_option("--tempo", ro.tempo, "bpm (default: the style's)")->check(CLI::Range(20.0, 300.0));
    render->add_option("--gain-db", ro.gain_db, "trim around the loudness target")->check(CLI::Range(-60.0, 12.0));
    render->add_option("--masking-db", ro.masking_db, "frequency masking strength (see `wavecastd mask`)")->check(CLI::Range(-100.0, 40.0));
    auto* mask = app.add_subcommand("mask", "run the frequency-masking stage on a file");
    std::string mask_in, mask_out;
    float strength = 0.0f;
    mask->add_option("IN", mask_in, "input audio file (mono or stereo, any rate)")->required();
    mask->add_option("OUT", mask_out, "output file (same format as the input)")->required();
    mask->add_option("--strength", strength,
                     "dB relative to the masking threshold: 0 removes what is inaudible, positive removes more "
                     "(audible lo-fi), <= -90 passes everything")
        ->check(CLI::Range(-100.0f, 40.0f));
    CLI11_PARSE(app, argc, argv);

    auto logger = spdlog::stderr_color_mt("wavecastd");
    spdlog::set_default_logger(logger);
    try {
        if (*mask) {
            mask_file(mask_in, mask_out, strength, backend.empty() ? "auto" : backend);
            return 0;
        }
        DaemonConfig cfg = load_config(config_path);
        if (!backend.empty()) cfg.backend = backend;
        if (!control.empty()) cfg.control = control;
        if (!telemetry.empty()) cfg.telemetry = telemetry;
        if (!jack_name.empty()) cfg.jack_name = jack_name;
        if (!log_level.empty()) cfg.log_level = log_level;
        spdlog::set_level(spdlog::level::from_str(cfg.log_level));
        if (*render) {
            render_file(cfg, ro);
            return 0;
        }
        const int rc = run_daemon(cfg);
        spdlog::debug("exiting with status {}", rc);
        return rc;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
