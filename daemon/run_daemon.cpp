#include "run_daemon.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <thread>

#include "backend.h"
#include "control_server.h"
#include "midi_control.h"
#include "osc.h"
#include "engine.h"
#include "faults.h"
#include "generator_batch.h"
#include "internal_clock.h"
#include "jack_output.h"
#include "requests.h"
#include "schedule.h"
#include "systemd.h"
#include "toml_util.h"

namespace wavecast {
namespace {

constexpr int kShutdownDeadlineS = 5;
constexpr uint32_t kClockPeriod = 1024;  // frames a period of the internal clock, as the dummy jackd's

sigset_t daemon_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

// Every style the config names (its streams' and its schedule's) is one of `styles`.
void check_styles(const DaemonConfig& c, const std::map<std::string, std::shared_ptr<const Style>>& styles) {
    for (const auto& sc : c.streams)
        if (!styles.count(sc.style)) throw ConfigError(c.path + ": stream '" + sc.name + "' names unknown style '" + sc.style + "'");
    for (const auto& e : c.schedule)
        for (const auto& name : e.styles)
            if (!styles.count(name))
                throw ConfigError(c.path + ":" + std::to_string(e.line) + ": [[schedule]] names unknown style '" + name + "'");
}

// Each stream's MIDI mapping (an empty one where it names none, for MIDI learn to fill); a bad
// file, or a program change to a style that is not there, stops the start naming the file.
std::map<std::string, MidiControl::StreamMap> load_midi_maps(const DaemonConfig& c,
                                                             const std::map<std::string, std::shared_ptr<const Style>>& styles) {
    std::map<std::string, MidiControl::StreamMap> maps;
    for (const auto& sc : c.streams) {
        MidiControl::StreamMap& m = maps[sc.name];
        m.path = sc.midi_map;
        if (m.path.empty()) continue;
        m.map = MidiMap::load(m.path);
        m.loaded = m.map.to_json();
        for (const auto& b : m.map.programs)
            if (!styles.count(b.style))
                throw ConfigError(m.path + ": [[program]] " + std::to_string(b.program) + " names unknown style '" + b.style + "'");
        spdlog::info("stream '{}': MIDI mapping {} ({} CC, {} program, {} key, {} cue bindings)", sc.name, m.path, m.map.cc.size(),
                     m.map.programs.size(), m.map.keys.size(), m.map.cues.size());
    }
    return maps;
}

// A scheduled change goes through the control protocol's own request, checked as a client's is.
void apply_scheduled(Engine& engine, const Scheduler::Change& ch) {
    std::vector<std::string> names;
    if (ch.stream.empty())
        for (const auto& s : engine.streams()) names.push_back(s->name());
    else names.push_back(ch.stream);
    for (const std::string& name : names) {
        protocol::StyleCmd c;
        c.stream = name;
        c.name = ch.style;
        c.crossfade_s = ch.crossfade_s;
        const nlohmann::json reply = engine.handle(protocol::TypedRequest{nullptr, c}).reply;
        if (reply.value("ok", false))
            spdlog::info("schedule (line {}): stream '{}' changes to style '{}' at the next bar", ch.line, name, ch.style);
        else
            spdlog::error("schedule (line {}): stream '{}' stays as it is: {}", ch.line, name,
                          reply["error"].value("message", reply.dump()));
    }
}

// SIGHUP: the new config, styles and MIDI mappings in full, or nothing of them.
void reload(const std::string& path, const ConfigOverrides& overrides, Engine& engine, Scheduler& scheduler) {
    try {
        DaemonConfig next = load_config(path);
        overrides.apply(next);
        auto styles = load_styles(next.styles_dir);
        check_styles(next, styles);
        auto midi_maps = load_midi_maps(next, styles);
        const size_t n = styles.size();
        const auto at_restart = engine.reload(next, std::move(styles), std::move(midi_maps));
        if (next.schedule != scheduler.entries()) {
            scheduler = Scheduler(next.schedule);
            spdlog::info("SIGHUP: schedule of {} entries", next.schedule.size());
        }
        spdlog::info("SIGHUP: reloaded {}: {} styles from {}", path, n, next.styles_dir);
        for (const auto& what : at_restart) spdlog::warn("SIGHUP: {} changed; that takes effect at the next start", what);
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: reload refused, the running config and styles stay in force: {}", e.what());
    }
}

}  // namespace

void block_daemon_signals() {
    const sigset_t set = daemon_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_daemon(const std::string& config_path, const ConfigOverrides& overrides) {
    DaemonConfig cfg = load_config(config_path);
    overrides.apply(cfg);
    // The command line's endpoints meet the same check as the file's, before anything starts.
    for (const auto& [flag, e] : {std::pair{"--control", cfg.control}, std::pair{"--telemetry", cfg.telemetry}})
        if (const std::string why = endpoint_problem(e, cfg.security.curve); !why.empty())
            throw ConfigError(std::string(flag) + ": " + why);
    spdlog::set_level(spdlog::level::from_str(cfg.log_level));
    const BackendPlan plan = plan_backends(cfg.backend);
    spdlog::info("{}", plan.note);
    const std::string model_path = cfg.model_for(plan.generator), fallback_path = cfg.fallback();
    auto model = std::make_shared<const Model>(load_model(model_path));
    auto styles = load_styles(cfg.styles_dir);
    spdlog::info("model {}{}: {} at {} Hz, {} weights", model_path, cfg.model.empty() ? " (the backend's default)" : "",
                 model->spec.shape_name(), model->spec.sample_rate, model->spec.random_weights ? "seeded random (untrained)" : "trained");
    spdlog::info("{} styles from {}", styles.size(), cfg.styles_dir);
    // The fallback is loaded now, so that a bad file is refused at start rather than when needed.
    auto fallback_model = fallback_path == model_path ? model : std::make_shared<const Model>(load_model(fallback_path));
    const ModelSpec &ps = model->spec, &fs = fallback_model->spec;
    if (fs.sample_rate != ps.sample_rate || fs.frame_hop != ps.frame_hop || fs.cond_features != ps.cond_features)
        throw ConfigError(cfg.path + ": fallback_model " + fallback_path + " runs at " + std::to_string(fs.sample_rate) +
                          " Hz with a frame hop of " + std::to_string(fs.frame_hop) + ", unlike the model's " +
                          std::to_string(ps.sample_rate) + " Hz and " + std::to_string(ps.frame_hop));
    // Connections to the control socket each take a file descriptor: take all the hard limit
    // allows (systemd's default soft limit of 1024 ran out under 1,100 idle connections).
    if (rlimit nofile{}; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        const rlim_t was = nofile.rlim_cur;
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) spdlog::debug("file descriptors: {} allowed (was {})", nofile.rlim_cur, was);
    }
    std::error_code made;
    std::filesystem::create_directories(cfg.recordings_dir, made);
    if (made) spdlog::warn("recordings folder {}: {}; `record` is refused until it exists", cfg.recordings_dir, made.message());
    const Faults faults = Faults::from_env();
    if (faults.any()) spdlog::warn("test faults injected: {}", faults.describe());

    check_styles(cfg, styles);
    ControlMidiIn midi_in;
    auto midi_maps = load_midi_maps(cfg, styles);
    // JACK plays the streams where it is enabled and a server answers; else the internal clock
    // does, and a server that appears later is joined as one that came back would be.
    std::unique_ptr<JackOutput> jack;
    if (!cfg.jack_enabled) {
        spdlog::info("JACK disabled ([jack] enabled = false): the streams play by the internal clock at {} Hz", cfg.output_rate);
    } else {
        try {
            jack = std::make_unique<JackOutput>(cfg.jack_name, cfg.jack_server);
            spdlog::info("JACK client '{}' at {} Hz, period {} frames", cfg.jack_name, jack->sample_rate(), jack->buffer_size());
        } catch (const JackServerMissing& e) {
            spdlog::warn("no JACK server answers ({}); the streams play by the internal clock at {} Hz until one does", e.what(),
                         cfg.output_rate);
        }
    }
    const int rate = jack ? jack->sample_rate() : cfg.output_rate;

    std::vector<std::unique_ptr<Generator>> shared;  // each stream's member of one generator, where batched
    // Streams that share a generator render in step (each round waits for all), so all render as
    // far ahead as the one that renders furthest: a stream at its look-ahead would otherwise hold
    // the others back to its own, and before JACK starts pulling, keep them from filling at all.
    double shared_lookahead_ms = 0;
    if (cfg.batched(plan.generator)) {
        std::vector<LaneKey> keys;
        std::vector<BatchMember> members;
        for (const auto& sc : cfg.streams) {
            const auto k = lane_keys(sc.seed, sc.lanes);
            keys.insert(keys.end(), k.begin(), k.end());
            members.push_back({sc.name, sc.lanes});
            shared_lookahead_ms = std::max(shared_lookahead_ms, sc.lookahead_ms);
        }
        auto choice = make_generator(plan.generator, model, std::move(keys), cfg.precision, cfg.cpu_threads);
        spdlog::info("{} streams share one generator of {} lanes: {}", members.size(), choice.generator->lanes(), choice.note);
        shared = share_generator(std::move(choice.generator), members);
    }
    std::string backend;
    std::vector<std::unique_ptr<Stream>> streams;
    for (size_t i = 0; i < cfg.streams.size(); ++i) {
        StreamConfig sc = cfg.streams[i];
        if (!shared.empty() && sc.lookahead_ms != shared_lookahead_ms) {
            spdlog::info("stream '{}': look-ahead {} ms rather than {}, as far as the streams it shares a generator with", sc.name,
                         shared_lookahead_ms, sc.lookahead_ms);
            sc.lookahead_ms = shared_lookahead_ms;
        }
        auto it = styles.find(sc.style);
        BackendChoice choice;
        if (shared.empty()) {
            choice = make_generator(plan.generator, model, lane_keys(sc.seed, sc.lanes), cfg.precision, cfg.cpu_threads);
            spdlog::info("stream '{}': generator {}", sc.name, choice.note);
        } else {
            choice.generator = std::move(shared[i]);
        }
        backend = choice.generator->backend();
        if (faults.onset_clicks) choice.generator = onset_click_generator(std::move(choice.generator));
        if (faults.generator_fails_after_s >= 0)
            choice.generator = failing_generator(std::move(choice.generator), faults.generator_fails_after_s);
        auto masking = make_masking(plan.masking, model->spec.sample_rate, 2);
        if (faults.masking_fails_after_s >= 0)
            masking = failing_masking(std::move(masking), model->spec.sample_rate, faults.masking_fails_after_s);
        streams.push_back(std::make_unique<Stream>(sc, std::move(choice.generator), std::move(masking), it->second, rate));
        streams.back()->set_fallback([fallback_model, lanes = sc.lanes, seed = sc.seed, threads = cfg.cpu_threads] {
            return make_cpu_generator(fallback_model, lanes, seed, threads);
        });
        if (faults.slow_producer > 0) streams.back()->slow_down(faults.slow_producer);
        streams.back()->send_clock(cfg.midi_clock_send);
    }
    Engine engine(cfg, model, styles, backend);
    MidiControl midi(midi_in, std::move(midi_maps), [&engine](const ControlMidiEvent& e) { return engine.feed_midi_clock(e); });
    engine.set_midi(&midi);
    if (jack) jack->add_control_input(&midi_in);
    for (auto& s : streams) {
        if (jack) jack->add_stream(&s->output());
        s->start();
    }
    for (auto& s : streams) engine.add_stream(std::move(s));
    // Fill every ring to its look-ahead before JACK starts pulling, so the start is not an underrun.
    for (const auto& s : engine.streams())
        if (!s->wait_primed(30.0))
            spdlog::warn("stream '{}' did not fill its look-ahead within 30 s: the generator is slower than real time", s->name());
    uint64_t cycles_before = 0;  // run by JACK clients since replaced and by the internal clock
    std::unique_ptr<InternalClock> clock;
    auto start_clock = [&] {
        std::vector<StreamOutput*> outs;
        for (const auto& s : engine.streams()) outs.push_back(&s->output());
        clock = std::make_unique<InternalClock>(std::move(outs), engine.streams().front()->output_rate(), kClockPeriod);
        engine.set_internal_clock(true);
    };
    auto stop_clock = [&] {
        if (clock) cycles_before += clock->cycles();
        clock.reset();
        engine.set_internal_clock(false);
    };
    if (jack) {
        jack->activate(cfg.autoconnect);
        engine.set_jack(jack.get(), cfg.jack_name);
    } else {
        start_clock();
    }
    Scheduler scheduler(cfg.schedule);
    if (!cfg.schedule.empty()) spdlog::info("schedule: {} entries, by the local clock", cfg.schedule.size());

    auto log_sink = std::make_shared<TelemetryLogSink>();
    spdlog::default_logger()->sinks().push_back(log_sink);
    // The surfaces beside ZeroMQ's: a new one is one line here.
    std::vector<Surface*> surfaces{&midi};
    std::unique_ptr<OscServer> osc = cfg.osc.empty() ? nullptr : std::make_unique<OscServer>(cfg.osc, cfg.osc_allow);
    if (osc) surfaces.push_back(osc.get());
    ControlServer control(engine, cfg.control, cfg.telemetry, cfg.security, log_sink, surfaces,
                          {.each_turn = [&] { engine.follow_tempo(); },
                           .notes = [&] { return engine.sounded_notes(); },
                           .before_status = [&] { engine.report_trouble(); },
                           .status_interval_s = [&] { return engine.status_interval_s(); }});
    spdlog::info("control on {}, telemetry on {}{}; streaming", cfg.control, cfg.telemetry,
                 cfg.security.curve ? " (CURVE, " + std::to_string(cfg.security.allowed_clients.size()) + " allowed clients)" : "");
    Systemd systemd;
    systemd.ready();
    if (systemd.watchdog()) spdlog::info("systemd watchdog: fed while the process cycles (JACK's or the internal clock's) advance");

    // Kept while the server is up, restored after it comes back.
    JackOutput::Connections connections;
    auto next_try = std::chrono::steady_clock::now();
    double backoff_s = 0.1;
    const sigset_t set = daemon_signals();
    for (;;) {
        timespec tick{0, 50 * 1000 * 1000};
        const int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            spdlog::info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            systemd.stopping();
            // Shutdown is bounded: should anything hang (a file system that stopped answering),
            // the process still ends, saying so, rather than leave a service that will not stop.
            std::thread([] {
                std::this_thread::sleep_for(std::chrono::seconds(kShutdownDeadlineS));
                static const char msg[] = "wavecastd: shutdown did not finish in time; exiting anyway\n";
                (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
                std::_Exit(3);
            }).detach();
            break;
        }
        if (sig == SIGHUP) reload(config_path, overrides, engine, scheduler);
        for (const auto& change : scheduler.due(local_seconds(std::chrono::system_clock::now()))) apply_scheduled(engine, change);
        const auto now = std::chrono::steady_clock::now();
        if (clock) systemd.tick(cycles_before + clock->cycles());
        if (!cfg.jack_enabled) continue;
        if (jack && !jack->server_gone()) {
            connections = jack->connections();
            systemd.tick(cycles_before + jack->cycles());
            continue;
        }
        if (jack) {
            // The streams keep their state and their full rings; only the client is replaced.
            spdlog::error("the JACK server went away; reconnecting as '{}' with backoff, the streams on the internal clock meanwhile",
                          cfg.jack_name);
            systemd.status("JACK server lost; reconnecting");
            engine.set_jack(nullptr, cfg.jack_name);
            cycles_before += jack->cycles();
            jack.reset();
            start_clock();
            backoff_s = 0.1;
            next_try = now;
        }
        if (now < next_try) continue;
        try {
            auto joined = std::make_unique<JackOutput>(cfg.jack_name, cfg.jack_server);  // throws while no server answers
            // One clock at a time: the internal one stops before JACK's callbacks begin.
            stop_clock();
            for (const auto& s : engine.streams()) {
                if (const std::string note = s->output().reopened_at(joined->sample_rate()); !note.empty())
                    spdlog::warn("stream '{}': {}", s->name(), note);
                joined->add_stream(&s->output());
            }
            joined->add_control_input(&midi_in);
            const bool first = connections.empty();
            joined->activate(first && cfg.autoconnect);
            if (!first) joined->restore(connections);
            jack = std::move(joined);
            engine.set_jack(jack.get(), cfg.jack_name);
            systemd.status("streaming");
            spdlog::info("JACK server {}: client '{}' at {} Hz, period {} frames", first ? "joined" : "back", cfg.jack_name,
                         jack->sample_rate(), jack->buffer_size());
        } catch (const std::exception& e) {
            jack.reset();
            if (!clock) start_clock();
            // A server that answers but refuses us is worth a line each try; one still away is not.
            if (dynamic_cast<const JackServerMissing*>(&e))
                spdlog::debug("JACK reconnection failed: {}; next try in {:.1f} s", e.what(), backoff_s);
            else spdlog::warn("JACK reconnection refused: {}; next try in {:.1f} s", e.what(), backoff_s);
            next_try = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(backoff_s));
            backoff_s = std::min(backoff_s * 2, 2.0);
        }
    }
    engine.set_jack(nullptr, cfg.jack_name);
    if (jack) jack->deactivate();
    jack.reset();
    stop_clock();
    spdlog::debug("JACK client closed");
    // All at once first: a stream's producer may be waiting for another's in a shared generator.
    for (const auto& s : engine.streams()) s->request_stop();
    for (const auto& s : engine.streams()) {
        const auto rec = s->recorder().status();
        s->stop();  // finalises any recording
        if (rec.active) spdlog::info("recording {} finalised: {}", rec.path, s->recorder().status().last);
    }
    spdlog::debug("streams stopped");
    return 0;
}

}  // namespace wavecast
