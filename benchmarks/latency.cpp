// wavecast-latency: how long a performer's change takes to be heard, measured at the JACK ports.
// JACK clients of its own capture STREAM_out_L and, for the MIDI surface, send Control Change on
// control_midi_in at a frame they pick; for OSC and ZeroMQ it sends `set gain_db` and takes the
// JACK frame time at the moment it sends. The change is a step of gain_db between two levels
// far apart (the daemon's mapping puts the CC on gain_db); the latency is from the change's frame
// to the output frame where its level has moved past half the step and stays there (20 ms), both
// on JACK's time line.
// Changes sent while the music itself swung (an onset, a gap) are counted as unsteady and left
// out. Prints one JSON object: the surface, the period, each latency, median, p95 and worst (ms).
//
//   wavecast-latency --server NAME --client wavecast --surface midi --changes 200
//   wavecast-latency ... --surface osc --osc 127.0.0.1:9000
//   wavecast-latency ... --surface zeromq --endpoint ipc:///tmp/wavecast-control
//
// With LATENCY_DUMP=PATH it writes the capture (raw float32) to PATH and each change (its frame
// in the capture, its step in dB) to PATH.at, for a look at what it measured.
#include <jack/jack.h>
#include <jack/midiport.h>
#include <lo/lo.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Two JACK clients: one sends the CC, the other captures the stream's left channel with the JACK
// frame of each sample. One client with both ports would close a loop (its CC into the daemon,
// the daemon's audio back into it), which JACK breaks by delaying one side a period: MIDI was
// measured 5 ms slower than OSC for nothing the daemon did.
class Probe {
public:
    // Room to capture `seconds` of the output.
    Probe(const std::string& server, double seconds) {
        capture_ = open(server, "wavecast-latency");
        sender_ = open(server, "wavecast-latency-cc");
        audio_.resize(static_cast<size_t>(seconds * jack_get_sample_rate(capture_)));
        in_ = jack_port_register(capture_, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        midi_ = jack_port_register(sender_, "cc", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
        jack_set_process_callback(capture_, &Probe::capture, this);
        jack_set_process_callback(sender_, &Probe::send, this);
        if (jack_activate(capture_) != 0 || jack_activate(sender_) != 0) throw std::runtime_error("the probe cannot activate");
    }
    ~Probe() {
        jack_client_close(sender_);
        jack_client_close(capture_);
    }
    void connect(const std::string& from, const std::string& to) {
        if (jack_connect(capture_, from.c_str(), to.c_str()) != 0) throw std::runtime_error("cannot connect " + from + " to " + to);
    }
    std::string capture_port() const { return std::string(jack_get_client_name(capture_)) + ":in"; }
    std::string cc_port() const { return std::string(jack_get_client_name(sender_)) + ":cc"; }
    uint32_t period() const { return jack_get_buffer_size(capture_); }
    int rate() const { return static_cast<int>(jack_get_sample_rate(capture_)); }
    // The JACK frame now, as the callbacks' clock counts it.
    uint32_t frame_now() const { return jack_frame_time(capture_); }
    // A CC sent at the start of the next period; its frame once sent.
    uint32_t send_cc(uint8_t cc, uint8_t value) {
        const uint64_t before = sent_.load();
        {
            std::lock_guard lock(mu_);
            pending_ = {cc, value, true};
        }
        while (sent_.load() == before) std::this_thread::sleep_for(200us);
        return sent_frame_.load();
    }
    // The captured samples and the JACK frame of the first.
    std::vector<float> audio() const { return std::vector<float>(audio_.begin(), audio_.begin() + filled_.load()); }
    uint32_t first_frame() const { return first_.load(); }
    // Frames of the capture that no cycle brought (xruns).
    size_t skipped() const { return skipped_.load(); }

private:
    struct Cc {
        uint8_t cc, value;
        bool waiting;
    };
    static jack_client_t* open(const std::string& server, const char* name) {
        jack_status_t st{};
        jack_client_t* c = jack_client_open(name, static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, server.c_str());
        if (!c) throw std::runtime_error("no JACK server '" + server + "' answers");
        return c;
    }
    static int send(jack_nframes_t n, void* self) {
        auto* p = static_cast<Probe*>(self);
        void* buf = jack_port_get_buffer(p->midi_, n);
        jack_midi_clear_buffer(buf);
        std::unique_lock lock(p->mu_, std::try_to_lock);  // the probe's own client: it may send a period later
        if (lock && p->pending_.waiting) {
            const uint8_t msg[3] = {0xB0, p->pending_.cc, p->pending_.value};
            if (jack_midi_event_write(buf, 0, msg, 3) == 0) {
                p->pending_.waiting = false;
                p->sent_frame_.store(jack_last_frame_time(p->sender_));
                p->sent_.fetch_add(1);
            }
        }
        return 0;
    }
    // Each period where its frame time puts it: a cycle JACK skipped (an xrun) leaves its frames
    // silent and counted, rather than shifting all that follows against the changes' frames.
    static int capture(jack_nframes_t n, void* self) {
        auto* p = static_cast<Probe*>(self);
        if (!jack_port_connected(p->in_)) return 0;
        const uint32_t now = jack_last_frame_time(p->capture_);
        size_t filled = p->filled_.load(std::memory_order_relaxed);
        if (filled == 0 && !p->started_) p->first_.store(now), p->started_ = true;
        const size_t at = static_cast<uint32_t>(now - p->first_.load());
        if (at > filled) p->skipped_.fetch_add(at - filled, std::memory_order_relaxed);  // already zeros
        if (at >= p->audio_.size()) return 0;
        const size_t take = std::min<size_t>(n, p->audio_.size() - at);
        std::copy_n(static_cast<const float*>(jack_port_get_buffer(p->in_, n)), take, p->audio_.data() + at);
        p->filled_.store(std::max(filled, at + take), std::memory_order_release);
        return 0;
    }

    jack_client_t *capture_ = nullptr, *sender_ = nullptr;
    jack_port_t *in_ = nullptr, *midi_ = nullptr;
    std::vector<float> audio_;
    std::atomic<size_t> filled_{0};
    std::atomic<uint32_t> first_{0}, sent_frame_{0};
    std::atomic<uint64_t> sent_{0};
    std::atomic<size_t> skipped_{0};
    bool started_ = false;  // the capture callback's own
    std::mutex mu_;
    Cc pending_{0, 0, false};
};

// The captured audio's level over any span, from running sums of its squares.
class Levels {
public:
    explicit Levels(const std::vector<float>& audio) : sums_(audio.size() + 1, 0.0) {
        for (size_t i = 0; i < audio.size(); ++i) sums_[i + 1] = sums_[i] + double(audio[i]) * audio[i];
    }
    size_t size() const { return sums_.size() - 1; }
    // Level in dB of frames [from, to).
    double db(size_t from, size_t to) const { return 10 * std::log10((sums_[to] - sums_[from]) / static_cast<double>(to - from) + 1e-20); }

private:
    std::vector<double> sums_;
};

// Where a step of `step_db` (signed) sent at `from` is heard, or -1 where it is not within
// `within`: against the level over the `before` frames up to `from`, the first `window` that has
// moved past half the step, and the windows after it each `stride` on for `hold` of them too
// (music alone swings a window's level that far, an onset or a gap, but seldom for long). A
// window takes in a step up as soon as its end passes it (a thousandfold louder tail), and a
// step down only once its start has: so its end for one, its start for the other, either way
// within a few frames of the step however long the window.
long step_frame(const Levels& l, size_t from, double step_db, size_t before, size_t within, size_t window, size_t stride, int hold) {
    const size_t span = window + stride * static_cast<size_t>(hold);
    if (from < before || from + within + span > l.size()) return -1;
    const double base = l.db(from - before, from);
    const bool up = step_db > 0;
    auto moved = [&](size_t start) { return (l.db(start, start + window) - base) * (up ? 1 : -1) > std::abs(step_db) / 2; };
    // Windows from the one that ends just after `from` (a step up cannot be heard before it).
    for (size_t start = from + 1 - std::min(from + 1, window); start < from + within; start += 8) {
        bool held = true;
        for (int k = 0; k < hold && held; ++k) held = moved(start + static_cast<size_t>(k) * stride);
        if (held) return static_cast<long>(std::max(from, up ? start + window : start));
    }
    return -1;
}

// Whether the music itself held steady over the `before` frames up to `from`: every `window` in
// it within `swing_db` of the others. A change sent during an onset or a gap between notes
// cannot be told from the music's own step.
bool steady(const Levels& l, size_t from, size_t before, size_t window, double swing_db) {
    if (from < before || before < window) return false;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t start = from - before; start + window <= from; start += window / 4) {
        const double d = l.db(start, start + window);
        lo = std::min(lo, d), hi = std::max(hi, d);
    }
    return hi - lo <= swing_db;
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

// Sends gain_db's steps over one surface: a MIDI CC through the probe's own port, an OSC message,
// or a ZeroMQ `set`; each send returns the JACK frame it counts from (the CC's own frame; the
// moment of sending for the others).
class Sender {
public:
    Sender(Probe& probe, const std::string& surface, const std::string& osc, const std::string& endpoint, std::string stream, int cc,
           double high_db)
        : probe_(probe),
          surface_(surface),
          stream_(std::move(stream)),
          cc_(cc),
          high_db_(high_db),
          ctx_(1),
          req_(ctx_, zmq::socket_type::req) {
        if (surface == "zeromq") req_.connect(endpoint);
        if (surface == "osc") {
            const auto colon = osc.rfind(':');
            to_ = lo_address_new(osc.substr(0, colon).c_str(), osc.substr(colon + 1).c_str());
        }
    }
    ~Sender() {
        if (to_) lo_address_free(to_);
    }
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    uint32_t set_gain(double db) {
        if (surface_ == "midi") return probe_.send_cc(static_cast<uint8_t>(cc_), db == high_db_ ? 127 : 0);
        const uint32_t at = probe_.frame_now();
        if (surface_ == "osc") {
            lo_send(to_, "/wavecast/set/gain_db", "f", static_cast<float>(db));
        } else {
            req_.send(zmq::buffer(json{{"cmd", "set"}, {"stream", stream_}, {"params", {{"gain_db", db}}}}.dump()));
            zmq::message_t reply;
            (void)req_.recv(reply);
        }
        return at;
    }

private:
    Probe& probe_;
    std::string surface_, stream_;
    int cc_;
    double high_db_;
    zmq::context_t ctx_;
    zmq::socket_t req_;
    lo_address to_ = nullptr;
};

struct Sent {
    std::vector<uint32_t> at;   // the JACK frame of each change
    std::vector<double> steps;  // its step in dB, signed
};

// Settles at the low level, then steps up and down `changes` times on a fixed schedule: a send's
// own wait (a period for MIDI, the reply for ZeroMQ) does not push the later ones past what the
// capture holds.
Sent send_changes(Sender& sender, int changes, double every_ms, double low_db, double high_db) {
    sender.set_gain(low_db);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(2 * every_ms)));
    Sent sent;
    const auto start = std::chrono::steady_clock::now();
    const auto step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double, std::milli>(every_ms));
    for (int i = 0; i < changes; ++i) {
        std::this_thread::sleep_until(start + i * step);
        sent.at.push_back(sender.set_gain(i % 2 == 0 ? high_db : low_db));
        sent.steps.push_back(i % 2 == 0 ? high_db - low_db : low_db - high_db);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(every_ms)));
    return sent;
}

