#include "offline/render_file.h"

#include <sndfile.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "chain/renderer.h"
#include "kernels/backend.h"
#include "score/midi_file.h"
#include "score/style.h"

namespace wavecast {

RenderSource load_render_source(const OfflineSetup& setup, const RenderOptions& o) {
    RenderSource src;
    if (!o.score.empty()) {
        src.score = read_midi_file(o.score);
        src.style = std::make_shared<const Style>(src.score->style);
        return src;
    }
    auto styles = load_styles(setup.styles_dir);
    auto found = styles.find(o.style);
    if (found == styles.end()) throw std::runtime_error("no style named '" + o.style + "' in " + setup.styles_dir);
    src.style = found->second;
    return src;
}

void render_file(const OfflineSetup& setup, const RenderOptions& o) {
    const RenderSource src = load_render_source(setup, o);
    const auto& style = src.style;
    const BackendPlan plan = plan_backends(setup.backend);
    auto model = std::make_shared<const Model>(load_model(setup.model_for(plan.generator)));
    auto choice = make_generator(plan.generator, model, lane_keys(o.seed, o.lanes), setup.precision, setup.cpu_threads);
    const int rate = o.rate > 0 ? o.rate : model->spec.sample_rate;
    Renderer renderer(std::move(choice.generator), make_masking(plan.masking, model->spec.sample_rate, 2), style, rate, o.seed);
    if (src.score) renderer.set_score(style, src.score->notes, src.score->beats);

    if (o.bits != 16 && o.bits != 24) throw std::runtime_error("--bits must be 16 or 24");
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | (o.bits == 16 ? SF_FORMAT_PCM_16 : SF_FORMAT_PCM_24);
    const std::string tmp = o.out + ".part";
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!f) throw std::runtime_error("cannot write " + tmp + ": " + sf_strerror(nullptr));
    sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);

    const BlockParams p = o.resolve(setup.stream_params, style->tempo);
    const uint64_t want = static_cast<uint64_t>(std::llround(o.seconds * rate));
    uint64_t written = 0;
    std::vector<float> block;
    std::vector<MidiEvent> events;
    const auto t0 = std::chrono::steady_clock::now();
    while (written < want) {
        block.clear();
        const BlockReport& r = renderer.render(8, p, block);
        if (!o.midi.empty()) events.insert(events.end(), r.events.begin(), r.events.end());
        const uint64_t n = std::min<uint64_t>(block.size() / 2, want - written);
        if (sf_writef_float(f, block.data(), static_cast<sf_count_t>(n)) != static_cast<sf_count_t>(n)) {
            const std::string why = sf_strerror(f);
            sf_close(f);
            std::remove(tmp.c_str());
            throw std::runtime_error("cannot write " + tmp + ": " + why);
        }
        written += n;
    }
    sf_close(f);
    if (std::rename(tmp.c_str(), o.out.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + o.out);
    if (!o.midi.empty()) {
        // The audio lags the notes by the post tier's latency; the MIDI file holds the notes of
        // the rendered length on the beat grid, which is what a sequencer lines up with.
        write_midi_file(o.midi, *style, o.lanes, p[Param::tempo], events, o.seconds * p[Param::tempo] / 60.0);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("rendered %s: %.2f s of '%s' at %d Hz, %d-bit, seed %llu, backend %s, %.2f s wall (%.1fx real time)\n", o.out.c_str(),
                static_cast<double>(written) / rate, o.score.empty() ? o.style.c_str() : o.score.c_str(), rate, o.bits,
                static_cast<unsigned long long>(o.seed), renderer.generator().backend().c_str(), wall,
                static_cast<double>(written) / rate / wall);
}

}  // namespace wavecast
