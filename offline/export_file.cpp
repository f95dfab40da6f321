#include "offline/export_file.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "chain/renderer.h"
#include "kernels/backend.h"
#include "kernels/frame_features.h"
#include "kernels/safetensors.h"
#include "score/midi_file.h"
#include "score/style.h"

namespace wavecast {
namespace {

// Stands in for the network, keeping each frame's features and instrument weights: it plays
// silence, or, given the network (`--play`), passes everything on and keeps what it played too.
class ConditioningTap final : public Generator {
public:
    ConditioningTap(std::shared_ptr<const Model> model, int lanes, std::unique_ptr<Generator> network)
        : model_(std::move(model)), lanes_(lanes), network_(std::move(network)), samples_(static_cast<size_t>(lanes)) {}
    const ModelSpec& spec() const override { return model_->spec; }
    int lanes() const override { return lanes_; }
    std::string backend() const override { return network_ ? network_->backend() : "conditioning tap"; }
    void set_instruments(const float* w) override {
        weights_.assign(w, w + static_cast<size_t>(lanes_) * model_->spec.instruments.size());
        if (network_) network_->set_instruments(w);
    }
    void set_tail_cut(const float* cut) override {
        if (network_) network_->set_tail_cut(cut);
    }
    void generate(const float* features, const float* temperature, int frames, float* out) override {
        features_.insert(features_.end(), features, features + static_cast<size_t>(frames) * lanes_ * kFrameFeatures);
        for (int f = 0; f < frames; ++f) instruments_.insert(instruments_.end(), weights_.begin(), weights_.end());
        const size_t n = static_cast<size_t>(frames) * model_->spec.frame_hop;
        if (network_) {
            network_->generate(features, temperature, frames, out);
            for (int b = 0; b < lanes_; ++b)
                samples_[static_cast<size_t>(b)].insert(samples_[static_cast<size_t>(b)].end(), out + b * n, out + (b + 1) * n);
        } else {
            std::fill(out, out + static_cast<size_t>(lanes_) * n, 0.0f);
        }
        pos_ += n;
    }
    uint64_t position() const override { return pos_; }
    void reserve(int frames) override {
        if (network_) network_->reserve(frames);
    }

    // [lanes][samples], what the network played (model domain), lane after lane.
    std::vector<float> samples() const {
        std::vector<float> all;
        for (const auto& lane : samples_) all.insert(all.end(), lane.begin(), lane.end());
        return all;
    }

    std::vector<float> features_, instruments_;

private:
    std::shared_ptr<const Model> model_;
    int lanes_;
    std::unique_ptr<Generator> network_;
    std::vector<std::vector<float>> samples_;
    std::vector<float> weights_;
    uint64_t pos_ = 0;
};

}  // namespace

void export_conditioning(const OfflineSetup& setup, const RenderOptions& o) {
    const RenderSource src = load_render_source(setup, o);
    const auto& style = src.style;
    // The model gives the rate, the frame hop and the instrument table the lanes are mapped to
    // (and, with --play, plays: the backend render would use, its samples keyed as render's).
    const BackendPlan plan = plan_backends(o.play ? setup.backend : "cpu");
    auto model = std::make_shared<const Model>(load_model(setup.model_for(plan.generator)));
    const ModelSpec& spec = model->spec;
    std::unique_ptr<Generator> network;
    if (o.play) network = make_generator(plan.generator, model, lane_keys(o.seed, o.lanes), setup.precision, setup.cpu_threads).generator;
    auto tap_owner = std::make_unique<ConditioningTap>(model, o.lanes, std::move(network));
    ConditioningTap* tap = tap_owner.get();
    Renderer renderer(std::move(tap_owner), make_masking("cpu", spec.sample_rate, 2), style, spec.sample_rate, o.seed);
    if (src.score) renderer.set_score(style, src.score->notes, src.score->beats);
    // The composer's parameters as given, else the table's (playing: else the config's first
    // stream's, as render takes them); a score plays at its own tempo.
    const auto& stream = o.play ? setup.stream_params : std::map<std::string, double>{};
    BlockParams p = o.resolve(stream, src.score ? src.score->tempo_bpm : style->tempo);
    if (src.score) p[Param::tempo] = src.score->tempo_bpm;
    p[Param::gain_db] = 0.0, p[Param::masking_db] = -100.0;
    const double tempo = p[Param::tempo];
    const int64_t frames = static_cast<int64_t>(std::llround(o.seconds * spec.sample_rate / spec.frame_hop));
    std::vector<float> sink;
    std::vector<MidiEvent> events;
    for (int64_t done = 0; done < frames; done += 8) {
        sink.clear();
        const BlockReport& r = renderer.render(static_cast<int>(std::min<int64_t>(8, frames - done)), p, sink);
        if (!o.midi.empty()) events.insert(events.end(), r.events.begin(), r.events.end());
    }

    const int64_t lanes = o.lanes, n_instr = static_cast<int64_t>(spec.instruments.size());
    SafetensorsFile file;
    file.tensors["features"] = {{frames, lanes, kFrameFeatures}, std::move(tap->features_)};
    file.tensors["instruments"] = {{frames, lanes, n_instr}, std::move(tap->instruments_)};
    if (o.play) file.tensors["samples"] = {{lanes, frames * spec.frame_hop}, tap->samples()};
    nlohmann::json table = nlohmann::json::array(), tracks = nlohmann::json::array();
    for (const auto& in : spec.instruments) table.push_back({{"name", in.name}, {"program", in.program}, {"drums", in.drums}});
    for (int b = 0; b < o.lanes && b < static_cast<int>(style->tracks.size()); ++b) {
        const TrackStyle& t = style->tracks[static_cast<size_t>(b)];
        tracks.push_back({{"name", t.name}, {"program", t.program}, {"drums", t.drums}, {"channel", midi_channel(t, b)}});
    }
    const nlohmann::json meta = {{"layout", "notes-v1"},
                                 {"sample_rate", spec.sample_rate},
                                 {"frame_hop", spec.frame_hop},
                                 {"lanes", o.lanes},
                                 {"frames", frames},
                                 {"seed", o.seed},
                                 {"tempo", tempo},
                                 {"intensity", p[Param::intensity]},
                                 {"temperature", p[Param::temperature]},
                                 {"tail_cut", p[Param::tail_cut]},
                                 {"sustain_temperature", p[Param::sustain_temperature]},
                                 {"played_by", o.play ? tap->backend() : ""},
                                 {"source", o.score.empty() ? "style:" + o.style : "score:" + o.score},
                                 {"instrument_table", table},
                                 {"tracks", tracks}};
    file.metadata["wavecast_export"] = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    write_safetensors(o.out, file);
    if (!o.midi.empty()) write_midi_file(o.midi, *style, o.lanes, tempo, events, o.seconds * tempo / 60.0);
    std::printf("exported %s: %lld frames x %d lanes of '%s' (notes-v1, %d Hz, hop %d), seed %llu%s%s\n", o.out.c_str(),
                static_cast<long long>(frames), o.lanes, o.score.empty() ? o.style.c_str() : o.score.c_str(), spec.sample_rate,
                spec.frame_hop, static_cast<unsigned long long>(o.seed), o.midi.empty() ? "" : ", notes in ", o.midi.c_str());
}

}  // namespace wavecast
