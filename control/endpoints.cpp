#include "endpoints.h"

namespace wavecast {

std::string endpoint_problem(const std::string& e, bool curve) {
    const bool tcp = e.rfind("tcp://", 0) == 0, local = e.rfind("ipc://", 0) == 0 || e.rfind("inproc://", 0) == 0;
    if (!tcp && !local)
        return e + ": only tcp://, ipc:// and inproc:// endpoints are taken (" +
               (e.find("://") == std::string::npos ? std::string("no transport named") : "not " + e.substr(0, e.find("://") + 3)) + ")";
    if (local || curve) return "";
    // tcp://HOST:PORT, HOST an address, a name or an interface: only loopback stays on this machine.
    const std::string rest = e.substr(6);
    const std::string host = !rest.empty() && rest.front() == '[' ? rest.substr(1, rest.find(']') - 1) : rest.substr(0, rest.rfind(':'));
    if (host.rfind("127.", 0) == 0 || host == "localhost" || host == "::1" || host == "lo") return "";
    return e +
           " can be reached from other machines: remote control needs [security] curve = true with allowed_clients; "
           "otherwise bind to 127.0.0.1 or an ipc:// path";
}

}  // namespace wavecast
