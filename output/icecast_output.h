// A stream's feed to an Icecast server: what the stream plays, encoded (stream_encoder.h) and sent
// (icecast_source.h) from a thread of its own, with the style and section as the title. The
// producer hands it each block through a lock-free ring and never waits on the network, takes
// no lock and allocates nothing (but when the title changes); audio beyond `queue_ms` is dropped
// from the oldest by the sender and counted. A server that goes away, stops reading for 10 s, or
// refuses the login or the mount, is retried with backoff (1 s doubling to 30 s) while everything
// else plays on. Every network wait has a deadline and sees a stop within tens of milliseconds, so
// removing an output (a reload) never waits on its server.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "output/spsc_ring.h"

namespace wavecast {

struct IcecastConfig {
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string mount;  // "/live.opus"
    std::string user = "source";
    std::string password;  // given, or read from password_file at load
    std::string format = "opus";
    int bitrate_kbps = 128;
    std::string name, genre, description, url;  // what the server's directory shows
    bool is_public = false;
    double queue_ms = 2000;  // audio waiting to be sent, at most
    bool operator==(const IcecastConfig&) const = default;
};

struct IcecastStatus {
    std::string url;  // http://host:port/mount
    std::string format, title;
    std::string last_error;      // what keeps it from streaming now; "" while connected
    std::string previous_error;  // the last trouble it recovered from, kept for the station's log
    std::string title_error;     // why the server did not take the last MP3 title, "" when it did
    bool connected = false;
    uint64_t bytes_sent = 0;
    uint64_t connects = 0;        // successful logins, the first included
    uint64_t dropped_frames = 0;  // oldest audio dropped from a full queue
    uint64_t offline_frames = 0;  // audio played while not connected, never sent
};

class IcecastOutput {
public:
    // `stream`: the wavecast stream's name, in the log and as the Opus ARTIST tag.
    IcecastOutput(std::string stream, IcecastConfig cfg);
    ~IcecastOutput();
    IcecastOutput(const IcecastOutput&) = delete;
    IcecastOutput& operator=(const IcecastOutput&) = delete;

    const IcecastConfig& config() const { return cfg_; }
    // Producer thread: a block as it plays, interleaved stereo at `rate`, and the title it plays
    // under. A block the ring cannot take (the sender held up past twice `queue_ms`) is dropped.
    void push(const float* interleaved, size_t frames, int rate, const std::string& title);
    IcecastStatus status() const;

private:
    struct Chunk {
        std::vector<float> pcm;
        int rate = 0;
        std::string title;
    };
    struct Connection;

    void run();
    // The sender: waits (bounded) for audio, drops what is beyond the queue's length, and takes
    // the rest into `c`; false once stopping.
    bool pop(Chunk& c);
    bool stopping() const;
    std::unique_ptr<Connection> connect(const Chunk& first);
    void fail(const std::string& why);
    void connected_ok(const std::string& title);
    void retitle(Connection& cn, const std::string& title, std::string& bytes);
    void step_title(Connection& cn);

    const std::string stream_;
    const IcecastConfig cfg_;
    const std::string url_;

    mutable std::mutex mu_;  // the sender's wait, the stop, the errors and titles; never the producer's per block
    std::condition_variable cv_;
    SpscRing<float> audio_;  // interleaved stereo
    std::atomic<int> rate_{0};
    std::string pushed_title_;  // the producer's own copy: a new title is handed over only when it changes
    std::string next_title_;    // under mu_
    bool stop_ = false;
    std::string last_error_, previous_error_, title_error_, title_;

    std::atomic<bool> connected_{false};
    std::atomic<uint64_t> bytes_sent_{0}, connects_{0}, dropped_frames_{0}, offline_frames_{0};
    std::thread thread_;
};

}  // namespace wavecast
