// The daemon's configuration as plain structs, parsed and validated once from TOML; nothing past
// this point sees TOML. Relative paths in the file are resolved against the file's directory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "control/endpoints.h"
#include "daemon/schedule.h"
#include "kernels/model.h"
#include "output/icecast_output.h"

namespace wavecast {

struct StreamConfig {
    std::string name = "main";
    std::string style = "ambient";
    uint64_t seed = 1;
    int lanes = 4;                         // tracks rendered by the network: drums, bass, harmony, lead
    double lookahead_ms = 400;             // generated ahead of playback: the control-to-audible latency
    double loudness_lufs = -16.0;          // EBU R128 target of the automatic gain
    double true_peak_dbtp = -1.0;          // ceiling of the true-peak limiter
    std::map<std::string, double> params;  // live parameters given in the file (protocol/params.h), checked
    std::vector<IcecastConfig> outputs;    // [[stream.output]]: network outputs beside JACK
    std::string midi_map;                  // the MIDI mapping file (control/midi_map.h); empty: none
};

struct DaemonConfig {
    std::string path;  // the file it came from; empty for built-in defaults
    std::string backend = "auto";
    Precision precision = Precision::fp32;  // the CUDA generator's weight storage
    int cpu_threads = 0;                    // the CPU generator's threads per stream; 0: one per usable core
    std::string batch_streams = "auto";     // on: one generator for all streams' lanes; auto: on CUDA with 2+ streams
    std::string masking_backend = "auto";   // cpu: masking on the CPU whatever the generator runs on; off: none; auto: with it
    int block_frames = 2;                   // model frames (10 ms each) a producer renders at a time
    std::string resampler = "high";         // high: soxr's HQ; fast: its MQ, which holds back half as much
    bool realtime = false;                  // producers at a realtime priority just below JACK's callback
    std::string control = "tcp://127.0.0.1:5557";
    std::string telemetry = "tcp://127.0.0.1:5558";
    std::string osc;                     // HOST:PORT of the OSC server (control/osc.h); empty: none
    std::vector<std::string> osc_allow;  // the peers (IPv4) an OSC address beyond loopback takes
    std::string model;                   // .safetensors path; empty: picked by backend from models_dir
    std::string fallback_model;          // played on the CPU should the generator fail; empty: see fallback()
    std::string models_dir;              // the shipped models: small (the CPU's), medium (the GPU's)
    std::string styles_dir;              // directory of style .toml files
    std::string recordings_dir;          // where `record` writes: relative paths resolve here, nothing goes outside
    int output_rate = 48000;             // the streams' rate while no JACK server plays them (JACK's own otherwise)
    double status_interval_s = 1.0;
    std::string log_level = "info";
    bool jack_enabled = true;  // false: no JACK at all, the streams run on the internal clock
    std::string jack_name = "wavecast";
    std::string jack_server;        // empty: libjack's default ($JACK_DEFAULT_SERVER or "default")
    bool autoconnect = false;       // connect each stream's L/R to system:playback_1/2
    bool follow_transport = false;  // take the tempo of JACK transport's timebase master
    bool link = false;              // join the Ableton Link session: share tempo and beat phase
    double link_quantum = 4;        // beats over which Link aligns phase (a bar)
    bool midi_clock = false;        // follow MIDI clock on control_midi_in: its tempo, and its beat phase while it plays
    double midi_clock_quantum = 4;  // beats over which the clock's phase is aligned (a bar)
    bool midi_clock_send = false;   // send MIDI clock (24 ppqn, start at the first beat) on each STREAM_midi_out
    SecurityConfig security;
    std::vector<StreamConfig> streams;
    std::vector<ScheduleEntry> schedule;  // [[schedule]]: style changes by the clock

    // The model the daemon plays on `backend` ("cpu" or "cuda"): the one named, else the shipped
    // small model on the CPU and medium on CUDA.
    std::string model_for(const std::string& backend) const;
    // The CPU fallback: the one named, else the model itself when one is named, else the small one.
    std::string fallback() const;
    // Whether the streams share one generator (generator_batch.h), their generator on `backend`.
    bool batched(const std::string& backend) const;
};

// Settings given on the command line, which win over the file's (also when it is reloaded).
struct ConfigOverrides {
    std::string backend, control, telemetry, jack_name, log_level;
    bool no_jack = false;
    void apply(DaemonConfig& c) const;
};

// Throws ConfigError "FILE:LINE: reason".
DaemonConfig load_config(const std::string& path);

// What differs between the running config and a reloaded one that only a restart takes up (the
// model, the endpoints, the streams...), each named as the log says it.
std::vector<std::string> restart_needed(const DaemonConfig& running, const DaemonConfig& next);

// Where the documented default config lives: $WAVECAST_CONFIG, else config/wavecastd.toml
// beside the source tree this binary was built from.
std::string default_config_path();

}  // namespace wavecast
