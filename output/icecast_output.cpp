#include "output/icecast_output.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "output/icecast_source.h"
#include "output/stream_encoder.h"

namespace wavecast {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kMaxBackoffS = 30;
constexpr auto kConnectTimeout = 10s;
// A server that takes none of what waits for this long counts as stalled and is connected again.
constexpr auto kStall = 10s;
// An MP3 title the server has not acknowledged by then is given up (and logged).
constexpr auto kTitleTimeout = 3s;

}  // namespace

struct IcecastOutput::Connection {
    std::unique_ptr<IcecastSource> source;
    std::unique_ptr<StreamEncoder> enc;
    int rate = 0;
    std::string title;
    // MP3 only: the title request in flight, and the newest title waiting for it to end.
    std::unique_ptr<IcyTitleUpdate> title_update;
    std::string title_waiting;
    bool title_pending = false;
};

namespace {
// The ring holds twice the queue at 48 kHz, so that the sender, which drops what is beyond the
// queue, has room to do so before the producer finds it full (at 96 kHz it holds the queue once).
size_t ring_floats(double queue_ms) { return static_cast<size_t>(2 * 2 * queue_ms / 1000.0 * 48000) + 4096; }
constexpr auto kSenderWait = 20ms;
}  // namespace

IcecastOutput::IcecastOutput(std::string stream, IcecastConfig cfg)
    : stream_(std::move(stream)),
      cfg_(std::move(cfg)),
      url_("http://" + cfg_.host + ":" + std::to_string(cfg_.port) + cfg_.mount),
      audio_(ring_floats(cfg_.queue_ms)) {
    thread_ = std::thread([this] { run(); });
}

IcecastOutput::~IcecastOutput() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();  // bounded: every wait of the thread's sees stop_ within ~20 ms
}

void IcecastOutput::push(const float* interleaved, size_t frames, int rate, const std::string& title) {
    if (frames == 0) return;
    if (title != pushed_title_) {
        pushed_title_ = title;
        std::lock_guard lock(mu_);
        next_title_ = title;
    }
    rate_.store(rate, std::memory_order_relaxed);
    const size_t wrote = audio_.write(interleaved, 2 * frames);
    if (wrote < 2 * frames) dropped_frames_ += frames - wrote / 2;
    cv_.notify_one();  // no lock: a wake-up lost here is made up within kSenderWait
}

bool IcecastOutput::pop(Chunk& c) {
    {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, kSenderWait, [&] { return stop_ || audio_.size() > 0; });
        if (stop_) return false;
        c.title = next_title_;
    }
    c.rate = rate_.load(std::memory_order_relaxed);
    // Beyond the queue's length the oldest audio goes: a listener hears what plays now.
    const size_t cap = 2 * static_cast<size_t>(cfg_.queue_ms / 1000.0 * std::max(c.rate, 1));
    for (size_t waiting = audio_.size(); waiting > cap;) {
        float scratch[1024];
        const size_t n = audio_.read(scratch, std::min(waiting - cap, std::size(scratch)));
        dropped_frames_ += n / 2;
        waiting -= n;
    }
    c.pcm.resize(audio_.size() & ~size_t{1});
    c.pcm.resize(audio_.read(c.pcm.data(), c.pcm.size()));
    return true;
}

bool IcecastOutput::stopping() const {
    std::lock_guard lock(mu_);
    return stop_;
}

IcecastStatus IcecastOutput::status() const {
    IcecastStatus s;
    s.url = url_;
    s.format = cfg_.format;
    {
        std::lock_guard lock(mu_);
        s.title = title_;
        s.last_error = last_error_;
        s.previous_error = previous_error_;
        s.title_error = title_error_;
    }
    s.connected = connected_.load();
    s.bytes_sent = bytes_sent_.load();
    s.connects = connects_.load();
    s.dropped_frames = dropped_frames_.load();
    s.offline_frames = offline_frames_.load();
    return s;
}

void IcecastOutput::fail(const std::string& why) {
    std::lock_guard lock(mu_);
    last_error_ = why;
    previous_error_ = why;
}

