#include "control/osc.h"

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
#include <mutex>
#include <stdexcept>

#include <sodium.h>

#include "protocol/protocol.h"

namespace wavecast {

using nlohmann::json;

namespace {

constexpr const char* kPrefix = "/wavecast/";
constexpr size_t kMaxDatagram = 65536;
// What leaves in one datagram at most (UDP over IPv4 carries 65,507 bytes).
constexpr size_t kMaxSend = 65000;
// An unregistered peer is sent at most this many times its request, or kSmallReply bytes (room
// for an error's code and the start of its message).
constexpr size_t kAmplification = 3, kSmallReply = 64;
// What an error echoes of the request (a name, a path) is cut to this.
constexpr size_t kMaxMessage = 200;
// A token registers for this epoch and the next: 5 to 10 minutes.
constexpr int64_t kEpochS = 300;

int64_t epoch_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count() / kEpochS;
}

std::string cut(std::string s, size_t max) {
    if (s.size() <= max) return s;
    size_t at = max;
    while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;  // not inside a UTF-8 sequence
    s.resize(at);
    return s + "...";
}

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

OscServer::OscServer(const std::string& address, const std::vector<std::string>& allow, std::chrono::milliseconds registration)
    : registration_(registration) {
    if (const std::string why = osc_address_problem(address, allow); !why.empty()) throw std::runtime_error(why);
    const sockaddr_in at = parse_address(address);
    loopback_ = is_loopback(at.sin_addr);
    static std::once_flag sodium;
    std::call_once(sodium, [] {
        if (sodium_init() < 0) throw std::runtime_error("OSC: libsodium could not start");
    });
    randombytes_buf(key_.data(), key_.size());
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

std::string OscServer::token_for(const sockaddr_in& peer, int64_t epoch) const {
    unsigned char in[4 + 2 + 8];
    std::memcpy(in, &peer.sin_addr.s_addr, 4);
    std::memcpy(in + 4, &peer.sin_port, 2);
    std::memcpy(in + 6, &epoch, 8);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, in, sizeof in, key_.data());
    static const char* hex = "0123456789abcdef";
    std::string t;
    for (unsigned char b : out) t += hex[b >> 4], t += hex[b & 15];
    return t;
}

bool OscServer::registered(const sockaddr_in& peer) const {
    const auto now = Clock::now();
    return std::any_of(peers_.begin(), peers_.end(), [&](const Peer& p) {
        return p.addr.sin_addr.s_addr == peer.sin_addr.s_addr && p.addr.sin_port == peer.sin_port && p.until > now;
    });
}

void OscServer::expire() {
    const auto now = Clock::now();
    peers_.erase(std::remove_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.until <= now; }), peers_.end());
}

// The serialised message, or empty.
std::string serialise(const std::string& path, const std::vector<std::string>& args) {
    lo_message m = lo_message_new();
    for (const auto& a : args) lo_message_add_string(m, a.c_str());
    size_t len = 0;
    void* data = lo_message_serialise(m, path.c_str(), nullptr, &len);
    lo_message_free(m);
    if (!data) return {};
    std::string out(static_cast<const char*>(data), len);
    free(data);
    return out;
}

size_t OscServer::limit_for(const sockaddr_in& to, size_t request_bytes) const {
    return registered(to) ? kMaxSend : std::min(kMaxSend, std::max(kAmplification * request_bytes, kSmallReply));
}

