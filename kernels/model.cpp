#include "kernels/model.h"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>

#include "kernels/excitation.h"
#include "kernels/frame_features.h"
#include "kernels/half.h"

namespace wavecast {
namespace {

using json = nlohmann::json;

// Calls fn(name, shape, storage) for every tensor of the architecture, in one fixed order. The
// single list both the loader and the writer use, so they cannot disagree on names or shapes.
void for_each_tensor(const ModelSpec& s, Weights& w,
                     const std::function<void(const std::string&, std::vector<int64_t>, std::vector<float>&)>& fn) {
    const int64_t R = s.residual_channels, S = s.skip_channels, A = s.audio_classes, H = s.cond_hidden;
    const int64_t F = s.cond_features, E = s.instrument_dim, N = static_cast<int64_t>(s.instruments.size());
    fn("embed", {A, R}, w.embed);
    fn("instrument_embed", {N, E}, w.instrument_embed);
    fn("cond.conv.weight", {H, F + E, 3}, w.cond_conv_w);
    fn("cond.conv.bias", {H}, w.cond_conv_b);
    fn("cond.proj.weight", {s.cond_channels(), H}, w.cond_proj_w);
    fn("cond.proj.bias", {s.cond_channels()}, w.cond_proj_b);
    if (s.excitation_harmonics > 0) {
        fn("excitation.weight", {s.cond_channels(), s.excitation_channels()}, w.excitation_w);
        fn("excitation.input.weight", {R, s.excitation_channels()}, w.excitation_in_w);
    }
    w.layers.resize(static_cast<size_t>(s.layers));
    for (int l = 0; l < s.layers; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        auto& lw = w.layers[static_cast<size_t>(l)];
        fn(p + "conv.weight", {2 * R, R, 2}, lw.conv_w);
        fn(p + "conv.bias", {2 * R}, lw.conv_b);
        fn(p + "res.weight", {R, R}, lw.res_w);
        fn(p + "res.bias", {R}, lw.res_b);
        fn(p + "skip.weight", {S, R}, lw.skip_w);
        fn(p + "skip.bias", {S}, lw.skip_b);
    }
    fn("out1.weight", {A, S}, w.out1_w);
    fn("out1.bias", {A}, w.out1_b);
    fn("out2.weight", {A, A}, w.out2_w);
    fn("out2.bias", {A}, w.out2_b);
}

json spec_to_json(const ModelSpec& s) {
    json inst = json::array();
    for (const auto& i : s.instruments)
        inst.push_back({{"name", i.name}, {"program", i.program}, {"drums", i.drums}, {"release_s", i.release_s}});
    return {{"architecture", kArchitecture},
            {"residual_channels", s.residual_channels},
            {"skip_channels", s.skip_channels},
            {"audio_classes", s.audio_classes},
            {"layers", s.layers},
            {"dilation_cycle", s.dilation_cycle},
            {"sample_rate", s.sample_rate},
            {"frame_hop", s.frame_hop},
            {"cond_features", s.cond_features},
            {"cond_hidden", s.cond_hidden},
            {"instrument_dim", s.instrument_dim},
            {"excitation_harmonics", s.excitation_harmonics},
            {"output", s.output},
            {"pre_emphasis", s.pre_emphasis},
            {"feature_layout", s.feature_layout},
            {"instruments", inst},
            {"weights", s.random_weights ? "random" : "trained"},
            {"provenance", json::parse(s.provenance)}};
}

float house_release(int program, bool drums) {
    for (const Instrument& i : house_instruments())
        if (i.program == program && i.drums == drums) return i.release_s;
    return drums ? kDefaultKitRelease : kDefaultRelease;
}

ModelSpec spec_from_json(const json& j, const std::string& where) {
    auto fail = [&](const std::string& why) { return ModelError(where + ": " + why); };
    if (!j.is_object()) throw fail("metadata 'wavecast' is not a JSON object");
    if (!j.contains("architecture") || !j["architecture"].is_string()) throw fail("metadata names no architecture");
    if (j["architecture"] != kArchitecture)
        throw fail("unknown architecture '" + j["architecture"].get<std::string>() + "' (this engine runs " + kArchitecture + ")");
    auto get_int = [&](const char* key) {
        if (!j.contains(key) || !j[key].is_number_integer()) throw fail(std::string("metadata lacks integer '") + key + "'");
        return j[key].get<int>();
    };
    auto get_str = [&](const char* key) {
        if (!j.contains(key) || !j[key].is_string()) throw fail(std::string("metadata lacks string '") + key + "'");
        return j[key].get<std::string>();
    };
    ModelSpec s;
    s.residual_channels = get_int("residual_channels");
    s.skip_channels = get_int("skip_channels");
    s.audio_classes = get_int("audio_classes");
    s.layers = get_int("layers");
    s.dilation_cycle = get_int("dilation_cycle");
    s.sample_rate = get_int("sample_rate");
    s.frame_hop = get_int("frame_hop");
    s.cond_features = get_int("cond_features");
    s.cond_hidden = get_int("cond_hidden");
    s.instrument_dim = get_int("instrument_dim");
    // Optional: files written before the excitation have none.
    s.excitation_harmonics = j.contains("excitation_harmonics") ? get_int("excitation_harmonics") : 0;
    s.output = get_str("output");
    if (j.contains("pre_emphasis")) {
        if (!j["pre_emphasis"].is_number()) throw fail("metadata 'pre_emphasis' is not a number");
        s.pre_emphasis = j["pre_emphasis"].get<float>();
    }
    s.feature_layout = get_str("feature_layout");
    const std::string weights = get_str("weights");
    if (weights != "random" && weights != "trained") throw fail("metadata 'weights' must be \"random\" or \"trained\"");
    s.random_weights = weights == "random";
    if (!j.contains("instruments") || !j["instruments"].is_array()) throw fail("metadata lacks the instrument table");
    for (const auto& i : j["instruments"]) {
        if (!i.is_object() || !i.contains("name") || !i["name"].is_string() || !i.contains("program") || !i["program"].is_number_integer())
            throw fail("instrument table entry lacks name or program");
        Instrument in{i["name"].get<std::string>(), i["program"].get<int>(),
                      i.contains("drums") && i["drums"].is_boolean() && i["drums"].get<bool>()};
        if (!i.contains("release_s")) in.release_s = house_release(in.program, in.drums);
        else if (i["release_s"].is_number()) in.release_s = i["release_s"].get<float>();
        else throw fail("instrument '" + in.name + "': release_s is not a number");
        s.instruments.push_back(std::move(in));
    }
    s.provenance = j.contains("provenance") ? j["provenance"].dump() : "{}";
    validate_spec(s, where);
    return s;
}

}  // namespace

// Releases: FluidSynth with FluidR3_GM at the training gain (training/dataset.py), one note of
// velocity 100 held 1 s (a kit: each of kick, snare, hats, crash and ride, struck for 50 ms), 10 ms
// RMS windows, until the render stays below -80 dBFS after the note ends, rounded up to 0.1 s:
// bass 0.11 s, piano 0.31, strings 0.80, lead 0.15, pad 1.30, e-piano 0.10, guitar 0.75, kit 3.8
// (the crash). Past that the teacher is silent, and the network trained on it should be; what it
// plays there is its noise (the small model's pad: -28 dBFS).
std::vector<Instrument> house_instruments() {
    return {{"drums", 0, true, 3.8f},           {"electric_bass", 33, false, 0.2f},  {"piano", 0, false, 0.4f},
            {"strings", 48, false, 0.8f},       {"lead_square", 80, false, 0.2f},    {"pad_warm", 89, false, 1.3f},
            {"electric_piano", 4, false, 0.1f}, {"acoustic_guitar", 24, false, 0.8f}};
}

std::string ModelSpec::shape_name() const {
    // Appended rather than built with operator+ on a literal: GCC 12 warns (-Wrestrict, a known
    // false positive) on "R" + std::string.
    std::string name = "R";
    name += std::to_string(residual_channels);
    name += "-S" + std::to_string(skip_channels);
    name += "-A" + std::to_string(audio_classes);
    name += "-L" + std::to_string(layers);
    return name;
}

void validate_spec(const ModelSpec& s, const std::string& where) {
    auto check = [&](bool ok, const std::string& why) {
        if (!ok) throw ModelError(where + ": " + why);
    };
    check(s.residual_channels >= 1 && s.residual_channels <= 1024, "residual_channels must be 1..1024");
    check(s.skip_channels >= 1 && s.skip_channels <= 4096, "skip_channels must be 1..4096");
    check(s.output == "mulaw", "unsupported output kind '" + s.output + "' (this engine runs \"mulaw\")");
    check(s.audio_classes >= 2 && s.audio_classes <= 65536, "audio_classes must be 2..65536");
    // At 1 the de-emphasis would integrate the network's noise without bound.
    check(s.pre_emphasis >= 0.0f && s.pre_emphasis < 1.0f, "pre_emphasis must be at least 0 and below 1");
    check(s.layers >= 1 && s.layers <= 64, "layers must be 1..64");
    check(s.dilation_cycle >= 1 && s.dilation_cycle <= 16, "dilation_cycle must be 1..16");
    check(s.sample_rate >= 4000 && s.sample_rate <= 192000, "sample_rate must be 4000..192000");
    check(s.frame_hop >= 1 && s.frame_hop <= s.sample_rate, "frame_hop must be 1..sample_rate");
    check(s.feature_layout == kFeatureLayout,
          "unknown feature_layout '" + s.feature_layout + "' (this engine writes " + kFeatureLayout + ")");
    check(s.cond_features == kFrameFeatures, "cond_features is " + std::to_string(s.cond_features) + ", the " + kFeatureLayout +
                                                 " layout has " + std::to_string(kFrameFeatures));
    check(s.cond_hidden >= 1 && s.cond_hidden <= 4096, "cond_hidden must be 1..4096");
    check(s.instrument_dim >= 1 && s.instrument_dim <= 1024, "instrument_dim must be 1..1024");
    check(s.excitation_harmonics >= 0 && s.excitation_harmonics <= kMaxExcitationHarmonics,
          "excitation_harmonics must be 0.." + std::to_string(kMaxExcitationHarmonics));
    check(!s.instruments.empty(), "the instrument table is empty");
    for (const auto& i : s.instruments) {
        check(i.program >= 0 && i.program <= 127, "instrument '" + i.name + "' has a GM program outside 0..127");
        check(i.release_s >= 0.0f && i.release_s <= 30.0f, "instrument '" + i.name + "' has a release_s outside 0..30 s");
    }
    try {
        check(json::parse(s.provenance).is_object(), "provenance is not a JSON object");
    } catch (const json::exception&) {
        check(false, "provenance is not valid JSON");
    }
}

Model load_model(const std::string& path) {
    SafetensorsFile file = read_safetensors(path);
    const auto meta = file.metadata.find("wavecast");
    if (meta == file.metadata.end())
        throw ModelError(path + ": no 'wavecast' entry in __metadata__: not a wavecast model (unknown architecture)");
    json j;
    try {
        j = json::parse(meta->second);
    } catch (const json::exception& e) {
        throw ModelError(path + ": metadata 'wavecast' is not valid JSON: " + e.what());
    }
    Model m;
    m.path = path;
    m.spec = spec_from_json(j, path);

    std::set<std::string> expected;
    for_each_tensor(m.spec, m.weights, [&](const std::string& name, std::vector<int64_t> shape, std::vector<float>& dst) {
        expected.insert(name);
        auto it = file.tensors.find(name);
        if (it == file.tensors.end()) throw ModelError(path + ": missing tensor '" + name + "'");
        if (it->second.shape != shape)
            throw ModelError(path + ": tensor '" + name + "' has shape " + shape_string(it->second.shape) + ", the metadata implies " +
                             shape_string(shape));
        for (float v : it->second.data)
            if (!std::isfinite(v)) throw ModelError(path + ": tensor '" + name + "' holds a non-finite value");
        dst = std::move(it->second.data);
    });
    for (const auto& [name, t] : file.tensors)
        if (!expected.count(name)) throw ModelError(path + ": unexpected tensor '" + name + "' (not part of " + kArchitecture + ")");
    return m;
}

void save_model(const std::string& path, const Model& model) {
    SafetensorsFile file;
    file.metadata["wavecast"] = spec_to_json(model.spec).dump();
    Weights w = model.weights;
    for_each_tensor(model.spec, w, [&](const std::string& name, std::vector<int64_t> shape, std::vector<float>& src) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        if (static_cast<int64_t>(src.size()) != n)
            throw ModelError(path + ": tensor '" + name + "' has " + std::to_string(src.size()) + " values, shape " + shape_string(shape) +
                             " needs " + std::to_string(n));
        file.tensors[name] = Tensor{shape, src};
    });
    write_safetensors(path, file);
}

