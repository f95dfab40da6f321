// The model's output filter. A network trained on pre-emphasised audio (ModelSpec::pre_emphasis a;
// training/wavenet.py training_audio: x[t] - a x[t-1]) plays in that domain, where its sampling
// and quantisation noise is white; de-emphasis, 1 / (1 - a z^-1), gives back the music and shapes
// the noise like the music's spectrum, down at high frequencies where the music has little
// (LPCNet's recipe). Every backend's samples pass through it alike: the renderer applies it to
// what the generator gives (chain/renderer.cpp), before the silence gate, whose zeros stay exact.
#pragma once

#include <cstddef>
#include <vector>

namespace wavecast {

class DeEmphasis {
public:
    explicit DeEmphasis(int lanes) : last_(static_cast<size_t>(lanes), 0.0) {}

    // Filters n samples of every lane in place, audio [lanes][n], each lane going on from its last
    // output. a = 0 passes them as they are (and forgets the state, so a model swapped for one
    // without pre-emphasis starts clean).
    void apply(float a, size_t n, float* audio) {
        for (size_t b = 0; b < last_.size(); ++b) {
            double y = a > 0.0f ? last_[b] : 0.0;
            float* x = audio + b * n;
            for (size_t i = 0; i < n; ++i) {
                y = x[i] + a * y;
                x[i] = static_cast<float>(y);
            }
            last_[b] = y;
        }
    }

private:
    std::vector<double> last_;  // double: a long run's state keeps no float rounding of its own
};

}  // namespace wavecast
