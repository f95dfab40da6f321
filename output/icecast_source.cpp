#include "output/icecast_source.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace wavecast {
namespace {

using namespace std::chrono_literals;

// Poll in slices this long, so that a stop is seen promptly while waiting on the network.
constexpr auto kSlice = 20ms;
constexpr size_t kMaxReplyHead = 8192;

std::string errno_text(int e) { return std::strerror(e); }

IcecastAddress resolve(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) throw std::runtime_error("no address for " + host + " (" + gai_strerror(rc) + ")");
    IcecastAddress a;
    std::memcpy(&a.addr, found->ai_addr, found->ai_addrlen);
    a.len = found->ai_addrlen;
    freeaddrinfo(found);
    return a;
}

// A non-blocking socket with its connect begun; -1 and `why` when even that failed.
int start_connect(const IcecastAddress& to, std::string& why) {
    const int fd = ::socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = "socket: " + errno_text(errno);
        return -1;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len) != 0 && errno != EINPROGRESS) {
        why = "no connection (" + errno_text(errno) + ")";
        ::close(fd);
        return -1;
    }
    return fd;
}

// The error a finished non-blocking connect left, "" when it connected.
std::string connect_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    return err ? "no connection (" + errno_text(err) + ")" : "";
}

// Waits for `events` on fd in slices, asking `stopped` between them; throws at the deadline.
void wait_for(int fd, short events, IcecastClock::time_point deadline, const std::function<bool()>& stopped, const char* what) {
    for (;;) {
        if (stopped()) throw std::runtime_error("stopped");
        const auto left = deadline - IcecastClock::now();
        if (left <= 0s) throw std::runtime_error(std::string("no answer within the connect timeout (") + what + ")");
        pollfd p{fd, events, 0};
        const auto slice = std::min<IcecastClock::duration>(left, kSlice);
        const int n = ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
        if (n > 0) return;
        if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + errno_text(errno));
    }
}

std::string header_value_ok(const std::string& key, const std::string& v) {
    // The config refuses these; a title or a value from elsewhere must not split the request.
    if (v.find_first_of("\r\n") != std::string::npos) throw std::runtime_error(key + " holds a line break");
    return v;
}

std::string source_request(const IcecastConfig& c, int rate) {
    std::string r = "PUT " + header_value_ok("mount", c.mount) + " HTTP/1.1\r\n";
    r += "Host: " + header_value_ok("host", c.host) + ":" + std::to_string(c.port) + "\r\n";
    r += "Authorization: Basic " + base64(c.user + ":" + c.password) + "\r\n";
    r += "User-Agent: wavecast\r\n";
    r += std::string("Content-Type: ") + (c.format == "mp3" ? "audio/mpeg" : "audio/ogg") + "\r\n";
    r += "Ice-Public: " + std::string(c.is_public ? "1" : "0") + "\r\n";
    for (const auto& [key, value] : {std::pair{"Ice-Name", &c.name}, std::pair{"Ice-Genre", &c.genre},
                                     std::pair{"Ice-Description", &c.description}, std::pair{"Ice-URL", &c.url}})
        if (!value->empty()) r += std::string(key) + ": " + header_value_ok(key, *value) + "\r\n";
    r += "Ice-Audio-Info: bitrate=" + std::to_string(c.bitrate_kbps) + ";samplerate=" + std::to_string(rate) + ";channels=2\r\n";
    r += "Expect: 100-continue\r\n\r\n";
    return r;
}

// "HTTP/1.0 401 Authentication Required" -> 401; 0 for anything else.
int status_code(const std::string& line) {
    if (line.rfind("HTTP/", 0) != 0) return 0;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp + 4 > line.size()) return 0;
    const std::string code = line.substr(sp + 1, 3);
    return std::all_of(code.begin(), code.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ? std::stoi(code) : 0;
}

std::string printable(std::string s, size_t max) {
    if (s.size() > max) s.resize(max);
    for (char& ch : s)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) == 0x7f) ch = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

}  // namespace

std::string base64(const std::string& in) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s : {18, 12, 6, 0}) out += table[(v >> s) & 63];
    }
    if (const size_t rest = in.size() - i; rest > 0) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (rest == 2 ? uint8_t(in[i + 1]) << 8 : 0);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += rest == 2 ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string url_encode(const std::string& in) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char ch : in) {
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out += static_cast<char>(ch);
        } else {
            out += '%';
            out += hex[ch >> 4];
            out += hex[ch & 15];
        }
    }
    return out;
}