// LATENCY_DUMP=PATH: the capture (float samples) in PATH, each change's frame and step in PATH.at.
void dump(const char* path, const std::vector<float>& audio, const Sent& sent, uint32_t first) {
    FILE* f = std::fopen(path, "wb");
    std::fwrite(audio.data(), 4, audio.size(), f);
    std::fclose(f);
    FILE* g = std::fopen((std::string(path) + ".at").c_str(), "w");
    for (size_t i = 0; i < sent.at.size(); ++i)
        std::fprintf(g, "%ld %g\n", static_cast<long>(static_cast<uint32_t>(sent.at[i] - first)), sent.steps[i]);
    std::fclose(g);
}

struct Measured {
    std::vector<double> ms;
    int missed = 0, unsteady = 0;
};

// The level before a change is taken over the last quarter of the time since the one before (at
// most 50 ms), which the one before has reached by then; a change is looked for until the next
// one is sent. Windows of 10 ms: a shorter one's level swings with a low note's phase.
Measured measure(const Levels& levels, const Sent& sent, uint32_t first, int rate, size_t every) {
    const size_t window = static_cast<size_t>(0.010 * rate), stride = static_cast<size_t>(0.002 * rate);
    const size_t before = std::min(every / 4, static_cast<size_t>(0.05 * rate));
    Measured m;
    for (size_t i = 0; i < sent.at.size(); ++i) {
        const long from = static_cast<long>(static_cast<uint32_t>(sent.at[i] - first));
        if (from < 0 || !steady(levels, static_cast<size_t>(from), before, window, 12.0)) {
            ++m.unsteady;
            continue;
        }
        const long hit = step_frame(levels, static_cast<size_t>(from), sent.steps[i], before, every, window, stride, 10);
        if (hit < 0) {
            ++m.missed;
            continue;
        }
        m.ms.push_back(1000.0 * static_cast<double>(hit - from) / rate);
    }
    return m;
}

