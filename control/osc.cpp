#include "osc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <lo/lo_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "protocol.h"

namespace wavecast {

using nlohmann::json;

namespace {

constexpr const char* kPrefix = "/wavecast/";
constexpr size_t kMaxDatagram = 65536;

sockaddr_in parse_address(const std::string& address) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("OSC address '" + address + "': expected HOST:PORT");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
    if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &a.sin_addr) != 1)
        throw std::runtime_error("OSC address '" + address + "': '" + host + "' is not an IPv4 address");
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p < 0 || p > 65535) throw std::runtime_error("OSC address '" + address + "': bad port '" + port + "'");
    a.sin_port = htons(static_cast<uint16_t>(p));
    return a;
}

bool is_loopback(in_addr a) { return (ntohl(a.s_addr) >> 24) == 127; }

// An OSC argument as JSON: numbers as numbers, strings as strings; anything else is refused.
bool arg_json(char type, lo_arg* a, json& out) {
    switch (type) {
        case 'i': out = a->i; return true;
        case 'h': out = a->h; return true;
        case 'f': out = a->f; return true;
        case 'd': out = a->d; return true;
        case 's':
        case 'S': out = std::string(&a->s); return true;
        case 'T': out = true; return true;
        case 'F': out = false; return true;
        default: return false;
    }
}

}  // namespace

std::string osc_address_problem(const std::string& address, const std::vector<std::string>& allow) {
    try {
        const sockaddr_in at = parse_address(address);
        for (const auto& peer : allow) {
            in_addr a{};
            if (inet_pton(AF_INET, peer.c_str(), &a) != 1) return "osc_allow: '" + peer + "' is not an IPv4 address";
        }
        if (!is_loopback(at.sin_addr) && allow.empty())
            return "OSC address '" + address + "' is reachable from other machines: list the peers it takes in osc_allow";
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

OscServer::OscServer(const std::string& address, const std::vector<std::string>& allow) {
    if (const std::string why = osc_address_problem(address, allow); !why.empty()) throw std::runtime_error(why);
    const sockaddr_in at = parse_address(address);
    loopback_ = is_loopback(at.sin_addr);
    for (const auto& peer : allow) {
        in_addr a{};
        inet_pton(AF_INET, peer.c_str(), &a);
        allow_.insert(a.s_addr);
    }
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("OSC: socket: " + std::string(std::strerror(errno)));
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
        const std::string why = std::strerror(errno);
        close(fd_);
        throw std::runtime_error("OSC address '" + address + "': " + why);
    }
    spdlog::info("OSC on udp {} (port {})", address, port());
}

OscServer::~OscServer() {
    if (fd_ >= 0) close(fd_);
}

int OscServer::port() const {
    sockaddr_in a{};
    socklen_t n = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
    return ntohs(a.sin_port);
}

void OscServer::send(const sockaddr_in& to, const std::string& path, const std::vector<std::string>& args) {
    lo_message m = lo_message_new();
    for (const auto& a : args) lo_message_add_string(m, a.c_str());
    size_t len = 0;
    void* data = lo_message_serialise(m, path.c_str(), nullptr, &len);
    lo_message_free(m);
    if (!data) return;
    // UDP: a reply the peer's buffer cannot take is lost, as any datagram may be.
    sendto(fd_, data, len, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    free(data);
}

void OscServer::drain(const Handle& handle) {
    std::vector<char> buf(kMaxDatagram);
    for (int taken = 0; taken < 1000; ++taken) {
        sockaddr_in from{};
        socklen_t n = sizeof from;
        const ssize_t got = recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &n);
        if (got < 0) return;  // EAGAIN: nothing more waits
        if (!(loopback_ && is_loopback(from.sin_addr)) && !allow_.count(from.sin_addr.s_addr)) {
            spdlog::warn("OSC: a message from {} ignored: not in osc_allow", inet_ntoa(from.sin_addr));
            continue;
        }
        int result = 0;
        const char* path = got > 0 ? lo_get_path(buf.data(), got) : nullptr;
        lo_message m = path && path[0] == '/' ? lo_message_deserialise(buf.data(), static_cast<size_t>(got), &result) : nullptr;
        if (!m) {
            send(from, "/wavecast/error", {protocol::code::bad_request, "not an OSC message (bundles are not taken)"});
            continue;
        }
        answer(from, path, lo_message_get_argc(m), lo_message_get_types(m), reinterpret_cast<void**>(lo_message_get_argv(m)), handle);
        lo_message_free(m);
    }
}

void OscServer::answer(const sockaddr_in& from, const std::string& path, int argc, const char* types, void** argv, const Handle& handle) {
    auto fail = [&](const std::string& why) { send(from, "/wavecast/error", {protocol::code::bad_request, path + ": " + why}); };
    std::vector<json> args(static_cast<size_t>(argc));
    for (int i = 0; i < argc; ++i)
        if (!arg_json(types[i], static_cast<lo_arg*>(argv[i]), args[static_cast<size_t>(i)]))
            return fail(std::string("argument ") + std::to_string(i + 1) + " has OSC type '" + types[i] + "', which is not taken");
    if (path.rfind(kPrefix, 0) != 0) return fail("not a wavecast address (they begin " + std::string(kPrefix) + ")");
    const std::string cmd = path.substr(std::strlen(kPrefix));
    auto want = [&](size_t least, size_t most) {
        if (args.size() >= least && args.size() <= most) return true;
        fail("takes " + std::to_string(least) + (most > least ? " to " + std::to_string(most) : "") + " arguments, not " +
             std::to_string(args.size()));
        return false;
    };
    if (cmd == "register" || cmd == "unregister") {
        if (!want(0, 0)) return;
        auto same = [&](const sockaddr_in& p) { return p.sin_addr.s_addr == from.sin_addr.s_addr && p.sin_port == from.sin_port; };
        peers_.erase(std::remove_if(peers_.begin(), peers_.end(), same), peers_.end());
        if (cmd == "register") {
            if (peers_.size() >= kMaxPeers) return fail(std::to_string(kMaxPeers) + " peers are registered already");
            peers_.push_back(from);
        }
        send(from, "/wavecast/reply", {json{{"ok", true}}.dump()});
        return;
    }
    json request;
    if (cmd == "style") {
        if (!want(1, 2)) return;
        request = {{"cmd", "style"}, {"name", args[0]}};
        if (args.size() == 2) request["crossfade"] = args[1];
    } else if (cmd.rfind("set/", 0) == 0) {
        if (!want(1, 1)) return;
        request = {{"cmd", "set"}, {"params", {{cmd.substr(4), args[0]}}}};
    } else if (cmd == "record") {
        if (!want(1, 1)) return;
        request = {{"cmd", "record"}, {"path", args[0]}};
    } else if (cmd == "cue") {
        if (!want(1, 1)) return;
        request = {{"cmd", "cue"}, {"what", args[0]}};
    } else if (cmd == "stop-record" || cmd == "status") {
        if (!want(0, 0)) return;
        request = {{"cmd", cmd}};
    } else {
        return fail("no such command");
    }
    handle(protocol::to_wire(request), [this, from](const json& reply) { send(from, "/wavecast/reply", {protocol::to_wire(reply)}); });
}

void OscServer::push_status(const json& status) {
    if (peers_.empty()) return;
    const std::string body = protocol::to_wire(status);
    for (const auto& p : peers_) send(p, "/wavecast/status", {body});
}

}  // namespace wavecast
