// The composition root: everything the config names, built and wired once (the models, the
// styles, JACK or the internal clock, a generator per stream or one shared, the streams, the
// tempo sources, the control plane and its surfaces), then stepped by the supervisor
// (supervisor.cpp) until it is shut down.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/control_server.h"
#include "control/midi_control.h"
#include "control/osc.h"
#include "control/systemd.h"
#include "daemon/config.h"
#include "daemon/engine.h"
#include "daemon/schedule.h"
#include "daemon/stage_hooks.h"
#include "daemon/status.h"
#include "daemon/stream.h"
#include "daemon/style_shelf.h"
#include "kernels/backend.h"
#include "kernels/model.h"
#include "output/control_midi_in.h"
#include "output/jack_session.h"
#include "tempo/midi_clock_sync.h"
#include "tempo/tempo_source.h"
#include "tempo/transport_sync.h"

namespace wavecast {

class Daemon {
public:
    // Loads and starts everything, streaming when it returns; throws (ConfigError, ModelError...)
    // naming what is wrong, having started nothing that outlives the throw.
    Daemon(DaemonConfig config, const StageHooks& hooks);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // One turn of the supervisor's loop (tens of ms): JACK's comings and goings, the schedule,
    // the systemd watchdog.
    void step();
    // SIGHUP: the new config, styles and MIDI mappings in full, or nothing of them (logged either
    // way); what changed but waits for a restart is named.
    void reload(const DaemonConfig& next);
    // Stops the producers (recordings finalised), JACK and the control plane, in that order.
    void shut_down();

private:
    DaemonStatus status() const;
    void follow_tempo();
    void report_trouble();
    std::vector<nlohmann::json> sounded_notes();
    void start_streams(const StageHooks& hooks, const BackendPlan& plan);
    void start_control();
    void apply_scheduled(const Scheduler::Change& change);

    DaemonConfig config_;
    std::shared_ptr<const Model> model_, fallback_;
    StyleShelf styles_;
    std::string backend_;  // the generators' backend at the start
    ControlMidiIn midi_in_;
    std::unique_ptr<JackSession> jack_;
    std::vector<std::unique_ptr<Stream>> streams_;
    // JACK transport, then Link or the MIDI clock where enabled; the typed pointers for what only
    // they take (the transport's switch at reload, the clock's MIDI messages).
    std::vector<std::unique_ptr<TempoSource>> tempo_;
    TransportSync* transport_ = nullptr;
    MidiClockSync* midi_clock_ = nullptr;
    std::unique_ptr<MidiControl> midi_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<OscServer> osc_;
    std::shared_ptr<TelemetryLogSink> logs_;
    std::unique_ptr<ControlServer> control_;
    Systemd systemd_;
    Scheduler scheduler_;
    std::atomic<double> status_interval_s_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    bool jack_connected_ = false;  // as the last step saw it
    // What report_trouble() has reported already, per stream.
    struct Seen {
        uint64_t underruns = 0, underrun_frames = 0, dropped = 0;
        std::string recorder_error;
    };
    std::map<std::string, Seen> seen_;
    uint64_t seen_xruns_ = 0;
    bool shut_ = false;
};

}  // namespace wavecast