void IcecastOutput::connected_ok(const std::string& title) {
    std::lock_guard lock(mu_);
    last_error_.clear();
    title_ = title;
}

std::unique_ptr<IcecastOutput::Connection> IcecastOutput::connect(const Chunk& first) {
    auto c = std::make_unique<Connection>();
    try {
        c->source = std::make_unique<IcecastSource>(cfg_, first.rate, kConnectTimeout, [this] { return stopping(); });
    } catch (const std::runtime_error& e) {
        if (stopping()) return nullptr;
        throw;
    }
    c->rate = first.rate;
    c->enc = make_stream_encoder(cfg_.format, first.rate, cfg_.bitrate_kbps, first.title, "wavecast " + stream_);
    return c;
}

// Opus carries the title in the stream; MP3 sends it beside, one request at a time, the newest
// title waiting while one is in flight.
void IcecastOutput::retitle(Connection& cn, const std::string& title, std::string& bytes) {
    cn.title = title;
    {
        std::lock_guard lock(mu_);
        title_ = title;
    }
    if (cn.enc->retitle(title, bytes)) return;
    cn.title_waiting = title;
    cn.title_pending = true;
    step_title(cn);
}

void IcecastOutput::step_title(Connection& cn) {
    if (cn.title_update && cn.title_update->step()) {
        const std::string& why = cn.title_update->error();
        if (!why.empty()) spdlog::warn("icecast {}: the title was not taken: {}", url_, why);
        std::lock_guard lock(mu_);
        title_error_ = why;
        cn.title_update.reset();
    }
    if (!cn.title_update && cn.title_pending) {
        cn.title_update = std::make_unique<IcyTitleUpdate>(cfg_, cn.source->address(), cn.title_waiting, kTitleTimeout);
        cn.title_pending = false;
        step_title(cn);
    }
}

void IcecastOutput::run() {
    std::unique_ptr<Connection> conn;
    double backoff_s = 1;
    auto next_try = Clock::now();
    std::string bytes;
    auto lost = [&](const std::string& why) {
        fail(why);
        conn.reset();
        connected_ = false;
        spdlog::warn("icecast {} (stream '{}'): {}; trying again in {:.0f} s", url_, stream_, why, backoff_s);
        next_try = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff_s));
        backoff_s = std::min(backoff_s * 2, kMaxBackoffS);
    };

    Chunk c;
    while (pop(c)) {
        const size_t frames = c.pcm.size() / 2;
        if (frames == 0) {
            if (conn) step_title(*conn);  // a title request in flight goes on while no audio comes
            continue;
        }
        if (conn && c.rate != conn->rate) {
            spdlog::info("icecast {}: the stream now plays at {} Hz; connecting again at that rate", url_, c.rate);
            conn.reset();
            connected_ = false;
            next_try = Clock::now();
        }
        if (!conn) {
            if (Clock::now() < next_try) {
                offline_frames_ += frames;
                continue;
            }
            try {
                conn = connect(c);
                if (!conn) break;  // stopped while connecting
            } catch (const std::exception& e) {
                offline_frames_ += frames;
                lost(e.what());
                continue;
            }
            connected_ = true;
            backoff_s = 1;
            connected_ok(c.title);
            spdlog::info("icecast {} (stream '{}'): {}, {} at {} kbit/s", url_, stream_, ++connects_ == 1 ? "streaming" : "streaming again",
                         cfg_.format, cfg_.bitrate_kbps);
            conn->title = c.title;
            if (cfg_.format == "mp3") retitle(*conn, c.title, bytes);
        }
        try {
            if (c.title != conn->title) retitle(*conn, c.title, bytes);
            conn->enc->encode(c.pcm.data(), frames, bytes);
            const uint64_t before = conn->source->sent();
            conn->source->send(bytes, kStall);
            bytes_sent_ += conn->source->sent() - before;
            bytes.clear();
            step_title(*conn);
        } catch (const std::exception& e) {
            bytes.clear();
            lost(e.what());
        }
    }
}

}  // namespace wavecast
