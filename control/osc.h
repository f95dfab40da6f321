// OSC over UDP beside the ZeroMQ control plane, for TouchOSC, Max and Pure Data. Each message
// becomes the protocol's own request, answered by the same handler on the control thread, so it is
// checked exactly as a ZeroMQ request is. The socket is ours (bound where the config says, loopback
// unless peers are allowed by address); liblo only reads and writes the OSC messages.
//   /wavecast/style s [f]       a style, with a crossfade in seconds
//   /wavecast/set/<param> f|i   one live parameter (`wavecast params` lists them)
//   /wavecast/record s          a recording (a path under [daemon] recordings)
//   /wavecast/stop-record
//   /wavecast/status            the status
//   /wavecast/register          status pushed to the sender every status interval (at most 16 peers)
//   /wavecast/unregister
// Every message is answered to its sender: /wavecast/reply s with the reply's JSON (as a ZeroMQ
// client gets it), or, for one that is not OSC or names no command, /wavecast/error s s (code, message).
#pragma once

#include <netinet/in.h>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace wavecast {

// Why `address` (HOST:PORT) cannot be an OSC server's with `allow`, or "" when it can.
std::string osc_address_problem(const std::string& address, const std::vector<std::string>& allow);

class OscServer {
public:
    static constexpr size_t kMaxPeers = 16;
    // `address` is HOST:PORT (port 0: any free one). A host other than loopback needs `allow`: the
    // only peers whose messages are taken. Throws std::runtime_error naming the address.
    OscServer(const std::string& address, const std::vector<std::string>& allow);
    ~OscServer();
    OscServer(const OscServer&) = delete;
    OscServer& operator=(const OscServer&) = delete;

    int fd() const { return fd_; }
    int port() const;

    // Turns a request (the protocol's JSON) into its reply; `deliver` is how a reply that comes
    // later (file work) reaches the sender.
    using Deliver = std::function<void(const nlohmann::json& reply)>;
    using Handle = std::function<void(const std::string& request, const Deliver& deliver)>;
    // Reads every datagram waiting, and answers each.
    void drain(const Handle& handle);
    void push_status(const nlohmann::json& status);

private:
    void send(const sockaddr_in& to, const std::string& path, const std::vector<std::string>& args);
    void answer(const sockaddr_in& from, const std::string& path, int argc, const char* types, void** argv, const Handle& handle);

    int fd_ = -1;
    bool loopback_ = true;
    std::set<in_addr_t> allow_;
    std::vector<sockaddr_in> peers_;
};

}  // namespace wavecast
