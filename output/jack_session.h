// What plays the streams: a JACK client where JACK is enabled and a server answers, else the
// internal clock; and riding out a server that goes away or comes back (the streams keep their
// state and full rings, only the client is replaced, its connections restored). The main thread
// steps it; the control thread reads it (status, transport tempo, output latency).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "output/control_midi_in.h"
#include "output/internal_clock.h"
#include "output/jack_output.h"
#include "output/stream_output.h"

namespace wavecast {

struct JackView {
    bool enabled = false;
    std::string client;
    bool connected = false;  // false while the server is away
    uint32_t buffer_size = 0;
    bool realtime = false;
    uint64_t xruns = 0;
    bool internal_clock = false;  // the streams play by the internal clock now
};

class JackSession {
public:
    struct Settings {
        bool enabled = true;
        std::string client, server;
        bool autoconnect = false;
        int internal_rate = 48000;  // the internal clock's rate while no server plays the streams
    };
    // Opens the client where it can (none where JACK is disabled or no server answers).
    JackSession(Settings settings, ControlMidiIn& midi_in);
    ~JackSession();

    // The rate the streams start at: the server's, else the internal clock's.
    int rate() const;
    // Starts playing `outputs` (filled to their look-ahead already): the client, else the clock.
    void start(std::vector<StreamOutput*> outputs);
    // Each turn of the main loop: notices a server that went away (the clock takes over) and
    // tries, with backoff, to join one that answers. Returns the cycles run so far, of every
    // client and clock (the systemd watchdog is fed while they advance).
    uint64_t step();
    void stop();

    JackView status() const;
    double transport_bpm() const;     // 0 while no server plays the streams
    double output_latency_s() const;  // 0 likewise
    int callback_priority() const;    // JackOutput::callback_priority; 0 while no server plays the streams

private:
    void start_clock();
    void stop_clock();
    void rejoin(std::chrono::steady_clock::time_point now);

    const Settings settings_;
    ControlMidiIn& midi_in_;
    std::vector<StreamOutput*> outputs_;
    mutable std::mutex mu_;  // the client is replaced here while the control thread reads it
    std::unique_ptr<JackOutput> jack_;
    std::unique_ptr<InternalClock> clock_;
    int rate_ = 0;                // the streams' rate now: the last server's, which the clock keeps
    uint64_t cycles_before_ = 0;  // run by clients since replaced and by clocks since stopped
    uint64_t xruns_before_ = 0;
    JackOutput::Connections connections_;  // kept while the server is up, restored after it comes back
    std::chrono::steady_clock::time_point next_try_{};
    double backoff_s_ = 0.1;
};

}  // namespace wavecast
