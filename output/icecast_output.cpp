#include "icecast_output.h"

#include <shout/shout.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "stream_encoder.h"

namespace wavecast {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kMaxBackoffS = 30;
constexpr auto kConnectTimeout = std::chrono::seconds(10);
// Encoded audio the server has not taken yet, in seconds of the bitrate, past which it counts as
// stalled and the connection is made again.
constexpr double kStallS = 10;

void init_libshout() {
    static std::once_flag once;
    std::call_once(once, [] { shout_init(); });
}

std::string shout_why(shout_t* sh, int rc) {
    const std::string what = shout_get_error(sh);
    if (rc == SHOUTERR_NOLOGIN)
        return "the server refused the source login (" + what + "): check user, password and that the mount is free";
    if (rc == SHOUTERR_NOCONNECT) return "no connection (" + what + ")";
    return what;
}

}  // namespace

struct IcecastOutput::Connection {
    shout_t* sh = nullptr;
    std::unique_ptr<StreamEncoder> enc;
    int rate = 0;
    std::string title;
    ~Connection() {
        if (!sh) return;
        shout_close(sh);
        shout_free(sh);
    }
};

IcecastOutput::IcecastOutput(std::string stream, IcecastConfig cfg)
    : stream_(std::move(stream)), cfg_(std::move(cfg)), url_("http://" + cfg_.host + ":" + std::to_string(cfg_.port) + cfg_.mount) {
    init_libshout();
    thread_ = std::thread([this] { run(); });
}

IcecastOutput::~IcecastOutput() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void IcecastOutput::push(const float* interleaved, size_t frames, int rate, const std::string& title) {
    if (frames == 0) return;
    {
        std::lock_guard lock(mu_);
        queue_.push_back(Chunk{std::vector<float>(interleaved, interleaved + 2 * frames), rate, title});
        queued_frames_ += frames;
        const size_t cap = static_cast<size_t>(cfg_.queue_ms / 1000.0 * rate);
        while (queued_frames_ > cap && queue_.size() > 1) {
            const size_t n = queue_.front().pcm.size() / 2;
            dropped_frames_ += n;
            queued_frames_ -= n;
            queue_.pop_front();
        }
    }
    cv_.notify_one();
}

bool IcecastOutput::pop(Chunk& c) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return false;
    c = std::move(queue_.front());
    queue_.pop_front();
    queued_frames_ -= c.pcm.size() / 2;
    return true;
}

