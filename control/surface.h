// The control plane's ways in. Every surface (ZeroMQ, OSC, MIDI, and what comes next) reads its
// peers' messages its own way, turns each into a typed request (protocol/requests.h), has it
// answered through Replies, and sends the typed reply back its own way. The ControlServer
// (control_server.h) polls them all on one thread; a new surface is a class here and one line
// where the daemon registers its surfaces.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>
#include <zmq.hpp>

#include "protocol/requests.h"

namespace wavecast {

// What answers requests: the daemon's engine.
class ControlHandler {
public:
    virtual ~ControlHandler() = default;
    // A reply, and for a request that touches files (score, record, stop-record, mappings save),
    // the rest of its work, which gives the reply (never throwing), to be run off the control
    // thread so that a slow disk never stalls the control plane.
    struct Handled {
        nlohmann::json reply;
        std::function<nlohmann::json()> work;
    };
    // One checked request to one reply (ok, or an error with its code); never throws.
    virtual Handled handle(const protocol::TypedRequest& request) = 0;
    // The body of a status reply and of the telemetry "status" message.
    virtual nlohmann::json status() const = 0;

    // Raw bytes (a ZeroMQ message, a fuzzer's input) to one reply: an error reply for what does
    // not parse or check, else handle()'s.
    Handled handle(std::string_view raw);
};

// How a surface has its requests answered: the reply reaches `deliver` now, or once the
// request's file work is done (on the control thread, before its next turn ends).
class Replies {
public:
    using Deliver = std::function<void(const nlohmann::json& reply)>;
    virtual ~Replies() = default;
    virtual void answer(const protocol::TypedRequest& request, Deliver deliver) = 0;
    // Counts a request the surface refused itself, before it could be answered (not its
    // protocol, not JSON), which it replied to with the error.
    virtual void refused() = 0;
};

class Surface {
public:
    virtual ~Surface() = default;
    // Its key in status ("zeromq", "osc", "midi").
    virtual const char* name() const = 0;
    // What wakes the control thread for it: a ZeroMQ socket, or a file descriptor.
    virtual zmq::pollitem_t poll_item() = 0;
    // Everything that waits, each request answered through `replies`. Called on every turn,
    // woken or not, so that nothing waits on a lost wake-up.
    virtual void take(Replies& replies) = 0;
    // Each status interval: the status, for a surface that pushes it to its peers.
    virtual void push_status(const nlohmann::json& /*status*/) {}
    // Its own counts for status (the server adds requests and refused to them).
    virtual nlohmann::json stats() const { return nlohmann::json::object(); }
};

}  // namespace wavecast
