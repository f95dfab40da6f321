#include "output/jack_output.h"

#include <jack/midiport.h>
#include <jack/thread.h>
#include <pthread.h>
#include <sched.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace wavecast {
namespace {

// jack_status_t's bits, by name: "0x21 (Failure, ServerError)".
std::string describe_status(jack_status_t status) {
    static const std::pair<int, const char*> names[] = {{JackFailure, "Failure"},
                                                        {JackInvalidOption, "InvalidOption"},
                                                        {JackNameNotUnique, "NameNotUnique"},
                                                        {JackServerStarted, "ServerStarted"},
                                                        {JackServerFailed, "ServerFailed"},
                                                        {JackServerError, "ServerError"},
                                                        {JackNoSuchClient, "NoSuchClient"},
                                                        {JackLoadFailure, "LoadFailure"},
                                                        {JackInitFailure, "InitFailure"},
                                                        {JackShmFailure, "ShmFailure"},
                                                        {JackVersionError, "VersionError"},
                                                        {JackBackendError, "BackendError"},
                                                        {JackClientZombie, "ClientZombie"}};
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(status));
    std::string out = hex, list;
    for (const auto& [bit, name] : names)
        if (status & bit) list += (list.empty() ? "" : ", ") + std::string(name);
    return list.empty() ? out : out + " (" + list + ")";
}

// Whether a client named `name` has ports on the server, asked as a client of a name of its own:
// jack2 refuses a taken exact name with ServerError alone, without NameNotUnique.
bool client_exists(const std::string& name, const std::string& server) {
    jack_status_t st{};
    const auto opts = static_cast<jack_options_t>(JackNoStartServer | (server.empty() ? 0 : JackServerName));
    jack_client_t* probe =
        server.empty() ? jack_client_open("wavecast-probe", opts, &st) : jack_client_open("wavecast-probe", opts, &st, server.c_str());
    if (!probe) return false;
    std::string pattern = "^";
    for (char c : name) pattern += std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : std::string("\\") + c;
    const char** ports = jack_get_ports(probe, (pattern + ":").c_str(), nullptr, 0);
    const bool found = ports && ports[0];
    if (ports) jack_free(ports);
    jack_client_close(probe);
    return found;
}

}  // namespace

JackOutput::JackOutput(const std::string& client_name, const std::string& server) {
    jack_status_t status{};
    const auto opts = static_cast<jack_options_t>(JackUseExactName | JackNoStartServer | (server.empty() ? 0 : JackServerName));
    client_ = server.empty() ? jack_client_open(client_name.c_str(), opts, &status)
                             : jack_client_open(client_name.c_str(), opts, &status, server.c_str());
    if (!client_) {
        std::string why = "cannot open JACK client '" + client_name + "'";
        if (status & JackServerFailed)
            throw JackServerMissing(why + ": no JACK server is running" + (server.empty() ? std::string() : " named '" + server + "'") +
                                    " (status " + describe_status(status) + ")");
        if ((status & JackNameNotUnique) || client_exists(client_name, server))
            why += ": a client of that name is already on the server (another wavecastd? set [jack] client_name or --jack-name)";
        throw std::runtime_error(why + " (status " + describe_status(status) + ")");
    }
    jack_set_process_callback(client_, &JackOutput::on_process, this);
    jack_set_xrun_callback(client_, &JackOutput::on_xrun, this);
    jack_set_sample_rate_callback(client_, &JackOutput::on_rate, this);
    jack_set_buffer_size_callback(client_, &JackOutput::on_buffer_size, this);
    period_ = jack_get_buffer_size(client_);
    rate_ = jack_get_sample_rate(client_);
    jack_on_shutdown(client_, &JackOutput::on_shutdown, this);
    jack_set_port_connect_callback(client_, &JackOutput::on_connect, this);
}

JackOutput::~JackOutput() {
    deactivate();
    if (client_) jack_client_close(client_);  // also after the server went: frees the client's side
}

