#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>

#include <jack/midiport.h>
#include <sndfile.h>

#include "kernels/frame_features.h"
#include "kernels/model.h"

namespace harness {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string unique_name(const std::string& prefix) {
    std::random_device rd;
    return prefix + std::to_string(getpid()) + "_" + std::to_string(rd() % 100000);
}

Process::Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env, std::string log) : log_(std::move(log)) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
}

// SIGTERM first: a jackd killed outright leaves its entry in JACK's shared-memory registry, and
// after a few of those no new server may start on the machine.
Process::~Process() {
    if (!running()) return;
    signal(SIGTERM);
    if (!wait(5)) {
        signal(SIGKILL);
        wait(5);
    }
}

void Process::signal(int sig) const { kill(pid_, sig); }

std::optional<int> Process::wait(double timeout_s) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!status_) {
        int st = 0;
        const pid_t r = waitpid(pid_, &st, WNOHANG);
        if (r == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else if (std::chrono::steady_clock::now() > until) break;
        else std::this_thread::sleep_for(5ms);
    }
    return status_;
}

bool Process::running() { return !wait(0).has_value(); }

std::string Process::log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// One fixed name: JACK's shared-memory registry has room for few servers and reclaims the entry
// of a dead one only for a server of the same name, so unique names would fill it after a few
// crashed runs. Integration tests run serially (RUN_SERIAL), so one name is enough.
JackServer::JackServer(const std::string& dir, int rate, int period) : name_("wavecast-test"), dir_(dir), rate_(rate), period_(period) {
    start();
}

void JackServer::crash() {
    proc_->signal(SIGKILL);
    proc_->wait(5);
}

void JackServer::restart_at(int rate) {
    crash();
    rate_ = rate;
    start();
}

std::vector<std::string> jack_connections(const std::string& server, const std::string& port) {
    jack_status_t st;
    jack_client_t* c = jack_client_open("probe", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, server.c_str());
    if (!c) return {};
    std::vector<std::string> out;
    if (jack_port_t* p = jack_port_by_name(c, port.c_str()))
        if (const char** list = jack_port_get_all_connections(c, p)) {
            for (const char** q = list; *q; ++q) out.emplace_back(*q);
            jack_free(list);
        }
    jack_client_close(c);
    return out;
}

bool jack_connect_ports(const std::string& server, const std::string& from, const std::string& to) {
    jack_status_t st;
    jack_client_t* c = jack_client_open("probe", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, server.c_str());
    if (!c) return false;
    const bool ok = jack_connect(c, from.c_str(), to.c_str()) == 0;
    jack_client_close(c);
    return ok;
}

void JackServer::start() {
    static int starts = 0;
    // Realtime, as jackd runs by default and on a stage or a station: its threads and its
    // clients' process threads come before the daemon's generator, which on a small machine
    // keeps every core busy in bursts (a thread waking every 5 ms beside 3 busy ones here woke
    // at worst 0.1-2.5 ms late realtime, 3.5-4.8 ms late without). Where realtime is not
    // allowed jackd says so and runs without it.
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{"jackd", "-n", name_, "-d", "dummy", "-r", std::to_string(rate_), "-p", std::to_string(period_)}, env(),
        dir_ + "/jackd-" + name_ + "-" + std::to_string(++starts) + ".log");
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
        jack_status_t st;
        jack_client_t* c = jack_client_open("probe", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, name_.c_str());
        if (c) {
            jack_client_close(c);
            return;
        }
        if (!proc_->running()) break;
        std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("jackd -n " + name_ + " did not come up (another still running? stale /dev/shm/jack-*?): " + proc_->log());
}

