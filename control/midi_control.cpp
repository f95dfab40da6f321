#include "control/midi_control.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "util/files.h"
#include "util/toml_util.h"

namespace wavecast {

namespace p = protocol;
using json = nlohmann::json;

MidiControl::MidiControl(ControlMidiIn& in, std::map<std::string, StreamMap> maps, std::function<bool(const ControlMidiEvent&)> clock)
    : in_(in), maps_(std::move(maps)), clock_(std::move(clock)) {}

void MidiControl::reload(std::map<std::string, StreamMap> maps) {
    std::lock_guard lock(reload_mu_);
    reloaded_ = std::move(maps);
}

void MidiControl::take_reload() {
    std::optional<std::map<std::string, StreamMap>> next;
    {
        std::lock_guard lock(reload_mu_);
        next.swap(reloaded_);
    }
    if (!next) return;
    for (auto& [stream, m] : *next) {
        const auto it = maps_.find(stream);
        if (it == maps_.end()) continue;  // streams change only at a restart
        if (it->second.path == m.path && it->second.loaded == m.loaded) continue;
        if (learning_ && learning_->stream == stream) learning_.reset();
        spdlog::info("stream '{}': MIDI mapping {} read again ({} CC, {} program, {} key, {} cue bindings)", stream,
                     m.path.empty() ? "(none)" : m.path, m.map.cc.size(), m.map.programs.size(), m.map.keys.size(), m.map.cues.size());
        it->second = std::move(m);
    }
}

void MidiControl::take(Replies& replies) {
    take_reload();
    ControlMidiEvent events[256];
    for (size_t n; (n = in_.take(events, std::size(events))) > 0;)
        for (size_t i = 0; i < n; ++i) {
            const ControlMidiEvent& e = events[i];
            // From the period the message fell in to this thread taking it: the control plane's
            // share of a knob's latency.
            const int64_t now_ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
            const double wake_ms = std::max<int64_t>(0, now_ns - e.at_ns) / 1e6;
            ++woken_, wake_sum_ms_ += wake_ms, wake_max_ms_ = std::max(wake_max_ms_, wake_ms);
            if (clock_ && clock_(e)) continue;
            if (learning_ && e.size == 3 && (e.bytes[0] & 0xF0) == 0xB0 && e.bytes[1] < 120) {
                MidiMap::Cc b = learning_->binding;
                b.channel = (e.bytes[0] & 0x0F) + 1, b.cc = e.bytes[1];
                maps_.at(learning_->stream).map.bind(b);
                spdlog::info("MIDI learn: CC {} on channel {} now sets {} of stream '{}' ({} .. {}, {})", b.cc, b.channel,
                             param_spec(b.param).name, learning_->stream, b.min, b.max, protocol::name(b.curve));
                learning_.reset();
            }
            for (const auto& [stream, m] : maps_)
                for (const auto& command : m.map.commands(e.bytes, e.size, stream))
                    replies.answer({nullptr, command}, [this, command](const json& reply) { count(command, reply); });
        }
}

void MidiControl::count(const p::Command& command, const json& reply) {
    if (reply.value("ok", false)) {
        ++applied_;
        return;
    }
    ++refused_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ > std::chrono::seconds(5)) {
        spdlog::warn("MIDI control: {} refused: {} ({} refused so far)", p::to_wire(p::to_json(command)),
                     reply["error"].value("message", std::string()), refused_);
        last_refusal_log_ = now;
    }
}

json MidiControl::learn(const p::Learn& c, const std::string& stream) {
    if (c.cancel) {
        const bool was = learning_.has_value();
        learning_.reset();
        return {{"learning", nullptr}, {"cancelled", was}};
    }
    const ParamSpec& spec = *find_param(c.param);
    MidiMap::Cc b;
    b.param = param_of(spec), b.min = c.min.value_or(spec.min), b.max = c.max.value_or(spec.max);
    b.curve = c.curve;
    learning_ = Learning{stream, b};
    return {{"learning", c.param}, {"stream", stream}};
}

json MidiControl::mappings(const std::string& stream) const {
    const StreamMap& m = maps_.at(stream);
    json j = m.map.to_json();
    j["stream"] = stream;
    j["file"] = m.path.empty() ? json(nullptr) : json(m.path);
    return j;
}

std::function<json()> MidiControl::save(const std::string& stream) const {
    const StreamMap& m = maps_.at(stream);
    if (m.path.empty())
        throw p::Error(p::code::conflict, "stream '" + stream + "' names no mapping file ([[stream]] midi_map): nothing to save to");
    return [path = m.path, text = m.map.to_toml(), stream]() -> json {
        // Regular files only, read and written without blocking on a FIFO in any of the three
        // places (the mapping, its .bak, the .tmp written first).
        std::error_code ec;
        const auto kind = std::filesystem::symlink_status(path, ec).type();
        try {
            if (kind != std::filesystem::file_type::not_found) {
                const std::vector<uint8_t> old = read_regular_file(path, TomlReader::kMaxTomlBytes);
                write_file_atomically(path + ".bak", std::string(old.begin(), old.end()));
            }
            write_file_atomically(path, text);
        } catch (const std::runtime_error& e) {
            throw p::Error(p::code::io_error, std::string(e.what()) + " (the mapping file is unchanged)");
        }
        spdlog::info("MIDI mappings of stream '{}' saved to {}", stream, path);
        return json{{"saved", path}};
    };
}

json MidiControl::stats() const {
    return {{"port", "control_midi_in"},
            {"received", in_.received()},
            {"dropped", in_.dropped()},
            {"applied", applied_},
            {"wake_ms", {{"mean", woken_ ? wake_sum_ms_ / static_cast<double>(woken_) : 0.0}, {"max", wake_max_ms_}}},
            {"refused", refused_},
            {"learning",
             learning_ ? json{{"stream", learning_->stream}, {"param", param_spec(learning_->binding.param).name}} : json(nullptr)}};
}

}  // namespace wavecast
