#include "control/endpoints.h"

#include <arpa/inet.h>

#include <cctype>

namespace wavecast {

namespace {

bool is_port(const std::string& p) {
    if (p == "*") return true;  // an ephemeral port: where it is bound is still the host's business
    if (p.empty() || p.size() > 5) return false;
    for (char c : p)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    const int n = std::stoi(p);
    return n >= 0 && n <= 65535;
}

// The host of tcp://HOST:PORT when the whole endpoint is one address and a port, else why not.
// libzmq reads more than that: "SOURCE;DEST" binds DEST, so a text that starts with a loopback
// address can listen elsewhere; every such form is refused rather than read as the first part.
std::string split_tcp(const std::string& e, std::string& host) {
    const std::string rest = e.substr(6);
    if (rest.find(';') != std::string::npos) return e + ": a source-address part (';') is not taken; give one address and a port";
    std::string port;
    if (!rest.empty() && rest.front() == '[') {
        const size_t close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return e + ": an IPv6 address is written [ADDRESS]:PORT";
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        const size_t colon = rest.find(':');
        if (colon == std::string::npos || rest.find(':', colon + 1) != std::string::npos)
            return e + ": expected tcp://HOST:PORT (an IPv6 address in brackets)";
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    if (host.empty()) return e + ": no host";
    if (!is_port(port)) return e + ": '" + port + "' is not a port (0-65535 or *)";
    return "";
}

// Only an address that can name nothing but this machine: a well-formed 127.0.0.0/8 or ::1, the
// name localhost, or the interface lo. "127.evil.example" is a host name, resolved by DNS.
bool is_loopback_host(const std::string& host) {
    if (host == "localhost" || host == "lo") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

}  // namespace

std::string endpoint_problem(const std::string& e, bool curve) {
    const bool tcp = e.rfind("tcp://", 0) == 0, local = e.rfind("ipc://", 0) == 0 || e.rfind("inproc://", 0) == 0;
    if (!tcp && !local)
        return e + ": only tcp://, ipc:// and inproc:// endpoints are taken (" +
               (e.find("://") == std::string::npos ? std::string("no transport named") : "not " + e.substr(0, e.find("://") + 3)) + ")";
    if (local) return "";
    std::string host;
    if (std::string why = split_tcp(e, host); !why.empty()) return why;
    if (curve || is_loopback_host(host)) return "";
    return e +
           " can be reached from other machines: remote control needs [security] curve = true with allowed_clients; "
           "otherwise bind to 127.0.0.1 or an ipc:// path";
}

}  // namespace wavecast