ModelSpec named_shape(const std::string& name) {
    ModelSpec s;
    s.audio_classes = 256;
    s.sample_rate = 16000;
    s.frame_hop = 160;  // 100 frames per second
    s.cond_features = kFrameFeatures;
    s.instrument_dim = 16;
    s.instruments = house_instruments();
    if (name == "tiny") {
        s.residual_channels = 8, s.skip_channels = 16, s.layers = 4, s.dilation_cycle = 4, s.cond_hidden = 8;
        s.audio_classes = 64, s.excitation_harmonics = 2;
    } else if (name == "small") {
        s.residual_channels = 32, s.skip_channels = 64, s.layers = 10, s.dilation_cycle = 10, s.cond_hidden = 32;
        s.excitation_harmonics = 4;
    } else if (name == "medium") {  // nv-wavenet's "medium": R=64, S=128, A=256, L=20
        s.residual_channels = 64, s.skip_channels = 128, s.layers = 20, s.dilation_cycle = 10, s.cond_hidden = 64;
        s.excitation_harmonics = 4;
    } else {
        throw std::invalid_argument("unknown model shape '" + name + "' (tiny, small or medium)");
    }
    return s;
}

std::vector<float> blend_instruments(const Model& model, const float* weights, int lanes) {
    const int E = model.spec.instrument_dim, N = static_cast<int>(model.spec.instruments.size());
    std::vector<float> out(static_cast<size_t>(lanes) * E, 0.0f);
    for (int b = 0; b < lanes; ++b) {
        float* e = &out[static_cast<size_t>(b) * E];
        for (int n = 0; n < N; ++n) {
            const float wgt = weights[static_cast<size_t>(b) * N + n];
            if (wgt == 0.0f) continue;
            for (int j = 0; j < E; ++j) e[j] += wgt * model.weights.instrument_embed[static_cast<size_t>(n) * E + j];
        }
    }
    return out;
}