void OscServer::send(const sockaddr_in& to, const std::string& path, const std::vector<std::string>& args, size_t request_bytes) {
    const std::string bytes = serialise(path, args);
    if (bytes.empty()) return;
    if (bytes.size() > limit_for(to, request_bytes))
        return refuse(to, "reply_too_large",
                      registered(to) ? "the reply is more than a datagram takes" : "larger replies go to registered peers only",
                      request_bytes);
    // UDP: a reply the peer's buffer cannot take is lost, as any datagram may be.
    sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

void OscServer::refuse(const sockaddr_in& to, const std::string& code, const std::string& message, size_t request_bytes) {
    ++stats_.refused;
    // The message is cut to what the peer may be sent: the code always goes.
    const size_t limit = limit_for(to, request_bytes);
    std::string text = cut(message, kMaxMessage), bytes = serialise("/wavecast/error", {code, text});
    if (bytes.size() > limit)
        bytes = serialise("/wavecast/error", {code, cut(text, text.size() - std::min(text.size(), bytes.size() - limit + 8))});
    if (bytes.size() > limit) bytes = serialise("/wavecast/error", {code, ""});
    sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

void OscServer::reply(const sockaddr_in& to, const json& r, size_t request_bytes) {
    if (!r.value("ok", false) && r.contains("error") && r["error"].is_object())
        return refuse(to, r["error"].value("code", std::string(protocol::code::internal)), r["error"].value("message", std::string()),
                      request_bytes);
    std::string body = protocol::to_wire(r);
    // Done, but the whole answer is more than this peer may be sent: it learns it was done.
    if (serialise("/wavecast/reply", {body}).size() > limit_for(to, request_bytes)) body = R"({"ok":true,"cut":true})";
    send(to, "/wavecast/reply", {body}, request_bytes);
}

void OscServer::take(Replies& replies) {
    std::vector<char> buf(kMaxDatagram);
    for (int taken = 0; taken < 1000; ++taken) {
        sockaddr_in from{};
        socklen_t n = sizeof from;
        const ssize_t got = recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &n);
        if (got < 0) return;  // EAGAIN: nothing more waits
        if (!(loopback_ && is_loopback(from.sin_addr)) && !allow_.count(from.sin_addr.s_addr)) {
            ++stats_.ignored;
            uint64_t held = 0;
            if (ignored_log_.allow(held))
                spdlog::warn("OSC: a message from {} ignored: not in osc_allow ({} ignored so far{})", inet_ntoa(from.sin_addr),
                             stats_.ignored, held ? ", " + std::to_string(held) + " of them not logged" : "");
            continue;
        }
        ++stats_.received;
        const size_t bytes = static_cast<size_t>(got);
        int result = 0;
        const char* path = got > 0 ? lo_get_path(buf.data(), got) : nullptr;
        lo_message m = path && path[0] == '/' ? lo_message_deserialise(buf.data(), bytes, &result) : nullptr;
        if (!m) {
            replies.refused();
            refuse(from, protocol::code::bad_request, "not an OSC message (bundles are not taken)", bytes);
            continue;
        }
        answer(from, path, lo_message_get_argc(m), lo_message_get_types(m), reinterpret_cast<void**>(lo_message_get_argv(m)), bytes,
               replies);
        lo_message_free(m);
    }
}

void OscServer::enrol(const sockaddr_in& from, const std::vector<json>& args, size_t request_bytes) {
    if (args.size() > 1 || (args.size() == 1 && !args[0].is_string()))
        return refuse(from, protocol::code::bad_request, "/wavecast/register takes nothing, or the token /wavecast/confirm sent",
                      request_bytes);
    const int64_t epoch = epoch_now();
    const bool proven = args.size() == 1 && (args[0] == token_for(from, epoch) || args[0] == token_for(from, epoch - 1));
    // No token, or a stale one: the token goes to the address the request claims to come from,
    // and only its owner can send it back.
    if (!proven) return send(from, "/wavecast/confirm", {token_for(from, epoch)}, request_bytes);
    expire();
    auto same = [&](const Peer& p) { return p.addr.sin_addr.s_addr == from.sin_addr.s_addr && p.addr.sin_port == from.sin_port; };
    auto it = std::find_if(peers_.begin(), peers_.end(), same);
    if (it == peers_.end()) {
        if (peers_.size() >= kMaxPeers)
            return refuse(from, protocol::code::busy,
                          std::to_string(kMaxPeers) + " peers are registered already (a registration lapses unless renewed)",
                          request_bytes);
        it = peers_.insert(peers_.end(), Peer{from, {}});
    }
    it->until = Clock::now() + registration_;
    send(from, "/wavecast/reply", {json{{"ok", true}, {"registered_s", std::chrono::duration<double>(registration_).count()}}.dump()},
         request_bytes);
}

void OscServer::answer(const sockaddr_in& from, const std::string& path, int argc, const char* types, void** argv, size_t request_bytes,
                       Replies& replies) {
    auto fail = [&](const std::string& why) {
        replies.refused();
        refuse(from, protocol::code::bad_request, path + ": " + why, request_bytes);
    };
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
    if (cmd == "register") return enrol(from, args, request_bytes);
    if (cmd == "unregister") {
        if (!want(0, 0)) return;
        auto same = [&](const Peer& p) { return p.addr.sin_addr.s_addr == from.sin_addr.s_addr && p.addr.sin_port == from.sin_port; };
        peers_.erase(std::remove_if(peers_.begin(), peers_.end(), same), peers_.end());
        send(from, "/wavecast/reply", {json{{"ok", true}}.dump()}, request_bytes);
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
    } else if (cmd == "stop-record") {
        if (!want(0, 0)) return;
        request = {{"cmd", cmd}};
    } else if (cmd == "status") {
        if (!want(0, 0)) return;
        if (!registered(from)) {
            replies.refused();
            return refuse(from, "not_registered", "status goes to registered peers: /wavecast/register, then send back the token",
                          request_bytes);
        }
        request = {{"cmd", cmd}};
    } else {
        return fail("no such command");
    }
    // Checked by the protocol's own parser, as a ZeroMQ request is.
    json id;
    protocol::TypedRequest typed;
    try {
        typed = protocol::parse_object(request, id);
    } catch (const protocol::Error& e) {
        replies.refused();
        return refuse(from, e.code, e.what(), request_bytes);
    }
    replies.answer(typed, [this, from, request_bytes](const json& r) { reply(from, r, request_bytes); });
}

void OscServer::push_status(const json& status) {
    expire();
    if (peers_.empty()) return;
    const std::string body = protocol::to_wire(status);
    for (const auto& p : peers_) send(p.addr, "/wavecast/status", {body}, 0);
}

OscStats OscServer::counts() const {
    OscStats s = stats_;
    const auto now = Clock::now();
    s.registered = static_cast<size_t>(std::count_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.until > now; }));
    return s;
}

json OscServer::stats() const {
    const OscStats s = counts();
    return {{"port", port()}, {"received", s.received}, {"ignored", s.ignored}, {"registered", s.registered}};
}

}  // namespace wavecast