Capture::Capture(const std::string& server, const std::string& left_port, const std::string& right_port, size_t frames)
    : left_(frames), right_(frames) {
    jack_status_t st;
    client_ = jack_client_open("capture", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, server.c_str());
    if (!client_) throw std::runtime_error("capture client cannot open");
    in_l_ = jack_port_register(client_, "in_L", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    in_r_ = jack_port_register(client_, "in_R", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(client_, &Capture::process, this);
    if (jack_activate(client_) != 0) throw std::runtime_error("capture client cannot activate");
    if (jack_connect(client_, left_port.c_str(), jack_port_name(in_l_)) != 0 ||
        jack_connect(client_, right_port.c_str(), jack_port_name(in_r_)) != 0)
        throw std::runtime_error("cannot connect " + left_port + " / " + right_port + " to the capture client");
}

Capture::~Capture() {
    if (client_) jack_client_close(client_);
}

int Capture::process(jack_nframes_t n, void* self) {
    auto* c = static_cast<Capture*>(self);
    const size_t at = c->filled_.load(std::memory_order_relaxed);
    const size_t take = std::min<size_t>(n, c->left_.size() - at);
    // Nothing is taken until both ports are connected, so the capture starts on a whole period.
    if (take == 0 || !jack_port_connected(c->in_l_) || !jack_port_connected(c->in_r_)) return 0;
    const auto* l = static_cast<const float*>(jack_port_get_buffer(c->in_l_, n));
    const auto* r = static_cast<const float*>(jack_port_get_buffer(c->in_r_, n));
    if (at == 0) c->first_frame_.store(jack_last_frame_time(c->client_));
    std::copy_n(l, take, c->left_.data() + at);
    std::copy_n(r, take, c->right_.data() + at);
    c->filled_.store(at + take, std::memory_order_release);
    return 0;
}

bool Capture::wait_full(double timeout_s) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (filled_.load() < left_.size()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

MidiCapture::MidiCapture(const std::string& server, const std::string& port, size_t capacity) : events_(capacity) {
    jack_status_t st;
    client_ = jack_client_open("midicapture", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &st, server.c_str());
    if (!client_) throw std::runtime_error("MIDI capture client cannot open");
    in_ = jack_port_register(client_, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(client_, &MidiCapture::process, this);
    if (jack_activate(client_) != 0) throw std::runtime_error("MIDI capture client cannot activate");
    if (jack_connect(client_, port.c_str(), jack_port_name(in_)) != 0) throw std::runtime_error("cannot connect " + port);
}

MidiCapture::~MidiCapture() {
    if (client_) jack_client_close(client_);
}

int MidiCapture::process(jack_nframes_t n, void* self) {
    auto* c = static_cast<MidiCapture*>(self);
    void* buf = jack_port_get_buffer(c->in_, n);
    const jack_nframes_t start = jack_last_frame_time(c->client_);
    const uint32_t count = jack_midi_get_event_count(buf);
    size_t at = c->count_.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < count && at < c->events_.size(); ++i) {
        jack_midi_event_t ev;
        if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size > 3) continue;
        Event& e = c->events_[at++];
        e.frame = start + ev.time;
        e.size = ev.size;
        std::copy_n(ev.buffer, ev.size, e.bytes);
    }
    c->count_.store(at, std::memory_order_release);
    return 0;
}

std::vector<MidiCapture::Event> MidiCapture::events() const {
    return {events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(count_.load(std::memory_order_acquire))};
}

zmq::socket_t subscribe(zmq::context_t& ctx, const std::string& endpoint, const std::string& topic, int timeout_ms) {
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, topic);
    sub.set(zmq::sockopt::rcvtimeo, timeout_ms);
    sub.connect(endpoint);
    return sub;
}

long long audio_frames(const std::string& path, int* rate) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) return -1;
    sf_close(f);
    if (rate) *rate = info.samplerate;
    return info.frames;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_midi_with_mido(const std::string& midi, const std::string& log) {
    // Debian's interpreter: a python3 earlier on PATH may not see Debian's python3-mido.
    Process reader({"/usr/bin/python3", std::string(WAVECAST_SOURCE_DIR) + "/tests/integration/midi_notes.py", midi}, {}, log);
    if (reader.wait(30).value_or(-1) != 0) throw std::runtime_error("midi_notes.py failed: " + reader.log());
    return reader.log();
}

std::vector<wavecast::MidiEvent> expected_notes(const std::string& style, uint64_t seed, double seconds) {
    const auto styles = wavecast::load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    wavecast::Composer c(4, 16000, 160, seed);
    c.set_style(styles.at(style));
    c.set_intensity(0.6);
    c.set_temperature(1.0);
    std::vector<float> feats(static_cast<size_t>(4) * wavecast::kFrameFeatures);
    std::vector<wavecast::MidiEvent> out;
    for (int f = 0; f < static_cast<int>(seconds * 100) + 10; ++f) {
        c.next_frames(1, feats.data());
        c.take_events(out);
    }
    return out;
}

