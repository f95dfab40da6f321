#include "daemon/engine.h"

#include "daemon/stream_commands.h"
#include "output/recorder.h"
#include "protocol/protocol.h"

namespace wavecast {

using json = nlohmann::json;
namespace p = protocol;

namespace {
template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// The reply `body` gives, or the error reply its exception stands for: domain errors mapped to
// the protocol's codes here, at the edge.
template <class Body>
json reply_or_error(const json& id, Body&& body) {
    try {
        return body();
    } catch (const p::Error& e) {
        return p::error_reply(id, e.code, e.what());
    } catch (const RecorderError& e) {
        using K = RecorderError::Kind;
        return p::error_reply(id,
                              e.kind == K::io     ? p::code::io_error
                              : e.kind == K::busy ? p::code::conflict
                                                  : p::code::out_of_range,
                              e.what());
    } catch (const std::exception& e) {
        return p::error_reply(id, p::code::internal, e.what());
    }
}
}  // namespace

Engine::Engine(const std::vector<std::unique_ptr<Stream>>& streams, const StyleShelf& styles, MidiControl& midi, Settings settings,
               std::function<json()> status)
    : streams_(streams), styles_(styles), midi_(midi), settings_(std::move(settings)), status_(std::move(status)) {}

Stream& Engine::find_stream(const std::optional<std::string>& name) const {
    if (!name) return *streams_.front();
    for (const auto& s : streams_)
        if (s->name() == *name) return *s;
    throw p::Error(p::code::unknown_stream, "stream: no stream named '" + *name + "'");
}

ControlHandler::Handled Engine::handle(const p::TypedRequest& r) {
    const json& id = r.id;
    Handled h;
    // The rest of a request that touches files: run off the control thread, its reply after.
    auto defer = [&](std::function<json()> fields) {
        h.work = [id, fields = std::move(fields)] { return reply_or_error(id, [&] { return p::ok_reply(id, fields()); }); };
        return json(nullptr);
    };
    auto ok = [&](json fields) { return p::ok_reply(id, std::move(fields)); };
    h.reply = reply_or_error(id, [&]() -> json {
        return std::visit(
            Overloaded{[&](const p::Ping&) {
                           return ok({{"pong", true}});
                       },
                       [&](const p::Status&) { return ok(status()); },
                       [&](const p::Styles&) {
                           return ok({{"styles", styles_.list()}});
                       },
                       [&](const p::StyleCmd& c) { return ok(change_style(find_stream(c.stream), styles_, c)); },
                       [&](const p::Set& c) { return ok(set_params(find_stream(c.stream), c)); },
                       [&](const p::Cue& c) { return ok(cue(find_stream(c.stream), c)); },
                       [&](const p::Record& c) { return defer(start_recording(find_stream(c.stream), c, settings_.recordings_dir)); },
                       [&](const p::StopRecord& c) { return defer(stop_recording(find_stream(c.stream))); },
                       [&](const p::Score& c) { return defer(play_score(find_stream(c.stream), c)); },
                       [&](const p::Learn& c) {
                           // Without JACK there is no control_midi_in: no knob could ever answer.
                           if (!settings_.midi_input && !c.cancel)
                               throw p::Error(p::code::unsupported,
                                              "learn needs MIDI input, and JACK is off ([jack] enabled = false or --no-jack)");
                           return ok(midi_.learn(c, find_stream(c.stream).name()));
                       },
                       [&](const p::Mappings& c) {
                           const std::string stream = find_stream(c.stream).name();
                           return c.save ? defer(midi_.save(stream)) : ok(midi_.mappings(stream));
                       }},
            r.command);
    });
    return h;
}

}  // namespace wavecast