std::vector<float> default_instrument_weights(const ModelSpec& spec, int lanes) {
    const size_t N = spec.instruments.size();
    std::vector<float> w(static_cast<size_t>(lanes) * N, 0.0f);
    for (int b = 0; b < lanes; ++b) w[static_cast<size_t>(b) * N + static_cast<size_t>(b) % N] = 1.0f;
    return w;
}

std::vector<float> cond_conv_by_tap(const Model& model) {
    const int H = model.spec.cond_hidden, in = model.spec.cond_features + model.spec.instrument_dim;
    std::vector<float> out(static_cast<size_t>(H) * 3 * in);
    for (int h = 0; h < H; ++h)
        for (int i = 0; i < in; ++i)
            for (int k = 0; k < 3; ++k)
                out[(static_cast<size_t>(h) * 3 + k) * in + i] = model.weights.cond_conv_w[(static_cast<size_t>(h) * in + i) * 3 + k];
    return out;
}

Model random_model(const ModelSpec& spec_in, uint64_t seed) {
    Model m;
    m.spec = spec_in;
    m.spec.random_weights = true;
    m.spec.provenance = json{{"weights", "seeded random, untrained"}, {"seed", seed}}.dump();
    validate_spec(m.spec, "random model");
    std::mt19937_64 rng(seed);
    for_each_tensor(m.spec, m.weights, [&](const std::string& name, std::vector<int64_t> shape, std::vector<float>& dst) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        // Fan-in scaling keeps every pre-activation near unit variance; biases small.
        const int64_t fan_in = shape.size() >= 2 ? n / shape[0] : 1;
        const bool bias = shape.size() == 1;
        float scale = bias ? 0.1f : 1.0f / std::sqrt(static_cast<float>(fan_in));
        if (name == "embed" || name == "instrument_embed") scale = 1.0f;
        if (name == "out2.weight") scale *= 4.0f;  // a peaked distribution, so the audio is not white noise
        std::normal_distribution<float> dist(0.0f, scale);
        dst.resize(static_cast<size_t>(n));
        for (auto& v : dst) v = dist(rng);
    });
    return m;
}

Precision parse_precision(const std::string& name) {
    if (name == "fp32") return Precision::fp32;
    if (name == "fp16") return Precision::fp16;
    if (name == "bf16") return Precision::bf16;
    throw std::invalid_argument("unknown precision '" + name + "' (fp32, fp16 or bf16)");
}

const char* precision_name(Precision p) {
    switch (p) {
        case Precision::fp16: return "fp16";
        case Precision::bf16: return "bf16";
        default: return "fp32";
    }
}

Model with_precision(const Model& model, Precision p) {
    Model m = model;
    if (p == Precision::fp32) return m;
    auto round = [p](std::vector<float>& v) {
        for (float& x : v) {
            const float r = p == Precision::fp16 ? half_to_float(float_to_half(x)) : bf16_to_float(float_to_bf16(x));
            if (std::isinf(r))
                throw std::invalid_argument("a weight of " + std::to_string(x) + " is beyond " + precision_name(p) + "'s range");
            x = r;
        }
    };
    Weights& w = m.weights;
    round(w.embed);
    for (LayerWeights& l : w.layers) {
        round(l.conv_w);
        round(l.res_w);
        round(l.skip_w);
    }
    round(w.out1_w);
    round(w.out2_w);
    return m;
}

}  // namespace wavecast
