#include "tests/integration/icecast_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace harness {

IcecastServer::IcecastServer(const std::string& dir, const std::string& password) : dir_(dir), port_(free_tcp_port()) {
    // Run as root, icecast2 must drop to its own user, which then writes its logs: a folder it
    // can reach, outside the test's private one.
    char tmpl[] = "/tmp/wavecast-icecast-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    logdir_ = tmpl;
    chmod(logdir_.c_str(), 0777);
    config_ = dir + "/" + unique_name("icecast") + ".xml";
    const bool root = geteuid() == 0;
    std::ofstream(config_) << "<icecast>\n<location>test</location><admin>test@localhost</admin><hostname>127.0.0.1</hostname>\n"
                           << "<limits><clients>20</clients><sources>8</sources><source-timeout>5</source-timeout>"
                           << "<burst-on-connect>0</burst-on-connect></limits>\n"
                           << "<authentication><source-password>" << password << "</source-password><admin-user>admin</admin-user>"
                           << "<admin-password>" << password << "</admin-password></authentication>\n"
                           << "<listen-socket><port>" << port_ << "</port><bind-address>127.0.0.1</bind-address></listen-socket>\n"
                           << "<fileserve>1</fileserve>\n"
                           << "<paths><basedir>/usr/share/icecast2</basedir><logdir>" << logdir_ << "</logdir>"
                           << "<webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>\n"
                           << "<logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>\n"
                           << "<security><chroot>0</chroot>"
                           << (root ? "<changeowner><user>icecast2</user><group>icecast</group></changeowner>" : "") << "</security>\n"
                           << "</icecast>\n";
    start();
}

IcecastServer::~IcecastServer() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(logdir_, ec);
}

void IcecastServer::start() {
    proc_ = std::make_unique<Process>(std::vector<std::string>{"/usr/bin/icecast2", "-c", config_}, std::map<std::string, std::string>{},
                                      dir_ + "/" + unique_name("icecast") + ".out");
    if (!eventually([&] { return stats().has_value(); }, 10)) throw std::runtime_error("icecast2 did not answer within 10 s: " + log());
}

void IcecastServer::kill() {
    if (!proc_) return;
    proc_->signal(SIGKILL);
    proc_->wait(5);
    proc_.reset();
}

std::string IcecastServer::log() const { return (proc_ ? proc_->log() : std::string()) + slurp(logdir_ + "/error.log"); }

std::optional<nlohmann::json> IcecastServer::stats() const {
    const std::string body = http_get(port_, "/status-json.xsl", 2.0);
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("icestats")) return std::nullopt;
    return j["icestats"];
}

nlohmann::json IcecastServer::source(const std::string& mount) const {
    const auto s = stats();
    if (!s || !s->contains("source")) return nullptr;
    // One source is an object, several an array.
    const nlohmann::json& src = (*s)["source"];
    for (const auto& one : src.is_array() ? src : nlohmann::json::array({src}))
        if (one.value("listenurl", "").find(":" + std::to_string(port_) + mount) != std::string::npos) return one;
    return nullptr;
}

std::string http_get(int port, const std::string& path, double seconds) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string data;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: wavecast-test\r\n\r\n";
        if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            timeval tv{0, 200 * 1000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
            char buf[16384];
            while (std::chrono::steady_clock::now() < until) {
                const ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n == 0) break;
                if (n > 0) data.append(buf, static_cast<size_t>(n));
            }
        }
    }
    close(fd);
    const size_t body = data.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : data.substr(body + 4);
}

}  // namespace harness
