// The control plane's handler: each typed request dispatched to the stream it names (the first
// when it names none) and what it asks done there (stream_commands.h); MIDI learn and mappings to
// the MIDI surface; status from the daemon. Surfaces live in control/, the state in daemon.h.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/midi_control.h"
#include "control/surface.h"
#include "daemon/stream.h"
#include "daemon/style_shelf.h"

namespace wavecast {

class Engine final : public ControlHandler {
public:
    struct Settings {
        std::string recordings_dir;  // where `record` writes
        bool midi_input = true;      // control_midi_in exists (JACK enabled): learn can be answered
    };
    // All of them outlive this; `status` gives the body of a status reply.
    Engine(const std::vector<std::unique_ptr<Stream>>& streams, const StyleShelf& styles, MidiControl& midi, Settings settings,
           std::function<nlohmann::json()> status);

    using ControlHandler::handle;
    Handled handle(const protocol::TypedRequest& request) override;
    nlohmann::json status() const override { return status_(); }

private:
    // The stream a request names, else the first; unknown_stream otherwise.
    Stream& find_stream(const std::optional<std::string>& name) const;

    const std::vector<std::unique_ptr<Stream>>& streams_;
    const StyleShelf& styles_;
    MidiControl& midi_;
    const Settings settings_;
    std::function<nlohmann::json()> status_;
};

}  // namespace wavecast
