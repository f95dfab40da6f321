// The running daemon's state as the control plane sees it: the model, the styles, the streams,
// and the handler that turns one request into one reply. Sockets live in control.h.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.h"
#include "surface.h"
#include "midi_clock_sync.h"
#include "midi_control.h"
#include "tempo_source.h"
#include "transport_sync.h"
#include "model.h"
#include "requests.h"
#include "stream.h"
#include "style.h"

namespace wavecast {

class JackOutput;

// The body of a telemetry "notes" message: {"stream", "events": [{track, lane, on, pitch,
// velocity, beat}]}.
nlohmann::json notes_message(const std::string& stream, const std::vector<MidiSchedule::SoundedNote>& notes);
// One stream's entry in a status reply: its live parameters (every entry of params.h's table),
// its last block's report, its output's counts and its recording.
nlohmann::json stream_json(const StreamStatus& status, uint64_t xruns);

class Engine final : public ControlHandler {
public:
    Engine(DaemonConfig config, std::shared_ptr<const Model> model, std::map<std::string, std::shared_ptr<const Style>> styles,
           std::string backend);

    void add_stream(std::unique_ptr<Stream> stream) { streams_.push_back(std::move(stream)); }
    // The JACK client now, or nullptr while the server is away (see run_daemon.cpp's reconnection).
    void set_jack(const JackOutput* jack, std::string client_name);
    // Whether the streams play by the internal clock (no JACK server plays them now).
    void set_internal_clock(bool on) { internal_clock_ = on; }
    const std::vector<std::unique_ptr<Stream>>& streams() const { return streams_; }
    // The MIDI control surface, for learn and mappings (it outlives this).
    void set_midi(MidiControl* midi) { midi_ = midi; }
    // What the MIDI clock source takes of control_midi_in: false for a message that is not MIDI
    // clock's, or with no clock followed.
    bool feed_midi_clock(const ControlMidiEvent& e);

    using ControlHandler::handle;
    Handled handle(const protocol::TypedRequest& request) override;
    nlohmann::json status() const override;
    // Logs a warning for every underrun, xrun or dropped recording frame since the last call;
    // the control thread calls it with each status tick, so they reach the "log" topic too.
    void report_trouble();
    // Called with each control-loop turn: every tempo source steers the streams (tempo/).
    void follow_tempo();
    // SIGHUP: takes the styles and the settings of a reloaded config that can change while
    // streaming (styles, follow_transport, log_level, status_interval_s, each stream's network
    // outputs and MIDI mapping; the schedule is run_daemon's) all at once, and returns
    // the settings that changed but take effect only at a restart (model, endpoints, streams...).
    std::vector<std::string> reload(const DaemonConfig& next, std::map<std::string, std::shared_ptr<const Style>> styles,
                                    std::map<std::string, MidiControl::StreamMap> midi_maps);
    double status_interval_s() const { return status_interval_s_.load(); }
    // The body of a telemetry "notes" message per stream with notes that sounded since the last
    // call: {"stream", "events": [{track, lane, on, pitch, velocity, beat}]}.
    std::vector<nlohmann::json> sounded_notes();

private:
    // The stream a request names, else the first; unknown_stream otherwise.
    Stream& find_stream(const std::optional<std::string>& name);
    nlohmann::json style_list() const;
    MidiControl& midi();  // unsupported where there is none
    nlohmann::json apply(const protocol::Set& c);
    nlohmann::json apply(const protocol::StyleCmd& c);
    // File work: checked here, done by the returned function off the control thread.
    std::function<nlohmann::json()> record(const protocol::Record& c);
    std::function<nlohmann::json()> stop_record(const protocol::StopRecord& c);
    std::function<nlohmann::json()> score(const protocol::Score& c);

    double jack_bpm() const;

    const DaemonConfig config_;  // as started; reload() compares against it
    MidiControl* midi_ = nullptr;
    // JACK transport, then Link or the MIDI clock where enabled (tempo/); the typed pointers for
    // what only they take (the transport's switch at reload, the clock's MIDI messages).
    std::vector<std::unique_ptr<TempoSource>> tempo_;
    TransportSync* transport_ = nullptr;
    MidiClockSync* midi_clock_ = nullptr;
    std::atomic<double> status_interval_s_;
    std::shared_ptr<const Model> model_;
    mutable std::mutex styles_mu_;
    std::map<std::string, std::shared_ptr<const Style>> styles_;
    std::string backend_;
    std::vector<std::unique_ptr<Stream>> streams_;
    mutable std::mutex jack_mu_;  // the main thread swaps the client while the control thread reads it
    const JackOutput* jack_ = nullptr;
    std::string jack_name_;
    uint64_t xruns_before_ = 0;  // counted by clients since replaced
    std::atomic<bool> internal_clock_{false};
    uint64_t xruns() const;  // under jack_mu_
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    struct Seen {
        uint64_t underruns = 0, underrun_frames = 0, dropped = 0;
        std::string recorder_error;
    };
    std::map<std::string, Seen> seen_;
    uint64_t seen_xruns_ = 0;
};

}  // namespace wavecast
