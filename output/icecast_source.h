// One source connection to an Icecast server (HTTP PUT, as Icecast 2.4 takes it) and the MP3
// title updates beside it, on plain non-blocking sockets where every wait has a deadline.
//
// Not libshout: libshout 2.4 sends the ICY title with a blocking request that has no timeout (a
// server that never answered it held the output thread, and through a reload the main thread,
// forever), and it hides its socket, whose send buffer the kernel grows to minutes of audio, so
// a server that stopped reading stayed "connected" for minutes (issue 33).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>

#include "output/icecast_output.h"

namespace wavecast {

using IcecastClock = std::chrono::steady_clock;

// Where the server is, resolved once a connection, for the title requests too.
struct IcecastAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

class IcecastSource {
public:
    // Connects and logs in within `timeout`, or throws why not; `stopped` is asked every few
    // milliseconds and, when true, ends the attempt (std::runtime_error "stopped").
    IcecastSource(const IcecastConfig& cfg, int rate, std::chrono::milliseconds timeout, const std::function<bool()>& stopped);
    ~IcecastSource();
    IcecastSource(const IcecastSource&) = delete;
    IcecastSource& operator=(const IcecastSource&) = delete;

    // Queues encoded bytes and sends what the socket takes now, never waiting. Throws when the
    // server closed the connection, or has taken nothing for `stall` while audio waited.
    void send(const std::string& bytes, std::chrono::milliseconds stall);
    // Bytes handed to the socket (what the kernel holds included) and bytes still waiting here.
    uint64_t sent() const { return sent_; }
    size_t waiting() const { return pending_.size(); }
    const IcecastAddress& address() const { return addr_; }

private:
    int fd_ = -1;
    IcecastAddress addr_;
    std::string pending_;
    uint64_t sent_ = 0;
    IcecastClock::time_point progress_;
};

// An MP3 title change as ICY metadata (GET /admin/metadata, a connection of its own), stepped by
// the output thread between blocks so that a server slow to answer never holds the audio back.
class IcyTitleUpdate {
public:
    IcyTitleUpdate(const IcecastConfig& cfg, const IcecastAddress& to, const std::string& title, std::chrono::milliseconds timeout);
    ~IcyTitleUpdate();
    IcyTitleUpdate(const IcyTitleUpdate&) = delete;
    IcyTitleUpdate& operator=(const IcyTitleUpdate&) = delete;

    // Moves the request on without waiting; true once it is over (taken, refused or timed out).
    bool step();
    // After step() is true: "" when the server took the title, else why not.
    const std::string& error() const { return error_; }

private:
    void finish(std::string why);

    int fd_ = -1;
    bool connected_ = false, done_ = false;
    std::string request_, reply_, error_;
    size_t written_ = 0;
    IcecastClock::time_point deadline_;
};

// Basic authentication and URL query text, exposed for the unit test.
std::string base64(const std::string& in);
std::string url_encode(const std::string& in);

}  // namespace wavecast
