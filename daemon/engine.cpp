#include "engine.h"

#include <spdlog/spdlog.h>
#include <cmath>
#include <filesystem>

#include "files.h"
#include "jack_output.h"
#include "link_sync.h"
#include "protocol.h"
#include "requests.h"

namespace wavecast {

using json = nlohmann::json;
namespace p = protocol;

Engine::Engine(DaemonConfig config, std::shared_ptr<const Model> model, std::map<std::string, std::shared_ptr<const Style>> styles,
               std::string backend)
    : config_(std::move(config)),
      status_interval_s_(config_.status_interval_s),
      model_(std::move(model)),
      styles_(std::move(styles)),
      backend_(std::move(backend)) {
    auto transport = std::make_unique<TransportSync>([this] { return jack_bpm(); }, config_.follow_transport);
    transport_ = transport.get();
    tempo_.push_back(std::move(transport));
    if (config_.link) tempo_.push_back(std::make_unique<LinkSync>(config_.link_quantum));
    if (config_.midi_clock) {
        auto clock = std::make_unique<MidiClockSync>(config_.midi_clock_quantum);
        midi_clock_ = clock.get();
        tempo_.push_back(std::move(clock));
    }
}

std::vector<std::string> Engine::reload(const DaemonConfig& next, std::map<std::string, std::shared_ptr<const Style>> styles,
                                        std::map<std::string, MidiControl::StreamMap> midi_maps) {
    if (midi_) midi_->reload(std::move(midi_maps));
    {
        std::lock_guard lock(styles_mu_);
        styles_ = std::move(styles);
    }
    transport_->set_enabled(next.follow_transport);
    status_interval_s_ = next.status_interval_s;
    spdlog::set_level(spdlog::level::from_str(next.log_level));
    std::vector<std::string> at_restart;
    const DaemonConfig& c = config_;
    if (next.backend != c.backend) at_restart.push_back("backend");
    if (next.precision != c.precision) at_restart.push_back("precision");
    if (next.cpu_threads != c.cpu_threads) at_restart.push_back("cpu_threads");
    if (next.batch_streams != c.batch_streams) at_restart.push_back("batch_streams");
    if (next.model != c.model || next.models_dir != c.models_dir) at_restart.push_back("model");
    if (next.fallback_model != c.fallback_model) at_restart.push_back("fallback_model");
    if (next.control != c.control) at_restart.push_back("control");
    if (next.telemetry != c.telemetry) at_restart.push_back("telemetry");
    if (next.osc != c.osc || next.osc_allow != c.osc_allow) at_restart.push_back("osc");
    if (next.jack_name != c.jack_name) at_restart.push_back("jack client_name");
    if (next.jack_server != c.jack_server) at_restart.push_back("jack server");
    if (next.autoconnect != c.autoconnect) at_restart.push_back("jack autoconnect");
    if (next.jack_enabled != c.jack_enabled) at_restart.push_back("jack enabled");
    if (next.output_rate != c.output_rate) at_restart.push_back("output_rate");
    if (next.link != c.link || next.link_quantum != c.link_quantum) at_restart.push_back("[link]");
    if (next.midi_clock != c.midi_clock || next.midi_clock_quantum != c.midi_clock_quantum || next.midi_clock_send != c.midi_clock_send)
        at_restart.push_back("[midi_clock]");
    bool streams_same = next.streams.size() == c.streams.size();
    for (size_t i = 0; streams_same && i < c.streams.size(); ++i) {
        const StreamConfig &a = next.streams[i], &b = c.streams[i];
        streams_same = a.name == b.name && a.style == b.style && a.seed == b.seed && a.lanes == b.lanes &&
                       a.lookahead_ms == b.lookahead_ms && a.loudness_lufs == b.loudness_lufs && a.true_peak_dbtp == b.true_peak_dbtp &&
                       a.params == b.params;
    }
    if (!streams_same) at_restart.push_back("[[stream]] (steer a running stream with `wavecast set` and `wavecast style`)");
    // Network outputs change now, stream by stream, whatever else waits for a restart.
    for (const auto& sc : next.streams)
        for (const auto& s : streams_)
            if (s->name() == sc.name) s->set_network_outputs(sc.outputs);
    return at_restart;
}

namespace {
template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// The reply `body` gives, or the error reply its exception stands for: domain errors mapped to
// the protocol's codes here, at the edge.
// `id` is read only once the body has run (or failed): parsing fills it in.
template <class Body>
json reply_or_error(const json& id, Body&& body) {
    try {
        return body();
    } catch (const p::Error& e) {
        return p::error_reply(id, e.code, e.what());
    } catch (const RecorderError& e) {
        using K = RecorderError::Kind;
        return p::error_reply(id,
                              e.kind == K::io     ? p::code::io_error
                              : e.kind == K::busy ? p::code::conflict
                                                  : p::code::out_of_range,
                              e.what());
    } catch (const std::exception& e) {
        return p::error_reply(id, p::code::internal, e.what());
    }
}
}  // namespace

ControlHandler::Handled Engine::handle(const p::TypedRequest& r) {
    const json& id = r.id;
    Handled h;
    h.reply = reply_or_error(id, [&]() -> json {
        // The rest of a request that touches files: run off the control thread, its reply after.
        auto defer = [&](std::function<json()> fields) {
            h.work = [id, fields = std::move(fields)] { return reply_or_error(id, [&] { return p::ok_reply(id, fields()); }); };
            return json(nullptr);
        };
        return std::visit(
            Overloaded{[&](const p::Ping&) {
                           return p::ok_reply(id, {{"pong", true}});
                       },
                       [&](const p::Status&) { return p::ok_reply(id, status()); },
                       [&](const p::Styles&) {
                           return p::ok_reply(id, {{"styles", style_list()}});
                       },
                       [&](const p::StyleCmd& c) { return p::ok_reply(id, apply(c)); },
                       [&](const p::Set& c) { return p::ok_reply(id, apply(c)); }, [&](const p::Record& c) { return defer(record(c)); },
                       [&](const p::StopRecord& c) { return defer(stop_record(c)); }, [&](const p::Score& c) { return defer(score(c)); },
                       [&](const p::Learn& c) {
                           // Without JACK there is no control_midi_in: no knob could ever answer.
                           if (!config_.jack_enabled && !c.cancel)
                               throw p::Error(p::code::unsupported, "learn needs MIDI input, and JACK is off ([jack] enabled = false or --no-jack)");
                           return p::ok_reply(id, midi().learn(c, find_stream(c.stream).name()));
                       },
                       [&](const p::Mappings& c) {
                           const std::string stream = find_stream(c.stream).name();
                           if (c.save) return defer(midi().save(stream));
                           return p::ok_reply(id, midi().mappings(stream));
                       },
                       [&](const p::Cue& c) {
                           Stream& s = find_stream(c.stream);
                           s.cue(c.what == p::CueKind::fill ? Composer::Cue::fill : Composer::Cue::next_section);
                           return p::ok_reply(id, {{"stream", s.name()}, {"cue", p::name(c.what)}});
                       }},
            r.command);
    });
    return h;
}

MidiControl& Engine::midi() {
    if (!midi_) throw p::Error(p::code::unsupported, "this daemon has no MIDI control input");
    return *midi_;
}

bool Engine::feed_midi_clock(const ControlMidiEvent& e) {
    return midi_clock_ && midi_clock_->feed(e, streams_.empty() ? 0 : streams_.front()->output_rate());
}

json Engine::style_list() const {
    json list = json::array();
    std::lock_guard lock(styles_mu_);
    for (const auto& [name, s] : styles_) list.push_back({{"name", name}, {"description", s->description}, {"tempo", s->tempo}});
    return list;
}

Stream& Engine::find_stream(const std::optional<std::string>& name) {
    if (!name) return *streams_.front();
    for (auto& s : streams_)
        if (s->name() == *name) return *s;
    throw p::Error(p::code::unknown_stream, "stream: no stream named '" + *name + "'");
}

json Engine::apply(const p::Set& c) {
    Stream& s = find_stream(c.stream);
    // Every value was checked in parsing, so a bad request changed nothing.
    json applied = json::object();
    for (const auto& [name, v] : c.params) {
        s.set_param(param_of(*find_param(name)), v);
        applied[name] = v;
    }
    return {{"stream", s.name()}, {"params", applied}};
}

json Engine::apply(const p::StyleCmd& c) {
    Stream& s = find_stream(c.stream);
    std::lock_guard lock(styles_mu_);
    auto find = [&](const std::string& field, const std::string& n) {
        auto it = styles_.find(n);
        if (it == styles_.end()) throw p::Error(p::code::unknown_style, field + ": no style named '" + n + "' (see `wavecast styles`)");
        return it->second;
    };
    StyleChange change;
    change.style = find("name", c.name);
    change.now = c.now;
    change.crossfade_s = c.crossfade_s;
    json blend = json::object();
    for (const auto& [n, w] : c.blend) {
        change.blend.emplace_back(find("blend." + n, n), w);
        blend[n] = w;
    }
    s.set_style(change);
    json reply = {{"stream", s.name()}, {"style", c.name}, {"at", change.now ? "next beat" : "next bar"}, {"tempo", change.tempo()}};
    if (change.crossfade_s > 0) reply["crossfade"] = change.crossfade_s;
    if (!blend.empty()) reply["blend"] = blend;
    return reply;
}

std::function<json()> Engine::score(const p::Score& c) {
    Stream& s = find_stream(c.stream);
    return [&s, path = c.path] {
        MidiScore score;
        try {
            score = read_midi_file(path);
        } catch (const std::exception& e) {
            throw p::Error(p::code::io_error, std::string("path: ") + e.what());
        }
        const size_t notes = score.notes.size();
        s.set_score(std::move(score));
        return json{{"stream", s.name()}, {"path", path}, {"notes", notes}, {"tempo", s.tempo()}, {"at", "next bar"}};
    };
}

std::function<json()> Engine::stop_record(const p::StopRecord& c) {
    Stream& s = find_stream(c.stream);
    return [&s] {
        const RecorderStatus st = s.recorder().status();
        if (!st.active)
            throw p::Error(p::code::conflict,
                           "stream '" + s.name() + "' is not recording" + (st.error.empty() ? "" : " (" + st.error + ")"));
        const uint64_t frames = s.recorder().stop();
        return json{
            {"stream", s.name()}, {"path", st.path}, {"frames", frames}, {"seconds", static_cast<double>(frames) / s.output_rate()}};
    };
}

std::function<json()> Engine::record(const p::Record& c) {
    Stream& s = find_stream(c.stream);
    return [&s, c, folder = config_.recordings_dir] {
        auto place = [&](const char* field, const std::string& asked) {
            try {
                return path_in_folder(folder, asked);
            } catch (const std::exception& e) {
                throw p::Error(p::code::io_error, std::string(field) + ": " + e.what());
            }
        };
        RecordRequest r;
        r.path = place("path", c.path);
        if (!c.midi.empty()) r.midi_path = place("midi", c.midi);
        r.seconds = c.seconds, r.bits = c.bits, r.overwrite = c.overwrite;
        r.rate = s.output_rate();
        r.programs = s.programs();
        r.tempo_bpm = s.tempo();
        s.recorder().start(r);
        json reply = {{"stream", s.name()}, {"path", r.path}, {"seconds", r.seconds}, {"sample_rate", r.rate}};
        if (!r.midi_path.empty()) reply["midi"] = r.midi_path;
        return reply;
    };
}

namespace {
// JSON has no infinity: a meter that has seen only silence reads null.
json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
}  // namespace

void Engine::set_jack(const JackOutput* jack, std::string client_name) {
    std::lock_guard lock(jack_mu_);
    if (jack_) xruns_before_ += jack_->xruns();
    jack_ = jack;
    jack_name_ = std::move(client_name);
}

uint64_t Engine::xruns() const { return xruns_before_ + (jack_ ? jack_->xruns() : 0); }

json stream_json(const StreamStatus& st, uint64_t xruns) {
    const BlockReport& b = st.block;
    json params = json::object();
    for (size_t i = 0; i < kParamCount; ++i) params[kParams[i].name] = st.params.v[i];
    json outputs = json::array();
    for (const IcecastStatus& o : st.outputs)
        outputs.push_back({{"type", "icecast"},
                           {"url", o.url},
                           {"format", o.format},
                           {"connected", o.connected},
                           {"title", o.title},
                           {"bytes_sent", o.bytes_sent},
                           {"connects", o.connects},
                           {"reconnects", o.connects > 0 ? o.connects - 1 : 0},
                           {"dropped_frames", o.dropped_frames},
                           {"offline_frames", o.offline_frames},
                           {"last_error", o.last_error},
                           {"previous_error", o.previous_error},
                           {"title_error", o.title_error}});
    return {{"name", st.name},
            {"style", st.style},
            {"params", params},
            {"loudness",
             {{"momentary_lufs", finite_or_null(b.loudness.momentary_lufs)},
              {"short_term_lufs", finite_or_null(b.loudness.short_term_lufs)},
              {"true_peak_dbtp", finite_or_null(b.loudness.true_peak_dbtp)},
              {"gain_db", b.loudness.gain_db},
              {"limiting_db", b.loudness.limiting_db}}},
            {"masking",
             {{"frames", b.masking.frames},
              {"discarded_share", b.masking.discarded_share},
              {"perceptual_entropy", b.masking.perceptual_entropy},
              {"backend", b.masking_backend},
              {"failures", b.masking_failures.count},
              {"last_failure", b.masking_failures.last}}},
            {"samples_generated", b.position},
            {"underruns", st.underruns},
            {"underrun_frames", st.underrun_frames},
            {"longest_gap_ms", st.longest_gap_ms},
            {"xruns", xruns},
            {"rtf", st.rtf},
            {"ring_ms", st.ring_ms},
            {"lookahead_ms", st.lookahead_ms},
            {"lanes", st.lanes},
            {"backend", b.backend},
            {"generator_failures", b.generator_failures.count},
            {"last_failure", b.generator_failures.last},
            {"beat", b.beat},
            {"bar", b.bar},
            {"section", b.section},
            {"recording",
             {{"active", st.recorder.active},
              {"path", st.recorder.path},
              {"frames", st.recorder.frames},
              {"dropped", st.recorder.dropped},
              {"last", st.recorder.last},
              {"error", st.recorder.error}}},
            {"outputs", outputs}};
}

json Engine::status() const {
    const auto& spec = model_->spec;
    json streams = json::array();
    std::unique_lock jack_lock(jack_mu_);
    const uint64_t xruns = this->xruns();
    const json jack = {{"enabled", config_.jack_enabled},
                       {"client", jack_name_},
                       {"connected", jack_ != nullptr},
                       {"buffer_size", jack_ ? jack_->buffer_size() : 0},
                       {"realtime", jack_ ? jack_->realtime() : false},
                       {"xruns", xruns}};
    jack_lock.unlock();
    for (const auto& s : streams_) {
        const StreamStatus st = s->status();
        streams.push_back(stream_json(st, xruns));
    }
    TempoStatus tempo;
    for (const auto& source : tempo_) source->describe(tempo);
    // The first stream's generator: it changes should the stream fall back to the CPU.
    const std::string backend = streams.empty() ? backend_ : streams[0]["backend"].get<std::string>();
    return {{"backend", backend},
            {"model", {{"path", model_->path}, {"shape", spec.shape_name()}, {"weights", spec.random_weights ? "random" : "trained"}}},
            {"sample_rate", spec.sample_rate},
            {"output_rate", streams_.empty() ? 0 : streams_.front()->output_rate()},
            {"uptime_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
            {"jack", jack},
            {"clock", internal_clock_.load() ? "internal" : "jack"},
            {"link", tempo.link ? json{{"enabled", true},
                                       {"peers", tempo.link->peers},
                                       {"tempo", tempo.link->tempo},
                                       {"phase_error_beats", tempo.link->phase_error_beats},
                                       {"nudge", tempo.link->nudge}}
                                : json{{"enabled", false}}},
            {"midi_clock", tempo.midi_clock ? json{{"enabled", true},
                                                   {"state", tempo.midi_clock->state},
                                                   {"tempo", tempo.midi_clock->tempo},
                                                   {"beat", tempo.midi_clock->beat},
                                                   {"phase_error_beats", tempo.midi_clock->phase_error_beats},
                                                   {"nudge", tempo.midi_clock->nudge},
                                                   {"ticks", tempo.midi_clock->ticks},
                                                   {"starts", tempo.midi_clock->starts},
                                                   {"continues", tempo.midi_clock->continues},
                                                   {"stops", tempo.midi_clock->stops}}
                                            : json{{"enabled", false}}},
            {"streams", streams}};
}

}  // namespace wavecast

namespace wavecast {

json notes_message(const std::string& stream, const std::vector<MidiSchedule::SoundedNote>& notes) {
    json events = json::array();
    for (const auto& n : notes)
        events.push_back(
            {{"track", n.track}, {"lane", n.lane}, {"on", n.on}, {"pitch", n.pitch}, {"velocity", n.velocity}, {"beat", n.beat}});
    return {{"stream", stream}, {"events", std::move(events)}};
}

std::vector<json> Engine::sounded_notes() {
    std::vector<json> out;
    std::vector<MidiSchedule::SoundedNote> notes;
    for (const auto& s : streams_) {
        notes.clear();
        s->take_sounded_notes(notes);
        if (!notes.empty()) out.push_back(notes_message(s->name(), notes));
    }
    return out;
}

void Engine::follow_tempo() {
    double latency_s = 0;
    {
        std::lock_guard lock(jack_mu_);
        if (jack_) latency_s = jack_->output_latency_s();
    }
    std::vector<BeatFollower*> followers;
    for (const auto& s : streams_) followers.push_back(s.get());
    for (const auto& source : tempo_) source->follow(followers, latency_s);
}

double Engine::jack_bpm() const {
    std::lock_guard lock(jack_mu_);
    return jack_ ? jack_->transport_bpm() : 0.0;
}

void Engine::report_trouble() {
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
    uint64_t xruns = 0;
    {
        std::lock_guard lock(jack_mu_);
        xruns = this->xruns();
    }
    if (xruns > seen_xruns_) spdlog::warn("JACK reported {} xrun(s) since the last report (total {})", xruns - seen_xruns_, xruns);
    seen_xruns_ = xruns;
}

}  // namespace wavecast