std::optional<json> request(const std::string& endpoint, const std::string& raw, int timeout_ms) {
    static zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
    s.send(zmq::buffer(raw), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    (void)s.recv(m, zmq::recv_flags::none);
    return json::parse(m.to_string_view(), nullptr, false);
}

Daemon::Daemon(const std::string& dir, const JackServer& jack, const DaemonOptions& o) : jack_name(o.jack_name) {
    const std::string tag = unique_name("d");
    const std::string log = dir + "/" + tag + ".log";
    control = o.control.empty() ? "ipc://" + dir + "/" + tag + "-control" : o.control;
    telemetry = o.telemetry.empty() ? "ipc://" + dir + "/" + tag + "-telemetry" : o.telemetry;
    model = dir + "/" + tag + "-model.safetensors";
    config = dir + "/" + tag + ".toml";
    wavecast::save_model(model, wavecast::random_model(wavecast::named_shape(o.shape), 1));
    const std::string model_in_config = o.relative_paths ? fs::path(model).filename().string() : model;
    const std::string recordings = o.recordings.empty() ? (o.relative_paths ? "." : dir) : o.recordings;
    std::ofstream(config) << "[daemon]\nbackend = \"cpu\"\ncontrol = \"" << control << "\"\ntelemetry = \"" << telemetry << "\"\nmodel = \""
                          << model_in_config << "\"\nstyles = \""
                          << (o.styles_dir.empty() ? std::string(WAVECAST_SOURCE_DIR) + "/config/styles" : o.styles_dir)
                          << "\"\nrecordings = \"" << recordings << "\"\nstatus_interval_s = 0.25\n"
                          << o.daemon_extra << "\n[jack]\nclient_name = \"" << o.jack_name << "\"\nserver = \"" << jack.name() << "\"\n"
                          << o.jack_extra << "\n[[stream]]\nname = \"main\"\nstyle = \"techno\"\nlookahead_ms = " << o.lookahead_ms << "\n"
                          << o.sections << "\n";
    auto env = jack.env();
    env.insert(o.env.begin(), o.env.end());
    if (o.journal) {
        // The child opens the log without replacing it, so its device and inode are known now.
        std::ofstream{log};
        struct stat st {};
        stat(log.c_str(), &st);
        env["JOURNAL_STREAM"] = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    }
    std::vector<std::string> argv = o.wrapper;
    // A daemon with faults injected is the test build that carries them (tests/support/faults.h).
    const bool faults = o.env.count("WAVECAST_TEST_FAULTS") > 0;
    argv.insert(argv.end(), {faults ? WAVECASTD_FAULTS_BIN : WAVECASTD_BIN, "--config", config});
    proc = std::make_unique<Process>(argv, env, log);
}

size_t silent_frames(const Capture& cap) {
    size_t zeros = 0;
    for (size_t i = 0; i < cap.frames(); ++i) zeros += cap.left()[i] == 0.0f && cap.right()[i] == 0.0f;
    return zeros;
}

int free_tcp_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("cannot find a free TCP port");
    close(fd);
    return ntohs(a.sin_port);
}

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

std::pair<int, std::string> run_client(const std::string& dir, const std::vector<std::string>& args) {
    std::vector<std::string> argv{WAVECAST_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, {}, dir + "/" + unique_name("client") + ".log");
    const auto rc = p.wait(30);
    return {rc.value_or(-1), p.log()};
}

bool Daemon::wait_ready(double timeout_s) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < until) {
        if (!proc->running()) return false;
        auto r = call({{"cmd", "ping"}}, 200);
        if (r && r->value("ok", false)) return true;
    }
    return false;
}

json Daemon::stream_status() const {
    auto r = call({{"cmd", "status"}});
    if (!r || !r->value("ok", false)) throw std::runtime_error("status did not answer");
    return (*r)["streams"][0];
}

}  // namespace harness
