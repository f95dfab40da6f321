// The control-message handler, as the ROUTER hands it bytes: every input gets exactly one reply,
// a JSON object with ok, and with an error code when not ok; nothing throws or crashes. The
// engine has a real stream (tiny random model, CPU), not started.
#include <cstring>
#include <memory>

#include "daemon/engine.h"
#include "kernels/backend.h"
#include "protocol/protocol.h"
#include "score/style.h"

using namespace wavecast;

namespace {

// What the engine dispatches to: one stream, the shipped styles, a MIDI surface with no input.
struct Rig {
    Rig() {
        StreamConfig sc;
        sc.style = "techno";
        auto model = std::make_shared<const Model>(random_model(named_shape("tiny"), 1));
        streams.push_back(std::make_unique<Stream>(sc, make_cpu_generator(model, 4, 1), make_masking("cpu", model->spec.sample_rate, 2),
                                                   styles.find("techno"), 48000));
    }
    StyleShelf styles{load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles")};
    std::vector<std::unique_ptr<Stream>> streams;
    ControlMidiIn midi_in;
    MidiControl midi{midi_in, {{"main", {}}}};
    Engine engine{streams, styles, midi, {"/nonexistent-recordings", true}, [] { return nlohmann::json::object(); }};
};

Engine& engine() {
    static Rig* rig = new Rig;
    return rig->engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    auto handled = engine().handle(raw);
    // A request that passed its checks and would now touch files (record, score, stop-record) is
    // left there: its checks are what this target exercises.
    if (handled.work) return 0;
    const auto& reply = handled.reply;
    if (!reply.is_object() || !reply.contains("ok") || !reply["ok"].is_boolean()) __builtin_trap();
    if (!reply["ok"].get<bool>() && !(reply.contains("error") && reply["error"]["code"].is_string())) __builtin_trap();
    (void)protocol::to_wire(reply);  // the reply must serialise, whatever bytes it echoes
    return 0;
}