void JackOutput::add_stream(StreamOutput* stream) {
    const std::string l = stream->name() + "_out_L", r = stream->name() + "_out_R";
    jack_port_t* pl = jack_port_register(client_, l.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
    jack_port_t* pr = jack_port_register(client_, r.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
    const std::string m = stream->name() + "_midi_out";
    jack_port_t* pm = jack_port_register(client_, m.c_str(), JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
    if (!pl || !pr || !pm) throw std::runtime_error("cannot register JACK ports " + l + ", " + r + " and " + m);
    outs_.push_back({stream, pl, pr, pm});
}

void JackOutput::add_control_input(ControlMidiIn* in) {
    control_port_ = jack_port_register(client_, "control_midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput | JackPortIsTerminal, 0);
    if (!control_port_) throw std::runtime_error("cannot register JACK port control_midi_in");
    control_in_ = in;
}

void JackOutput::activate(bool autoconnect) {
    if (jack_activate(client_) != 0) throw std::runtime_error("jack_activate failed");
    active_ = true;
    if (!autoconnect) return;
    const char** playback = jack_get_ports(client_, nullptr, JACK_DEFAULT_AUDIO_TYPE, JackPortIsPhysical | JackPortIsInput);
    if (!playback || !playback[0]) {
        spdlog::warn("autoconnect: no physical playback ports to connect to");
    } else {
        for (const auto& o : outs_) {
            jack_connect(client_, jack_port_name(o.left), playback[0]);
            jack_connect(client_, jack_port_name(o.right), playback[1] ? playback[1] : playback[0]);
        }
    }
    if (playback) jack_free(playback);
}

double JackOutput::output_latency_s() const {
    jack_nframes_t frames = 0;
    if (!gone_ && !outs_.empty())
        for (jack_port_t* p : {outs_.front().left, outs_.front().right}) {
            jack_latency_range_t range{};
            jack_port_get_latency_range(p, JackPlaybackLatency, &range);
            frames = std::max(frames, range.max);
        }
    if (frames == 0) frames = period_.load();
    return static_cast<double>(frames) / jack_get_sample_rate(client_);
}

double JackOutput::transport_bpm() const {
    if (gone_) return 0;
    jack_position_t pos{};
    const jack_transport_state_t state = jack_transport_query(client_, &pos);
    if (state != JackTransportRolling || !(pos.valid & JackPositionBBT)) return 0;
    return pos.beats_per_minute;
}

void JackOutput::deactivate() {
    if (active_ && !gone_) jack_deactivate(client_);
    active_ = false;
}

const JackOutput::Connections& JackOutput::connections() {
    if (gone_ || !connections_changed_.exchange(false)) return connections_;
    connections_.clear();
    auto list_connections = [&](jack_port_t* p) {
        auto& list = connections_[jack_port_short_name(p)];
        if (const char** c = jack_port_get_all_connections(client_, p)) {
            for (const char** q = c; *q; ++q) list.emplace_back(*q);
            jack_free(c);
        }
    };
    for (const auto& o : outs_)
        for (jack_port_t* p : {o.left, o.right, o.midi}) list_connections(p);
    if (control_port_) list_connections(control_port_);
    return connections_;
}

void JackOutput::restore(const Connections& c) {
    const std::string prefix = std::string(jack_get_client_name(client_)) + ":";
    for (const auto& [port, others] : c)
        for (const auto& other : others) {
            const int rc = jack_connect(client_, (prefix + port).c_str(), other.c_str());
            if (rc != 0 && rc != EEXIST) spdlog::warn("could not connect {}{} to {} again (the port may be gone)", prefix, port, other);
            else spdlog::info("connected {}{} to {} again", prefix, port, other);
        }
}

void JackOutput::on_connect(jack_port_id_t a, jack_port_id_t b, int connect, void* arg) {
    auto* self = static_cast<JackOutput*>(arg);
    self->connections_changed_.store(true);
    if (!connect) return;
    // Something joined a stream's MIDI out mid-stream: its MIDI clock tells it where the beat is.
    const jack_port_t* pa = jack_port_by_id(self->client_, a);
    const jack_port_t* pb = jack_port_by_id(self->client_, b);
    for (const auto& o : self->outs_)
        if (o.midi == pa || o.midi == pb) o.stream->midi_joined();
}

bool JackOutput::realtime() const {
    int policy = 0;
    sched_param param{};
    return pthread_getschedparam(jack_client_thread_id(client_), &policy, &param) == 0 && (policy == SCHED_FIFO || policy == SCHED_RR);
}

int JackOutput::callback_priority() const { return jack_is_realtime(client_) ? std::max(0, jack_client_real_time_priority(client_)) : 0; }

int JackOutput::on_process(jack_nframes_t n, void* arg) {
    auto* self = static_cast<JackOutput*>(arg);
    self->cycles_.fetch_add(1, std::memory_order_relaxed);
    if (self->control_port_) {
        // clock_gettime through the vDSO, as StreamOutput::process reads it: no system call, no lock.
        const int64_t now_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
        const double ns_per_frame = 1e9 / static_cast<double>(self->rate_.load(std::memory_order_relaxed));
        const jack_nframes_t period_start = jack_last_frame_time(self->client_);
        void* in = jack_port_get_buffer(self->control_port_, n);
        const uint32_t count = jack_midi_get_event_count(in);
        jack_midi_event_t e;
        for (uint32_t i = 0; i < count; ++i)
            if (jack_midi_event_get(&e, in, i) == 0)
                self->control_in_->push(e.buffer, e.size, now_ns + static_cast<int64_t>(e.time * ns_per_frame), period_start + e.time);
        self->control_in_->signal();
    }
    for (const auto& o : self->outs_) {
        void* midi = jack_port_get_buffer(o.midi, n);
        jack_midi_clear_buffer(midi);
        o.stream->take_midi(n, [midi](uint32_t at, const uint8_t* bytes, uint8_t size) { jack_midi_event_write(midi, at, bytes, size); });
        o.stream->process(static_cast<float*>(jack_port_get_buffer(o.left, n)), static_cast<float*>(jack_port_get_buffer(o.right, n)), n);
    }
    return 0;
}

int JackOutput::on_xrun(void* self) {
    static_cast<JackOutput*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

int JackOutput::on_rate(jack_nframes_t rate, void* self) {
    static_cast<JackOutput*>(self)->rate_.store(rate);
    for (const auto& o : static_cast<JackOutput*>(self)->outs_) o.stream->set_rate(static_cast<int>(rate));
    return 0;
}

// Stream::process takes any period up to its scratch size (8192 frames, JACK's usual maximum);
// the new size only needs recording for status.
int JackOutput::on_buffer_size(jack_nframes_t frames, void* self) {
    static_cast<JackOutput*>(self)->period_.store(frames);
    return 0;
}

void JackOutput::on_shutdown(void* self) { static_cast<JackOutput*>(self)->gone_.store(true); }

}  // namespace wavecast