json report(const Measured& m, const std::string& surface, const Probe& probe, int changes) {
    const std::vector<double>& ms = m.ms;
    // Whether it drifts over a long run: the median of the first tenth and of the last.
    const auto tenth = static_cast<std::ptrdiff_t>(std::min(ms.size(), std::max<size_t>(1, ms.size() / 10)));
    const std::vector<double> first_tenth(ms.begin(), ms.begin() + tenth), last_tenth(ms.end() - tenth, ms.end());
    return {{"surface", surface},
            {"rate", probe.rate()},
            {"period_frames", probe.period()},
            {"changes", changes},
            {"measured", ms.size()},
            {"missed", m.missed},
            {"unsteady", m.unsteady},
            {"skipped_frames", probe.skipped()},
            {"median_ms", percentile(ms, 0.5)},
            {"p95_ms", percentile(ms, 0.95)},
            {"p99_ms", percentile(ms, 0.99)},
            {"worst_ms", ms.empty() ? NAN : *std::max_element(ms.begin(), ms.end())},
            {"best_ms", ms.empty() ? NAN : *std::min_element(ms.begin(), ms.end())},
            {"first_tenth_median_ms", percentile(first_tenth, 0.5)},
            {"last_tenth_median_ms", percentile(last_tenth, 0.5)},
            {"latencies_ms", ms}};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"wavecast-latency: a change's latency to the JACK output, per control surface"};
    std::string server = "default", client = "wavecast", stream = "main", surface = "midi", osc = "127.0.0.1:9000",
                endpoint = "tcp://127.0.0.1:5557";
    int changes = 200, cc = 7;
    double every_ms = 250, low_db = -30, high_db = 0;
    app.add_option("--server", server, "JACK server name");
    app.add_option("--client", client, "the daemon's JACK client name");
    app.add_option("--stream", stream, "the stream whose output is measured");
    app.add_option("--surface", surface, "midi, osc or zeromq")->check(CLI::IsMember({"midi", "osc", "zeromq"}));
    app.add_option("--osc", osc, "the daemon's OSC address (HOST:PORT)");
    app.add_option("--endpoint", endpoint, "the daemon's control endpoint");
    app.add_option("--cc", cc, "the Control Change the daemon maps onto gain_db, 0 at low_db and 127 at high_db");
    app.add_option("--changes", changes, "changes measured")->check(CLI::Range(2, 100000));
    app.add_option("--every-ms", every_ms, "time between changes")->check(CLI::Range(100.0, 10000.0));
    app.add_option("--low-db", low_db, "gain_db of the low step");
    app.add_option("--high-db", high_db, "gain_db of the high step");
    CLI11_PARSE(app, argc, argv);

    Probe probe(server, every_ms / 1000.0 * (changes + 4));
    probe.connect(client + ":" + stream + "_out_L", probe.capture_port());
    if (surface == "midi") probe.connect(probe.cc_port(), client + ":control_midi_in");
    Sent sent;
    {
        Sender sender(probe, surface, osc, endpoint, stream, cc, high_db);
        sent = send_changes(sender, changes, every_ms, low_db, high_db);
    }
    if (const char* path = std::getenv("LATENCY_DUMP")) dump(path, probe.audio(), sent, probe.first_frame());
    const Measured m =
        measure(Levels(probe.audio()), sent, probe.first_frame(), probe.rate(), static_cast<size_t>(every_ms / 1000.0 * probe.rate()));
    std::printf("%s\n", report(m, surface, probe, changes).dump().c_str());
    return m.missed > (changes - m.unsteady) / 10 ? 1 : 0;
}
