#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

#include "chain/generator_batch.h"
#include "kernels/backend.h"
#include "tempo/link_sync.h"
#include "util/realtime.h"
#include "util/toml_util.h"

namespace wavecast {
namespace {

using Styles = StyleShelf::Map;

// Every style the config names (its streams' and its schedule's) is one of `styles`.
void check_styles(const DaemonConfig& c, const Styles& styles) {
    for (const auto& sc : c.streams)
        if (!styles.count(sc.style)) throw ConfigError(c.path + ": stream '" + sc.name + "' names unknown style '" + sc.style + "'");
    for (const auto& e : c.schedule)
        for (const auto& name : e.styles)
            if (!styles.count(name))
                throw ConfigError(c.path + ":" + std::to_string(e.line) + ": [[schedule]] names unknown style '" + name + "'");
}

// Each stream's MIDI mapping (an empty one where it names none, for MIDI learn to fill); a bad
// file, or a program change to a style that is not there, stops the start naming the file.
std::map<std::string, MidiControl::StreamMap> load_midi_maps(const DaemonConfig& c, const Styles& styles) {
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

// The model the backend plays and the CPU fallback, both loaded now, so that a bad file is
// refused at the start rather than when needed.
std::pair<std::shared_ptr<const Model>, std::shared_ptr<const Model>> load_models(const DaemonConfig& cfg, const BackendPlan& plan) {
    const std::string model_path = cfg.model_for(plan.generator), fallback_path = cfg.fallback();
    auto model = std::make_shared<const Model>(load_model(model_path));
    spdlog::info("model {}{}: {} at {} Hz, {} weights", model_path, cfg.model.empty() ? " (the backend's default)" : "",
                 model->spec.shape_name(), model->spec.sample_rate, model->spec.random_weights ? "seeded random (untrained)" : "trained");
    auto fallback = fallback_path == model_path ? model : std::make_shared<const Model>(load_model(fallback_path));
    const ModelSpec &ps = model->spec, &fs = fallback->spec;
    if (fs.sample_rate != ps.sample_rate || fs.frame_hop != ps.frame_hop || fs.cond_features != ps.cond_features)
        throw ConfigError(cfg.path + ": fallback_model " + fallback_path + " runs at " + std::to_string(fs.sample_rate) +
                          " Hz with a frame hop of " + std::to_string(fs.frame_hop) + ", unlike the model's " +
                          std::to_string(ps.sample_rate) + " Hz and " + std::to_string(ps.frame_hop));
    return {model, fallback};
}

// Connections to the control socket each take a file descriptor: take all the hard limit allows
// (systemd's default soft limit of 1024 ran out under 1,100 idle connections).
void raise_file_limit() {
    if (rlimit nofile{}; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        const rlim_t was = nofile.rlim_cur;
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) spdlog::debug("file descriptors: {} allowed (was {})", nofile.rlim_cur, was);
    }
}

// Where the streams share a generator (generator_batch.h), each stream's member of it; else none.
// Streams that share render in step (each round waits for all), so all render as far ahead as
// the one that renders furthest: a stream at its look-ahead would otherwise hold the others back
// to its own, and before JACK starts pulling, keep them from filling at all.
// `lookahead_ms`: that furthest look-ahead.
std::vector<std::unique_ptr<Generator>> shared_generator(const DaemonConfig& cfg, const BackendPlan& plan,
                                                         std::shared_ptr<const Model> model, double& lookahead_ms) {
    if (!cfg.batched(plan.generator)) return {};
    std::vector<LaneKey> keys;
    std::vector<BatchMember> members;
    for (const auto& sc : cfg.streams) {
        const auto k = lane_keys(sc.seed, sc.lanes);
        keys.insert(keys.end(), k.begin(), k.end());
        members.push_back({sc.name, sc.lanes});
        lookahead_ms = std::max(lookahead_ms, sc.lookahead_ms);
    }
    auto choice = make_generator(plan.generator, std::move(model), std::move(keys), cfg.precision, cfg.cpu_threads);
    spdlog::info("{} streams share one generator of {} lanes: {}", members.size(), choice.generator->lanes(), choice.note);
    return share_generator(std::move(choice.generator), members);
}

}  // namespace

Daemon::Daemon(DaemonConfig config, const StageHooks& hooks)
    : config_(std::move(config)), styles_({}), scheduler_(config_.schedule), status_interval_s_(config_.status_interval_s) {
    spdlog::set_level(spdlog::level::from_str(config_.log_level));
    BackendPlan plan = plan_backends(config_.backend);
    spdlog::info("{}", plan.note);
    if (config_.masking_backend != "auto" && plan.masking != config_.masking_backend) {
        plan.masking = config_.masking_backend;
        spdlog::info("masking {} ([daemon] masking = \"{}\")", plan.masking == "off" ? "off" : "on the CPU", plan.masking);
    }
    std::tie(model_, fallback_) = load_models(config_, plan);
    Styles styles = load_styles(config_.styles_dir);
    spdlog::info("{} styles from {}", styles.size(), config_.styles_dir);
    check_styles(config_, styles);
    auto midi_maps = load_midi_maps(config_, styles);
    styles_.replace(std::move(styles));
    raise_file_limit();
    std::error_code made;
    std::filesystem::create_directories(config_.recordings_dir, made);
    if (made) spdlog::warn("recordings folder {}: {}; `record` is refused until it exists", config_.recordings_dir, made.message());
    if (!hooks.note.empty()) spdlog::warn("{}", hooks.note);

    jack_ = std::make_unique<JackSession>(
        JackSession::Settings{config_.jack_enabled, config_.jack_name, config_.jack_server, config_.autoconnect, config_.output_rate},
        midi_in_);
    auto transport = std::make_unique<TransportSync>([this] { return jack_->transport_bpm(); }, config_.follow_transport);
    transport_ = transport.get();
    tempo_.push_back(std::move(transport));
    if (config_.link) tempo_.push_back(std::make_unique<LinkSync>(config_.link_quantum));
    if (config_.midi_clock) {
        auto clock = std::make_unique<MidiClockSync>(config_.midi_clock_quantum);
        midi_clock_ = clock.get();
        tempo_.push_back(std::move(clock));
    }
    midi_ = std::make_unique<MidiControl>(midi_in_, std::move(midi_maps), [this](const ControlMidiEvent& e) {
        return midi_clock_ && midi_clock_->feed(e, streams_.front()->output_rate());
    });
    start_streams(hooks, plan);
    engine_ = std::make_unique<Engine>(streams_, styles_, *midi_, Engine::Settings{config_.recordings_dir, config_.jack_enabled},
                                       [this] { return to_json(status()); });
    if (!config_.schedule.empty()) spdlog::info("schedule: {} entries, by the local clock", config_.schedule.size());
    start_control();
    systemd_.ready();
    if (systemd_.watchdog()) spdlog::info("systemd watchdog: fed while the process cycles (JACK's or the internal clock's) advance");
}

Daemon::~Daemon() { shut_down(); }

void Daemon::start_streams(const StageHooks& hooks, const BackendPlan& plan) {
    const int rate = jack_->rate();
    const int priority = config_.realtime ? producer_priority(jack_->callback_priority()) : 0;
    if (config_.realtime && priority == 0)
        spdlog::warn("realtime = true, but no realtime JACK callback to run just below: the producers stay at normal priority");
    else if (priority > 0) spdlog::info("producers at realtime priority {}, below JACK's callback at {}", priority, priority + 1);
    double shared_lookahead_ms = 0;
    std::vector<std::unique_ptr<Generator>> shared = shared_generator(config_, plan, model_, shared_lookahead_ms);
    for (size_t i = 0; i < config_.streams.size(); ++i) {
        StreamConfig sc = config_.streams[i];
        if (!shared.empty() && sc.lookahead_ms != shared_lookahead_ms) {
            spdlog::info("stream '{}': look-ahead {} ms rather than {}, as far as the streams it shares a generator with", sc.name,
                         shared_lookahead_ms, sc.lookahead_ms);
            sc.lookahead_ms = shared_lookahead_ms;
        }
        std::unique_ptr<Generator> generator;
        if (shared.empty()) {
            BackendChoice choice =
                make_generator(plan.generator, model_, lane_keys(sc.seed, sc.lanes), config_.precision, config_.cpu_threads);
            spdlog::info("stream '{}': generator {}", sc.name, choice.note);
            generator = std::move(choice.generator);
        } else {
            generator = std::move(shared[i]);
        }
        backend_ = generator->backend();
        if (hooks.generator) generator = hooks.generator(std::move(generator));
        auto masking = make_masking(plan.masking, model_->spec.sample_rate, 2);
        if (hooks.masking) masking = hooks.masking(std::move(masking), model_->spec.sample_rate);
        auto stream = std::make_unique<Stream>(sc, std::move(generator), std::move(masking), styles_.find(sc.style), rate,
                                               config_.block_frames, config_.resampler == "fast");
        stream->set_fallback([fallback = fallback_, lanes = sc.lanes, seed = sc.seed, threads = config_.cpu_threads] {
            return make_cpu_generator(fallback, lanes, seed, threads);
        });
        stream->send_clock(config_.midi_clock_send);
        stream->start(priority);
        streams_.push_back(std::move(stream));
    }
    // Fill every ring to its look-ahead before JACK starts pulling, so the start is not an underrun.
    for (const auto& s : streams_)
        if (!s->wait_primed(30.0))
            spdlog::warn("stream '{}' did not fill its look-ahead within 30 s: the generator is slower than real time", s->name());
    std::vector<StreamOutput*> outputs;
    for (const auto& s : streams_) outputs.push_back(&s->output());
    jack_->start(std::move(outputs));
    jack_connected_ = jack_->status().connected;
}

void Daemon::start_control() {
    logs_ = std::make_shared<TelemetryLogSink>();
    spdlog::default_logger()->sinks().push_back(logs_);
    // The surfaces beside ZeroMQ's: a new one is one line here.
    std::vector<Surface*> surfaces{midi_.get()};
    if (!config_.osc.empty()) surfaces.push_back((osc_ = std::make_unique<OscServer>(config_.osc, config_.osc_allow)).get());
    control_ = std::make_unique<ControlServer>(*engine_, config_.control, config_.telemetry, config_.security, logs_, surfaces,
                                               ControlTasks{.each_turn = [this] { follow_tempo(); },
                                                            .notes = [this] { return sounded_notes(); },
                                                            .before_status = [this] { report_trouble(); },
                                                            .status_interval_s = [this] { return status_interval_s_.load(); }});
    spdlog::info("control on {}, telemetry on {}{}; streaming", config_.control, config_.telemetry,
                 config_.security.curve ? " (CURVE, " + std::to_string(config_.security.allowed_clients.size()) + " allowed clients)" : "");
}

void Daemon::step() {
    systemd_.tick(jack_->step());
    const bool connected = jack_->status().connected;
    if (connected != jack_connected_ && config_.jack_enabled) systemd_.status(connected ? "streaming" : "JACK server lost; reconnecting");
    jack_connected_ = connected;
    for (const auto& change : scheduler_.due(local_seconds(std::chrono::system_clock::now()))) apply_scheduled(change);
}

// A scheduled change goes through the control protocol's own request, checked as a client's is.
void Daemon::apply_scheduled(const Scheduler::Change& ch) {
    std::vector<std::string> names;
    if (ch.stream.empty())
        for (const auto& s : streams_) names.push_back(s->name());
    else names.push_back(ch.stream);
    for (const std::string& name : names) {
        protocol::StyleCmd c;
        c.stream = name;
        c.name = ch.style;
        c.crossfade_s = ch.crossfade_s;
        const nlohmann::json reply = engine_->handle(protocol::TypedRequest{nullptr, c}).reply;
        if (reply.value("ok", false))
            spdlog::info("schedule (line {}): stream '{}' changes to style '{}' at the next bar", ch.line, name, ch.style);
        else
            spdlog::error("schedule (line {}): stream '{}' stays as it is: {}", ch.line, name,
                          reply["error"].value("message", reply.dump()));
    }
}

void Daemon::reload(const DaemonConfig& next) {
    try {
        Styles styles = load_styles(next.styles_dir);
        check_styles(next, styles);
        auto midi_maps = load_midi_maps(next, styles);
        const size_t n = styles.size();
        // All checked: from here on nothing is refused.
        midi_->reload(std::move(midi_maps));
        styles_.replace(std::move(styles));
        transport_->set_enabled(next.follow_transport);
        status_interval_s_ = next.status_interval_s;
        spdlog::set_level(spdlog::level::from_str(next.log_level));
        // Network outputs change now, stream by stream, whatever else waits for a restart.
        for (const auto& sc : next.streams)
            for (const auto& s : streams_)
                if (s->name() == sc.name) s->set_network_outputs(sc.outputs);
        if (next.schedule != scheduler_.entries()) {
            scheduler_ = Scheduler(next.schedule);
            spdlog::info("SIGHUP: schedule of {} entries", next.schedule.size());
        }
        spdlog::info("SIGHUP: reloaded {}: {} styles from {}", next.path, n, next.styles_dir);
        for (const auto& what : restart_needed(config_, next))
            spdlog::warn("SIGHUP: {} changed; that takes effect at the next start", what);
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: reload refused, the running config and styles stay in force: {}", e.what());
    }
}

void Daemon::shut_down() {
    if (shut_) return;
    shut_ = true;
    systemd_.stopping();
    control_.reset();
    jack_->stop();
    spdlog::debug("JACK client closed");
    // All at once first: a stream's producer may be waiting for another's in a shared generator.
    for (const auto& s : streams_) s->request_stop();
    for (const auto& s : streams_) {
        const auto rec = s->recorder().status();
        s->stop();  // finalises any recording
        if (rec.active) spdlog::info("recording {} finalised: {}", rec.path, s->recorder().status().last);
    }
    spdlog::debug("streams stopped");
}

DaemonStatus Daemon::status() const {
    DaemonStatus s;
    const ModelSpec& spec = model_->spec;
    s.model = {model_->path, spec.shape_name(), !spec.random_weights};
    s.sample_rate = spec.sample_rate;
    s.output_rate = streams_.empty() ? 0 : streams_.front()->output_rate();
    s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    s.jack = jack_->status();
    for (const auto& source : tempo_) source->describe(s.tempo);
    for (const auto& stream : streams_) s.streams.push_back(stream->status());
    s.backend = s.streams.empty() ? backend_ : s.streams.front().block.backend;
    return s;
}

void Daemon::follow_tempo() {
    const double latency_s = jack_->output_latency_s();
    std::vector<BeatFollower*> followers;
    for (const auto& s : streams_) followers.push_back(s.get());
    for (const auto& source : tempo_) source->follow(followers, latency_s);
}

std::vector<nlohmann::json> Daemon::sounded_notes() {
    std::vector<nlohmann::json> out;
    std::vector<MidiSchedule::SoundedNote> notes;
    for (const auto& s : streams_) {
        notes.clear();
        s->take_sounded_notes(notes);
        if (!notes.empty()) out.push_back(notes_message(s->name(), notes));
    }
    return out;
}

void Daemon::report_trouble() {
    for (const auto& s : streams_) {
        const StreamStatus st = s->status();
        Seen& seen = seen_[st.name];
        if (st.underruns > seen.underruns)
            spdlog::warn(
                "stream '{}': {} underrun(s), {} frames played as silence, since the last report (total {}): the "
                "generator fell behind; rtf {:.2f}",
                st.name, st.underruns - seen.underruns, st.underrun_frames - seen.underrun_frames, st.underruns, st.rtf);
        if (st.recorder.dropped > seen.dropped)
            spdlog::warn("stream '{}': recording {} lost {} frames: the disk is too slow", st.name, st.recorder.path,
                         st.recorder.dropped - seen.dropped);
        if (!st.recorder.error.empty() && st.recorder.error != seen.recorder_error)
            spdlog::error("stream '{}': {}", st.name, st.recorder.error);
        seen = {st.underruns, st.underrun_frames, st.recorder.dropped, st.recorder.error};
    }
    const uint64_t xruns = jack_->status().xruns;
    if (xruns > seen_xruns_) spdlog::warn("JACK reported {} xrun(s) since the last report (total {})", xruns - seen_xruns_, xruns);
    seen_xruns_ = xruns;
}

}  // namespace wavecast
