// The WaveNet-family network of DESIGN.md: hyper-parameters from a model file's metadata, and its
// weights as plain float arrays in PyTorch's layouts (Conv1d weight [out, in, k], Linear [out, in]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/safetensors.h"

namespace wavecast {

// The only architecture this engine runs; a file naming any other is refused.
inline constexpr const char* kArchitecture = "wavecast-wavenet-1";

// Frame features per lane (see features.h): the layout version the model was trained on.
inline constexpr const char* kFeatureLayout = "notes-v1";

struct Instrument {
    std::string name;
    int program = 0;     // General MIDI program 0..127
    bool drums = false;  // a GM percussion kit (MIDI channel 10), program then selects the kit
    // How long its sound rings on after a note ends, in seconds: the silence gate's hold
    // (chain/silence_gate.h). A model file that does not say takes the house table's value for the
    // same program and kit flag (house_instruments()), else kDefaultRelease.
    float release_s = 0;
};

inline constexpr float kDefaultRelease = 1.5f, kDefaultKitRelease = 4.0f;  // the house's longest, rounded up

struct ModelSpec {
    int residual_channels = 0;  // R
    int skip_channels = 0;      // S
    int audio_classes = 0;      // A
    int layers = 0;             // L
    int dilation_cycle = 0;     // dilations 1, 2, 4, ... 2^(cycle-1), repeated
    int sample_rate = 0;
    int frame_hop = 0;             // samples per conditioning frame
    int cond_features = 0;         // F, per frame
    int cond_hidden = 0;           // H, the conditioning network's width
    int instrument_dim = 0;        // E
    int excitation_harmonics = 0;  // K: the excitation's harmonics (excitation.h); 0: none
    std::string output = "mulaw";
    // The coefficient a of the pre-emphasis 1 - a z^-1 the network was trained on (emphasis.h): it
    // plays in that domain, and the renderer de-emphasises its lanes. 0 (a file that does not say):
    // none.
    float pre_emphasis = 0;
    std::string feature_layout = kFeatureLayout;
    std::vector<Instrument> instruments;
    bool random_weights = false;    // true: seeded random, untrained (tests and the first demo)
    std::string provenance = "{}";  // JSON object: how the weights were made

    int dilation(int layer) const { return 1 << (layer % dilation_cycle); }
    int cond_channels() const { return 2 * residual_channels * layers; }  // per-frame output
    int excitation_channels() const { return 2 * excitation_harmonics; }
    std::string shape_name() const;  // "R64-S128-A256-L20"
};

struct LayerWeights {
    std::vector<float> conv_w;  // [2R, R, 2]: tap 0 sees x[t - d], tap 1 sees x[t]
    std::vector<float> conv_b;  // [2R]: first R feed tanh, last R the sigmoid gate
    std::vector<float> res_w;   // [R, R]
    std::vector<float> res_b;   // [R]
    std::vector<float> skip_w;  // [S, R]
    std::vector<float> skip_b;  // [S]
};

struct Weights {
    std::vector<float> embed;             // [A, R]: the previous sample's class
    std::vector<float> instrument_embed;  // [N, E]
    std::vector<float> cond_conv_w;       // [H, F + E, 3]: causal over frames k-2, k-1, k
    std::vector<float> cond_conv_b;       // [H]
    std::vector<float> cond_proj_w;       // [2RL, H]
    std::vector<float> cond_proj_b;       // [2RL]
    std::vector<float> excitation_w;      // [2RL, 2K]: the excitation into every layer's gate (K > 0)
    std::vector<float> excitation_in_w;   // [R, 2K]: and into the residual input, beside the embedding
    std::vector<LayerWeights> layers;
    std::vector<float> out1_w;  // [A, S]
    std::vector<float> out1_b;  // [A]
    std::vector<float> out2_w;  // [A, A]
    std::vector<float> out2_b;  // [A]
};

struct Model {
    std::string path;  // where it was loaded from; empty if made in memory
    ModelSpec spec;
    Weights weights;
};

// Refuses (ModelError naming the path and the reason) a file that is truncated, lacks a tensor,
// has one of the wrong shape or one it should not have, or names an unknown architecture.
Model load_model(const std::string& path);
void save_model(const std::string& path, const Model& model);

// Checks the hyper-parameters alone; throws ModelError prefixed with `where`.
void validate_spec(const ModelSpec& spec, const std::string& where);

// Named shapes: "small" (the CPU default), "medium" (nv-wavenet's R=64 S=128 A=256 L=20),
// "tiny" (for fast tests), each with an excitation of 4 harmonics (2 for tiny). Throws
// std::invalid_argument for an unknown name.
ModelSpec named_shape(const std::string& name);
// The instruments the composer's styles are trained on (named_shape's table), with their releases.
std::vector<Instrument> house_instruments();

// Each lane's instrument embedding, [lanes][E], from its weights over the instrument table
// ([lanes][N]): the weighted sum of the table's rows, so that a blend morphs the timbre. Every
// backend's set_instruments computes it here, so they cannot disagree.
std::vector<float> blend_instruments(const Model& model, const float* weights, int lanes);

// Lane b on table entry b mod N: a generator's instruments before anyone sets them.
std::vector<float> default_instrument_weights(const ModelSpec& spec, int lanes);

// The conditioning conv's weights [H][F + E][3 taps] regrouped tap by tap, [H][3][F + E] (frame
// k-2's tap first): the rows every backend multiplies with the inputs of frames k-2, k-1, k.
std::vector<float> cond_conv_by_tap(const Model& model);

// How a backend stores the sample loop's weight matrices (embed, the dilated convolutions, the
// residual and skip 1x1s, out1, out2): the arithmetic, accumulation and biases stay fp32, and so
// do the conditioning network, which runs once a frame, and the excitation's small projection. Only the CUDA backend stores half.
enum class Precision { fp32, fp16, bf16 };

Precision parse_precision(const std::string& name);  // "fp32", "fp16" or "bf16"; else std::invalid_argument
const char* precision_name(Precision p);

// The model as a backend storing its matrices in `p` computes it: each of those weights rounded to
// the nearest `p` value (ties to even), the same bits the CUDA backend uploads. The CPU reference
// run on the result is the definition of that precision. Throws std::invalid_argument where a
// weight is beyond the precision's range (fp16: 65504).
Model with_precision(const Model& model, Precision p);

// Weights drawn from a seeded generator, scaled so that activations stay in range; the spec is
// marked random_weights so that nobody mistakes the result for a trained model.
Model random_model(const ModelSpec& spec, uint64_t seed);

}  // namespace wavecast
