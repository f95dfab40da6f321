// The JACK client: per stream the ports STREAM_out_L / STREAM_out_R and STREAM_midi_out, the
// daemon's MIDI control input `control_midi_in`, a process callback that only copies (from each
// stream's output: its ring, its due MIDI; into the control input's ring), and the xrun,
// sample-rate and shutdown callbacks, which only touch atomics.
#pragma once

#include <jack/jack.h>
#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "output/control_midi_in.h"
#include "output/stream_output.h"

namespace wavecast {

// No JACK server answers: the one failure to open a client that the daemon waits out (on its
// internal clock); a server that refuses the client (its name taken, say) is an error to fix.
struct JackServerMissing : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class JackOutput {
public:
    // Opens the client (exact name, no server started); throws JackServerMissing where no server
    // answers, std::runtime_error saying why for any other refusal.
    JackOutput(const std::string& client_name, const std::string& server);
    ~JackOutput();
    JackOutput(const JackOutput&) = delete;
    JackOutput& operator=(const JackOutput&) = delete;

    int sample_rate() const { return static_cast<int>(jack_get_sample_rate(client_)); }
    uint32_t buffer_size() const { return period_.load(); }

    // Registers a stream's ports (NAME_out_L, NAME_out_R, NAME_midi_out); call before activate().
    void add_stream(StreamOutput* stream);
    // Registers `control_midi_in`, whose messages go to `in`; call before activate().
    void add_control_input(ControlMidiIn* in);
    // Starts the callback; with autoconnect, connects each stream's L/R to system:playback_1/2.
    void activate(bool autoconnect);
    void deactivate();

    uint64_t xruns() const { return xruns_.load(); }
    // Whether the process callback's thread runs realtime (SCHED_FIFO or SCHED_RR), as JACK
    // gives it where the server runs realtime and the system allows: then nothing of ours at
    // normal priority (the generator's threads, on every core in bursts) can delay a cycle.
    bool realtime() const;
    // The realtime priority the server gives its clients' callbacks (before activation too); 0
    // where it runs them at normal priority.
    int callback_priority() const;
    // How long after the callback writes it a frame reaches the playback hardware, in seconds:
    // the largest playback latency JACK reports for the first stream's ports, or one period
    // where it reports none (ports not connected to hardware). Not real-time.
    double output_latency_s() const;
    // The tempo JACK transport reports while it rolls with a timebase master giving bar/beat/tick;
    // 0 otherwise. Not real-time: for the control thread.
    double transport_bpm() const;
    bool server_gone() const { return gone_.load(); }
    // Process cycles run so far: the systemd watchdog is fed only while this advances.
    uint64_t cycles() const { return cycles_.load(std::memory_order_relaxed); }

    // Each of our ports (short name) and the ports it is connected to (full names). Not
    // real-time; cached, and asked of the server again only after a connection changed.
    using Connections = std::map<std::string, std::vector<std::string>>;
    const Connections& connections();
    // Connects our ports as `c` says (after a reconnection); says which could not be made.
    void restore(const Connections& c);

private:
    static int on_process(jack_nframes_t n, void* arg);
    static int on_xrun(void* self);
    static int on_rate(jack_nframes_t rate, void* self);
    static int on_buffer_size(jack_nframes_t frames, void* self);
    static void on_shutdown(void* self);
    static void on_connect(jack_port_id_t a, jack_port_id_t b, int connect, void* self);

    struct Out {
        StreamOutput* stream;
        jack_port_t* left;
        jack_port_t* right;
        jack_port_t* midi;
    };
    jack_client_t* client_ = nullptr;
    std::vector<Out> outs_;
    ControlMidiIn* control_in_ = nullptr;
    jack_port_t* control_port_ = nullptr;
    bool active_ = false;
    std::atomic<uint64_t> xruns_{0};
    std::atomic<bool> gone_{false};
    std::atomic<uint32_t> period_{0};
    std::atomic<uint32_t> rate_{48000};
    std::atomic<uint64_t> cycles_{0};
    std::atomic<bool> connections_changed_{true};
    Connections connections_;
};

}  // namespace wavecast
