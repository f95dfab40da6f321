#include "daemon/status.h"

#include <cmath>

namespace wavecast {

using json = nlohmann::json;

namespace {
// JSON has no infinity: a meter that has seen only silence reads null.
json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
}  // namespace

json to_json(const JackView& s) {
    return {{"enabled", s.enabled},   {"client", s.client}, {"connected", s.connected},          {"buffer_size", s.buffer_size},
            {"realtime", s.realtime}, {"xruns", s.xruns},   {"internal_clock", s.internal_clock}};
}

json to_json(const LinkView& s) {
    return {{"peers", s.peers}, {"tempo", s.tempo}, {"phase_error_beats", s.phase_error_beats}, {"nudge", s.nudge}};
}

json to_json(const MidiClockView& s) {
    return {{"state", s.state},        {"tempo", s.tempo}, {"beat", s.beat},     {"phase_error_beats", s.phase_error_beats},
            {"nudge", s.nudge},        {"ticks", s.ticks}, {"starts", s.starts}, {"stops", s.stops},
            {"continues", s.continues}};
}

json to_json(const IcecastStatus& o) {
    return {{"type", "icecast"},
            {"url", o.url},
            {"format", o.format},
            {"title", o.title},
            {"last_error", o.last_error},
            {"previous_error", o.previous_error},
            {"title_error", o.title_error},
            {"connected", o.connected},
            {"bytes_sent", o.bytes_sent},
            {"connects", o.connects},
            {"reconnects", o.connects > 0 ? o.connects - 1 : 0},
            {"dropped_frames", o.dropped_frames},
            {"offline_frames", o.offline_frames}};
}

json to_json(const RecorderStatus& r) {
    return {{"active", r.active}, {"path", r.path}, {"frames", r.frames}, {"dropped", r.dropped}, {"last", r.last}, {"error", r.error}};
}

json to_json(const LoudnessStats& l) {
    return {{"momentary_lufs", finite_or_null(l.momentary_lufs)},
            {"short_term_lufs", finite_or_null(l.short_term_lufs)},
            {"true_peak_dbtp", finite_or_null(l.true_peak_dbtp)},
            {"gain_db", l.gain_db},
            {"limiting_db", l.limiting_db}};
}

json to_json(const LatencyView& l) {
    return {{"block_ms", l.block_ms},     {"render_ms", l.render_ms},        {"lookahead_ms", l.lookahead_ms},
            {"masking_ms", l.masking_ms}, {"limiter_ms", l.limiter_ms},      {"resampler_ms", l.resampler_ms},
            {"total_ms", l.total_ms},     {"gain_total_ms", l.gain_total_ms}};
}

json stream_json(const StreamStatus& st, uint64_t xruns) {
    const BlockReport& b = st.block;
    json params = json::object();
    for (size_t i = 0; i < kParamCount; ++i) params[kParams[i].name] = st.params.v[i];
    json outputs = json::array();
    for (const IcecastStatus& o : st.outputs) outputs.push_back(to_json(o));
    return {{"name", st.name},
            {"style", st.style},
            {"params", params},
            {"loudness", to_json(b.loudness)},
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
            {"producer_priority", st.producer_priority},
            {"backend", b.backend},
            {"generator_failures", b.generator_failures.count},
            {"last_failure", b.generator_failures.last},
            {"beat", b.beat},
            {"bar", b.bar},
            {"section", b.section},
            {"recording", to_json(st.recorder)},
            {"latency", to_json(st.latency)},
            {"outputs", outputs}};
}

json to_json(const DaemonStatus& s) {
    json streams = json::array();
    for (const auto& st : s.streams) streams.push_back(stream_json(st, s.jack.xruns));
    // An enabled source shows {"enabled": true, ...its view}; one that is off, {"enabled": false}.
    auto source = [](const auto& view) {
        json j = {{"enabled", view.has_value()}};
        if (view) j.update(to_json(*view));
        return j;
    };
    return {{"backend", s.backend},
            {"model", {{"path", s.model.path}, {"shape", s.model.shape}, {"weights", s.model.trained ? "trained" : "random"}}},
            {"sample_rate", s.sample_rate},
            {"output_rate", s.output_rate},
            {"uptime_s", s.uptime_s},
            {"jack", to_json(s.jack)},
            {"clock", s.jack.internal_clock ? "internal" : "jack"},
            {"link", source(s.tempo.link)},
            {"midi_clock", source(s.tempo.midi_clock)},
            {"streams", streams}};
}

json notes_message(const std::string& stream, const std::vector<MidiSchedule::SoundedNote>& notes) {
    json events = json::array();
    for (const auto& n : notes)
        events.push_back(
            {{"track", n.track}, {"lane", n.lane}, {"on", n.on}, {"pitch", n.pitch}, {"velocity", n.velocity}, {"beat", n.beat}});
    return {{"stream", stream}, {"events", std::move(events)}};
}

}  // namespace wavecast
