// The control-message handler, as the ROUTER hands it bytes: every input gets exactly one reply,
// a JSON object with ok, and with an error code when not ok; nothing throws or crashes. The
// engine has a real stream (tiny random model, CPU), not started.
#include <cstring>
#include <memory>

#include "backend.h"
#include "engine.h"
#include "protocol.h"
#include "style.h"

using namespace wavecast;

namespace {

Engine& engine() {
    static Engine* e = [] {
        DaemonConfig cfg;
        cfg.streams.push_back(StreamConfig{});
        cfg.streams[0].style = "techno";
        auto model = std::make_shared<const Model>(random_model(named_shape("tiny"), 1));
        auto styles = load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
        auto* engine = new Engine(cfg, model, styles, "cpu");
        engine->add_stream(std::make_unique<Stream>(cfg.streams[0], make_cpu_generator(model, 4, 1),
                                                    make_masking("cpu", model->spec.sample_rate, 2), styles.at("techno"), 48000));
        return engine;
    }();
    return *e;
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