IcecastSource::IcecastSource(const IcecastConfig& cfg, int rate, std::chrono::milliseconds timeout, const std::function<bool()>& stopped) {
    const auto deadline = IcecastClock::now() + timeout;
    const std::string request = source_request(cfg, rate);
    addr_ = resolve(cfg.host, cfg.port);
    std::string why;
    fd_ = start_connect(addr_, why);
    if (fd_ < 0) throw std::runtime_error(why);
    try {
        // About a second of audio in the kernel at most (it doubles what is asked): what the
        // server has not taken then waits here, where it is measured, not in minutes of buffer.
        const int sndbuf = std::max(8192, cfg.bitrate_kbps * 1000 / 8);
        setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        wait_for(fd_, POLLOUT, deadline, stopped, "connecting");
        if (std::string e = connect_error(fd_); !e.empty()) throw std::runtime_error(e);
        for (size_t done = 0; done < request.size();) {
            const ssize_t n = ::send(fd_, request.data() + done, request.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                done += static_cast<size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                throw std::runtime_error("sending the login: " + errno_text(errno));
            } else {
                wait_for(fd_, POLLOUT, deadline, stopped, "sending the login");
            }
        }
        std::string reply;
        while (reply.find("\r\n\r\n") == std::string::npos) {
            wait_for(fd_, POLLIN, deadline, stopped, "waiting for the login's answer");
            char buf[1024];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0)
                throw std::runtime_error("the server closed the connection at login" + (reply.empty() ? "" : ": " + printable(reply, 120)));
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                throw std::runtime_error("reading the login's answer: " + errno_text(errno));
            }
            reply.append(buf, static_cast<size_t>(n));
            if (reply.size() > kMaxReplyHead) throw std::runtime_error("the server's answer to the login is not HTTP");
        }
        const std::string line = reply.substr(0, reply.find("\r\n"));
        const int code = status_code(line);
        // Icecast answers 100 Continue and then 200 OK; either means the mount is ours. What
        // follows is read and dropped by send().
        if (code == 100 || (code >= 200 && code < 300)) {
            progress_ = IcecastClock::now();
            return;
        }
        const std::string body = printable(reply.substr(reply.find("\r\n\r\n") + 4), 120);
        const std::string answer = printable(line, 120) + (body.empty() ? "" : ": " + body);
        if (code == 401 || code == 403)
            throw std::runtime_error("the server refused the source login (" + answer +
                                     "): check user, password and that the mount is free");
        throw std::runtime_error("the server answered the login with " + answer);
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

IcecastSource::~IcecastSource() {
    if (fd_ >= 0) ::close(fd_);
}

void IcecastSource::send(const std::string& bytes, std::chrono::milliseconds stall) {
    // The server says nothing more after the login; bytes from it are dropped, its close is news.
    for (;;) {
        char buf[512];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) throw std::runtime_error("the server closed the connection");
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            throw std::runtime_error("connection lost (" + errno_text(errno) + ")");
        }
    }
    pending_ += bytes;
    const auto now = IcecastClock::now();
    while (!pending_.empty()) {
        const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            pending_.erase(0, static_cast<size_t>(n));
            sent_ += static_cast<uint64_t>(n);
            progress_ = now;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            break;
        } else {
            throw std::runtime_error("sending: " + errno_text(errno));
        }
    }
    if (pending_.empty()) progress_ = now;
    if (now - progress_ > stall)
        throw std::runtime_error("the server has taken nothing for " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stall).count()) + " s (" +
                                 std::to_string(pending_.size()) + " bytes waiting)");
}

IcyTitleUpdate::IcyTitleUpdate(const IcecastConfig& cfg, const IcecastAddress& to, const std::string& title,
                               std::chrono::milliseconds timeout)
    : deadline_(IcecastClock::now() + timeout) {
    request_ = "GET /admin/metadata?mode=updinfo&charset=UTF-8&mount=" + url_encode(cfg.mount) + "&song=" + url_encode(title) +
               " HTTP/1.0\r\nHost: " + cfg.host + ":" + std::to_string(cfg.port) + "\r\nAuthorization: Basic " +
               base64(cfg.user + ":" + cfg.password) + "\r\nUser-Agent: wavecast\r\n\r\n";
    std::string why;
    fd_ = start_connect(to, why);
    if (fd_ < 0) finish(why);
}

IcyTitleUpdate::~IcyTitleUpdate() {
    if (fd_ >= 0) ::close(fd_);
}

void IcyTitleUpdate::finish(std::string why) {
    done_ = true;
    error_ = std::move(why);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool IcyTitleUpdate::step() {
    if (done_) return true;
    if (IcecastClock::now() > deadline_) {
        finish("the server did not answer the title request in time");
        return true;
    }
    pollfd p{fd_, static_cast<short>(written_ < request_.size() ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (!connected_) {
        if (std::string e = connect_error(fd_); !e.empty()) {
            finish(e);
            return true;
        }
        connected_ = true;
    }
    if (written_ < request_.size()) {
        const ssize_t n = ::send(fd_, request_.data() + written_, request_.size() - written_, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) written_ += static_cast<size_t>(n);
        else if (errno != EAGAIN && errno != EINTR) finish("sending the title: " + errno_text(errno));
        return done_;
    }
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (n > 0) reply_.append(buf, static_cast<size_t>(n));
    const size_t eol = reply_.find("\r\n");
    if (eol == std::string::npos && n > 0 && reply_.size() < kMaxReplyHead) return false;
    const std::string line = printable(reply_.substr(0, eol), 120);
    const int code = status_code(line);
    finish(code >= 200 && code < 300 ? ""
           : line.empty()            ? "the server closed the title request unanswered"
                                     : "the server answered the title with " + line);
    return true;
}

}  // namespace wavecast
