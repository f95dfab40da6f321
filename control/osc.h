// OSC over UDP beside the ZeroMQ control plane, for TouchOSC, Max and Pure Data. Each message
// becomes the protocol's own request, answered by the same handler on the control thread, so it is
// checked exactly as a ZeroMQ request is. The socket is ours (bound where the config says, loopback
// unless peers are allowed by address); liblo only reads and writes the OSC messages.
//   /wavecast/style s [f]       a style, with a crossfade in seconds
//   /wavecast/set/<param> f|i   one live parameter (`wavecast params` lists them)
//   /wavecast/record s          a recording (a path under [daemon] recordings)
//   /wavecast/stop-record
//   /wavecast/status            the status (registered peers only: it is a thousand bytes and more)
//   /wavecast/register [s]      status pushed to the sender every status interval for 30 s (at most
//                               16 peers): answered with /wavecast/confirm s TOKEN, which the peer
//                               sends back (/wavecast/register s TOKEN) to register, and again to
//                               renew before the 30 s are up
//   /wavecast/unregister
// Every message is answered to its sender: /wavecast/reply s with the reply's JSON (as a ZeroMQ
// client gets it) when it was done, /wavecast/error s s (code, message) when it was refused.
//
// UDP's source address can be forged, so nothing large goes to an address that has not shown it
// receives: the token proves it (a keyed hash of the peer's address and port, so a stranger holds
// no state here), a registration lapses unless renewed, and a reply to an unregistered peer is
// never more than a few times its request (issue 33: 48 forged bytes drew 13,664 in 10 s).
#pragma once

#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "control/surface.h"
#include "util/log_limit.h"

namespace wavecast {

// Why `address` (HOST:PORT) cannot be an OSC server's with `allow`, or "" when it can.
std::string osc_address_problem(const std::string& address, const std::vector<std::string>& allow);

struct OscStats {
    uint64_t received = 0;  // datagrams from peers it takes
    uint64_t ignored = 0;   // datagrams from peers outside osc_allow, dropped unread
    uint64_t refused = 0;   // answered with /wavecast/error
    size_t registered = 0;  // peers status is pushed to now
};

class OscServer final : public Surface {
public:
    static constexpr size_t kMaxPeers = 16;
    static constexpr std::chrono::seconds kRegistration{30};
    // `address` is HOST:PORT (port 0: any free one). A host other than loopback needs `allow`: the
    // only peers whose messages are taken. `registration`: how long a registration lasts unless
    // renewed. Throws std::runtime_error naming the address.
    OscServer(const std::string& address, const std::vector<std::string>& allow, std::chrono::milliseconds registration = kRegistration);
    ~OscServer() override;
    OscServer(const OscServer&) = delete;
    OscServer& operator=(const OscServer&) = delete;

    int port() const;

    const char* name() const override { return "osc"; }
    zmq::pollitem_t poll_item() override { return {nullptr, fd_, ZMQ_POLLIN, 0}; }
    // Reads every datagram waiting, and answers each.
    void take(Replies& replies) override;
    void push_status(const nlohmann::json& status) override;
    nlohmann::json stats() const override;
    OscStats counts() const;

    // The token that registers `peer` (exposed for the unit test).
    std::string token_for(const sockaddr_in& peer, int64_t epoch) const;

private:
    using Clock = std::chrono::steady_clock;
    struct Peer {
        sockaddr_in addr{};
        Clock::time_point until;
    };
    // `request_bytes`: what the sender sent, which bounds what an unregistered peer is sent back.
    void send(const sockaddr_in& to, const std::string& path, const std::vector<std::string>& args, size_t request_bytes);
    void reply(const sockaddr_in& to, const nlohmann::json& reply, size_t request_bytes);
    size_t limit_for(const sockaddr_in& to, size_t request_bytes) const;
    void refuse(const sockaddr_in& to, const std::string& code, const std::string& message, size_t request_bytes);
    void answer(const sockaddr_in& from, const std::string& path, int argc, const char* types, void** argv, size_t request_bytes,
                Replies& replies);
    void enrol(const sockaddr_in& from, const std::vector<nlohmann::json>& args, size_t request_bytes);
    bool registered(const sockaddr_in& peer) const;
    void expire();

    int fd_ = -1;
    bool loopback_ = true;
    std::set<in_addr_t> allow_;
    std::vector<Peer> peers_;
    Clock::duration registration_;
    std::array<unsigned char, 16> key_{};  // the token's key, new at every start
    OscStats stats_;
    LogLimit ignored_log_;
};

}  // namespace wavecast
