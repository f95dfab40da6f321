// Real components for integration tests: child processes (jackd, wavecastd, wavecast), a JACK
// capture client, and a ZeroMQ requester.
#pragma once

#include <jack/jack.h>
#include <sys/types.h>
#include <memory>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "score/composer.h"

namespace harness {

using json = nlohmann::json;

std::string unique_name(const std::string& prefix);

class Process {
public:
    // Starts argv[0] with the extra environment, stdout and stderr to `log`.
    Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env, std::string log);
    ~Process();
    Process(const Process&) = delete;

    void signal(int sig) const;
    // Waits up to `timeout_s` for the exit; returns the exit status (or 128 + signal), nullopt if still running.
    std::optional<int> wait(double timeout_s);
    bool running();
    std::string log() const;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    std::string log_;
    std::optional<int> status_;
};

// A jackd with the dummy backend under a name of its own; ready when a client can connect.
class JackServer {
public:
    JackServer(const std::string& dir, int rate = 48000, int period = 1024);
    const std::string& name() const { return name_; }
    // kill -9, as a crash would; then start() brings up a new one under the same name.
    void crash();
    void start();
    // crash(), then start() at another sample rate (a server restarted with other settings).
    void restart_at(int rate);
    void signal(int sig) const { proc_->signal(sig); }
    std::map<std::string, std::string> env() const { return {{"JACK_DEFAULT_SERVER", name_}, {"JACK_NO_AUDIO_RESERVATION", "1"}}; }

private:
    std::string name_, dir_;
    int rate_, period_;
    std::unique_ptr<Process> proc_;
};

// The full names of the ports connected to `port` on `server`, asked by a client of its own.
std::vector<std::string> jack_connections(const std::string& server, const std::string& port);
// Connects two ports on `server`; false when JACK refuses.
bool jack_connect_ports(const std::string& server, const std::string& from, const std::string& to);

// A JACK client of the test's own that records two ports into memory for a fixed length.
class Capture {
public:
    Capture(const std::string& server, const std::string& left_port, const std::string& right_port, size_t frames);
    ~Capture();
    bool wait_full(double timeout_s) const;
    size_t frames() const { return filled_.load(); }
    // The JACK frame time of the first frame captured (the clock MidiCapture stamps events with).
    uint64_t first_frame() const { return first_frame_.load(); }
    const std::vector<float>& left() const { return left_; }
    const std::vector<float>& right() const { return right_; }

private:
    static int process(jack_nframes_t n, void* self);
    jack_client_t* client_ = nullptr;
    jack_port_t* in_l_ = nullptr;
    jack_port_t* in_r_ = nullptr;
    std::vector<float> left_, right_;
    std::atomic<size_t> filled_{0};
    std::atomic<uint64_t> first_frame_{0};
};

// A JACK client of the test's own that records the MIDI events of one port, stamped with the
// absolute JACK frame at which they fall.
class MidiCapture {
public:
    struct Event {
        uint64_t frame;
        uint8_t bytes[3];
        size_t size;
    };
    MidiCapture(const std::string& server, const std::string& port, size_t capacity = 100000);
    ~MidiCapture();
    std::vector<Event> events() const;  // those recorded so far

private:
    static int process(jack_nframes_t n, void* self);
    jack_client_t* client_ = nullptr;
    jack_port_t* in_ = nullptr;
    std::vector<Event> events_;
    std::atomic<size_t> count_{0};
};

// A telemetry subscriber to one topic; receives time out after `timeout_ms`.
zmq::socket_t subscribe(zmq::context_t& ctx, const std::string& endpoint, const std::string& topic, int timeout_ms);

// Frames in an audio file (and its rate), or -1 when it cannot be read.
long long audio_frames(const std::string& path, int* rate = nullptr);

// A file's bytes.
std::string slurp(const std::string& path);

// Runs tests/integration/midi_notes.py (python3-mido) on a MIDI file: its lines of JSON.
std::string read_midi_with_mido(const std::string& midi, const std::string& log);

// The notes the daemon's composer writes for a shipped style in its first `seconds`, with the
// defaults a stream and a render use (4 lanes, 16 kHz model rate, 100 frames/s, intensity 0.6,
// temperature 1): what MIDI out and MIDI files are checked against.
std::vector<wavecast::MidiEvent> expected_notes(const std::string& style, uint64_t seed, double seconds);

// One request, one reply over a fresh REQ socket; nullopt after the timeout.
std::optional<json> request(const std::string& endpoint, const std::string& raw, int timeout_ms = 3000);

struct DaemonOptions {
    std::string jack_name = "wavecast";
    double lookahead_ms = 400;
    std::string shape = "small";             // of the random-weight model written for it
    std::string daemon_extra, jack_extra;    // TOML lines added to [daemon] and [jack]
    std::string styles_dir;                  // default: the shipped styles
    std::string recordings;                  // default: the daemon's dir
    bool relative_paths = false;             // model and recordings given relative to the config's folder
    bool journal = false;                    // run as under systemd: JOURNAL_STREAM names the log file
    std::string control, telemetry;          // default: ipc:// paths in `dir`
    std::string sections;                    // further TOML tables, e.g. [security]
    std::map<std::string, std::string> env;  // added to the JACK server's
    std::vector<std::string> wrapper;        // a command the daemon runs under (e.g. prlimit ...)
};

// Polls `pred` every 20 ms until it holds (true) or `timeout_s` passes (false).
template <class Pred>
bool eventually(Pred pred, double timeout_s) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

// Frames of a capture in which both channels are exactly zero (what an underrun plays).
size_t silent_frames(const Capture& cap);

// A TCP port on 127.0.0.1 that nothing listens on now.
int free_tcp_port();
// The resident memory of a process, in KiB (VmRSS); -1 if it is gone.
long rss_kib(pid_t pid);
// Runs the wavecast client with `args`; its exit status and output.
std::pair<int, std::string> run_client(const std::string& dir, const std::vector<std::string>& args);

// A wavecastd on a config written into `dir`: random tiny-ish model, shipped styles, ipc endpoints.
class Daemon {
public:
    Daemon(const std::string& dir, const JackServer& jack, const DaemonOptions& o = {});
    std::optional<json> call(const json& req, int timeout_ms = 3000) const { return request(control, req.dump(), timeout_ms); }
    // Polls status until it answers (the daemon is streaming); false after the timeout.
    bool wait_ready(double timeout_s) const;
    json stream_status() const;  // streams[0] of a status reply

    std::string control, telemetry, config, model, jack_name;
    std::unique_ptr<Process> proc;
};

}  // namespace harness