IcecastStatus IcecastOutput::status() const {
    IcecastStatus s;
    s.url = url_;
    s.format = cfg_.format;
    {
        std::lock_guard lock(mu_);
        s.title = title_;
        s.last_error = last_error_;
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
}

std::unique_ptr<IcecastOutput::Connection> IcecastOutput::connect(const Chunk& first) {
    auto c = std::make_unique<Connection>();
    c->sh = shout_new();
    if (!c->sh) throw std::runtime_error("libshout: out of memory");
    shout_t* sh = c->sh;
    auto set = [&](int rc, const char* what) {
        if (rc != SHOUTERR_SUCCESS) throw std::runtime_error(std::string(what) + ": " + shout_get_error(sh));
    };
    set(shout_set_host(sh, cfg_.host.c_str()), "host");
    set(shout_set_port(sh, static_cast<unsigned short>(cfg_.port)), "port");
    set(shout_set_mount(sh, cfg_.mount.c_str()), "mount");
    set(shout_set_user(sh, cfg_.user.c_str()), "user");
    set(shout_set_password(sh, cfg_.password.c_str()), "password");
    set(shout_set_protocol(sh, SHOUT_PROTOCOL_HTTP), "protocol");
    set(shout_set_tls(sh, SHOUT_TLS_DISABLED), "tls");
    set(shout_set_content_format(sh, cfg_.format == "mp3" ? SHOUT_FORMAT_MP3 : SHOUT_FORMAT_OGG, SHOUT_USAGE_AUDIO, nullptr), "format");
    set(shout_set_nonblocking(sh, SHOUT_BLOCKING_NONE), "nonblocking");
    set(shout_set_agent(sh, "wavecast"), "agent");
    set(shout_set_public(sh, cfg_.is_public ? 1 : 0), "public");
    for (const auto& [key, value] : {std::pair{SHOUT_META_NAME, &cfg_.name}, std::pair{SHOUT_META_GENRE, &cfg_.genre},
                                     std::pair{SHOUT_META_DESCRIPTION, &cfg_.description}, std::pair{SHOUT_META_URL, &cfg_.url}})
        if (!value->empty()) set(shout_set_meta(sh, key, value->c_str()), key);
    set(shout_set_audio_info(sh, SHOUT_AI_BITRATE, std::to_string(cfg_.bitrate_kbps).c_str()), "bitrate");
    set(shout_set_audio_info(sh, SHOUT_AI_SAMPLERATE, std::to_string(first.rate).c_str()), "samplerate");
    set(shout_set_audio_info(sh, SHOUT_AI_CHANNELS, "2"), "channels");

    // Non-blocking, so that a server that never answers cannot hold the thread past a stop.
    int rc = shout_open(sh);
    const auto deadline = Clock::now() + kConnectTimeout;
    while (rc == SHOUTERR_BUSY || rc == SHOUTERR_RETRY) {
        {
            std::lock_guard lock(mu_);
            if (stop_) return nullptr;
        }
        if (Clock::now() > deadline) throw std::runtime_error("no answer within 10 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        rc = shout_get_connected(sh);
    }
    if (rc != SHOUTERR_SUCCESS && rc != SHOUTERR_CONNECTED) throw std::runtime_error(shout_why(sh, rc));
    c->rate = first.rate;
    c->title = first.title;
    c->enc = make_stream_encoder(cfg_.format, first.rate, cfg_.bitrate_kbps, first.title, "wavecast " + stream_);
    return c;
}

void IcecastOutput::run() {
    std::unique_ptr<Connection> conn;
    double backoff_s = 1;
    auto next_try = Clock::now();
    std::string bytes;
    auto send = [&](Connection& cn) {
        if (bytes.empty()) return;
        const int rc = shout_send(cn.sh, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        if (rc != SHOUTERR_SUCCESS && rc != SHOUTERR_BUSY) throw std::runtime_error("sending: " + shout_why(cn.sh, rc));
        bytes_sent_ += bytes.size();
        bytes.clear();
        const ssize_t waiting = shout_queuelen(cn.sh);
        if (waiting > static_cast<ssize_t>(kStallS * cfg_.bitrate_kbps * 1000 / 8))
            throw std::runtime_error("the server has not taken " + std::to_string(static_cast<int>(kStallS)) + " s of audio");
    };
    auto retitle = [&](Connection& cn, const std::string& title) {
        if (!cn.enc->retitle(title, bytes)) {
            // MP3: the title goes to the server beside the stream, as ICY metadata.
            shout_metadata_t* md = shout_metadata_new();
            if (md && shout_metadata_add(md, "song", title.c_str()) == SHOUTERR_SUCCESS) {
                const int rc = shout_set_metadata_utf8(cn.sh, md);
                if (rc != SHOUTERR_SUCCESS) spdlog::warn("icecast {}: the title was not taken: {}", url_, shout_get_error(cn.sh));
            }
            if (md) shout_metadata_free(md);
        }
        cn.title = title;
        std::lock_guard lock(mu_);
        title_ = title;
    };
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
            spdlog::info("icecast {} (stream '{}'): {}, {} at {} kbit/s", url_, stream_, ++connects_ == 1 ? "streaming" : "streaming again",
                         cfg_.format, cfg_.bitrate_kbps);
            {
                std::lock_guard lock(mu_);
                title_ = c.title;
            }
            if (cfg_.format == "mp3") retitle(*conn, c.title);
        }
        try {
            if (c.title != conn->title) retitle(*conn, c.title);
            conn->enc->encode(c.pcm.data(), frames, bytes);
            send(*conn);
        } catch (const std::exception& e) {
            bytes.clear();
            lost(e.what());
        }
    }
}

}  // namespace wavecast
