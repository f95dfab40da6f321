// What goes out on telemetry and in status replies, with names made of arbitrary bytes (not UTF-8,
// oversized): a style and its tracks named by the input, the stream's status and a notes message
// serialised as the control thread does. Nothing may throw: a Latin-1 track name in a score once
// ended the daemon in std::terminate.
#include <memory>
#include <string>

#include "daemon/engine.h"
#include "daemon/status.h"
#include "kernels/backend.h"
#include "protocol/protocol.h"
#include "score/style.h"

using namespace wavecast;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto model = std::make_shared<const Model>(random_model(named_shape("tiny"), 1));
    static const auto styles = load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto style = std::make_shared<Style>(*styles.at("techno"));
    const size_t cut = bytes.size() / 2;
    style->name = bytes.substr(0, cut);
    for (auto& t : style->tracks) t.name = bytes.substr(cut);
    std::vector<std::unique_ptr<Stream>> streams;
    streams.push_back(std::make_unique<Stream>(StreamConfig{}, make_cpu_generator(model, 2, 1),
                                               make_masking("cpu", model->spec.sample_rate, 2), style, 48000));
    DaemonStatus status;
    status.streams.push_back(streams.front()->status());
    StyleShelf shelf({{style->name, style}});
    ControlMidiIn midi_in;
    MidiControl midi(midi_in, {{"main", {}}});
    Engine engine(streams, shelf, midi, {"/nonexistent-recordings", true}, [&] { return to_json(status); });
    (void)protocol::to_wire(engine.status());
    (void)protocol::to_wire(engine.handle(R"({"cmd":"styles"})").reply);
    std::vector<MidiSchedule::SoundedNote> notes{{0, 0, true, 60, 100, 1.5, style->tracks.empty() ? bytes : style->tracks[0].name}};
    (void)protocol::to_wire(notes_message(bytes, notes));
    return 0;
}
