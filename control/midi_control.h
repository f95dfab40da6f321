// MIDI control, a surface (surface.h): what arrives on `control_midi_in`, turned by each stream's
// mapping (midi_map.h) into the control protocol's typed commands and answered as any request is;
// MIDI learn; the bindings listed and saved. All of it on the control thread, but for reload()'s
// hand-over.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "control/midi_map.h"
#include "control/surface.h"
#include "output/control_midi_in.h"
#include "protocol/requests.h"

namespace wavecast {

class MidiControl final : public Surface {
public:
    struct StreamMap {
        MidiMap map;
        std::string path;       // the mapping file; empty where the stream names none
        nlohmann::json loaded;  // the bindings the file gave when it was read (MidiMap::to_json)
    };
    // `in` outlives this; `maps` has an entry for every stream. A message `clock` takes (MIDI
    // clock's, see tempo/midi_clock_sync.h) goes no further.
    MidiControl(ControlMidiIn& in, std::map<std::string, StreamMap> maps, std::function<bool(const ControlMidiEvent&)> clock = {});

    const char* name() const override { return "midi"; }
    zmq::pollitem_t poll_item() override { return {nullptr, in_.fd(), ZMQ_POLLIN, 0}; }
    // Runs every waiting message through the mappings, each command answered as a request is. A
    // learn waiting takes the first Control Change.
    void take(Replies& replies) override;

    nlohmann::json learn(const protocol::Learn& c, const std::string& stream);
    nlohmann::json mappings(const std::string& stream) const;
    // The file work of `mappings save`: checked here (the stream has a mapping file), the rest
    // (the previous file kept as FILE.bak, the new one written whole and renamed over it) done by
    // the returned function, off the control thread.
    std::function<nlohmann::json()> save(const std::string& stream) const;
    nlohmann::json stats() const override;
    // Any thread (SIGHUP): the mapping files read again, taken up by the control thread before
    // the next message. A stream whose file (path and bindings) reads as it did keeps its
    // bindings, learned ones included; one whose file changed takes the file's.
    void reload(std::map<std::string, StreamMap> maps);

private:
    void count(const protocol::Command& command, const nlohmann::json& reply);

    ControlMidiIn& in_;
    std::map<std::string, StreamMap> maps_;
    std::function<bool(const ControlMidiEvent&)> clock_;
    struct Learning {
        std::string stream;
        MidiMap::Cc binding;  // its channel and CC come from the message that binds it
    };
    std::optional<Learning> learning_;
    uint64_t applied_ = 0, refused_ = 0;
    uint64_t woken_ = 0;  // messages taken, and how long after their period each was
    double wake_sum_ms_ = 0, wake_max_ms_ = 0;
    std::chrono::steady_clock::time_point last_refusal_log_{};
    void take_reload();
    std::mutex reload_mu_;
    std::optional<std::map<std::string, StreamMap>> reloaded_;
};

}  // namespace wavecast
