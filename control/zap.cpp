#include "control/zap.h"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <chrono>
#include <vector>

namespace wavecast {

ZapHandler::ZapHandler(zmq::context_t& ctx, std::set<std::string> allowed)
    : rep_(ctx, zmq::socket_type::rep), allowed_(std::move(allowed)) {
    rep_.set(zmq::sockopt::linger, 0);
    rep_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
    quit_ = true;
    thread_.join();
}

void ZapHandler::run() {
    std::vector<zmq::message_t> req;
    auto last_log = std::chrono::steady_clock::time_point{};
    uint64_t unlogged = 0;
    while (!quit_) {
        zmq::pollitem_t items[] = {{rep_.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 1, std::chrono::milliseconds(100));
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        req.clear();
        if (!zmq::recv_multipart(rep_, std::back_inserter(req))) continue;
        // version, request id, domain, address, identity, mechanism, credentials...
        const bool well_formed = req.size() >= 6 && req[0].to_string_view() == "1.0";
        std::string why;
        std::string key;
        if (!well_formed) why = "malformed ZAP request";
        else if (req[2].to_string_view() != kZapDomain) why = "domain '" + req[2].to_string() + "' is not " + kZapDomain;
        else if (req[5].to_string_view() != "CURVE") why = "mechanism " + req[5].to_string() + " (only CURVE is accepted)";
        else if (req.size() < 7 || req[6].size() != 32) why = "no CURVE key";
        else {
            char z85[41];
            zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
            key = z85;
            if (!allowed_.count(key)) why = "key " + key + " is not on allowed_clients";
        }
        const bool ok = why.empty();
        if (!ok) {
            ++refused_;
            ++unlogged;
            const auto now = std::chrono::steady_clock::now();
            // A stranger hammering the port must not flood the log.
            if (now - last_log > std::chrono::seconds(5)) {
                spdlog::warn("control: refused a client from {}: {} ({} refused since the last report)",
                             well_formed ? req[3].to_string() : "?", why, unlogged);
                last_log = now;
                unlogged = 0;
            }
        }
        const std::string version = "1.0", id = well_formed ? req[1].to_string() : "";
        rep_.send(zmq::buffer(version), zmq::send_flags::sndmore);
        rep_.send(zmq::buffer(id), zmq::send_flags::sndmore);
        rep_.send(zmq::buffer(std::string(ok ? "200" : "400")), zmq::send_flags::sndmore);
        rep_.send(zmq::buffer(ok ? std::string("OK") : why), zmq::send_flags::sndmore);
        rep_.send(zmq::buffer(key), zmq::send_flags::sndmore);  // user id: the key
        rep_.send(zmq::buffer(std::string()), zmq::send_flags::none);
    }
}

}  // namespace wavecast
