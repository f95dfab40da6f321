// How a lane's next class is drawn from the network's logits, in the terms both backends share:
// softmax(logits / temperature), with the tail cut off. The tail of a well-trained distribution
// over 256 mu-law classes still holds a few percent of the mass, and each draw from it is a click
// of noise under the music; LPCNet and WaveRNN never draw it. A class is in the tail when its
// probability (at temperature 1) is below `tail_cut` times the most likely class's, so the test is
// on the logit's distance from the largest, made the same way by the CPU and the kernels.
#pragma once

#include <cmath>

namespace wavecast {

// The lowest logit minus the largest that may still be drawn: log(tail_cut), or -inf for 0 (the
// whole distribution). Computed on the host, once per lane and call, so both backends compare
// against the same float.
inline float tail_floor(float tail_cut) { return tail_cut > 0.0f ? std::log(tail_cut) : -INFINITY; }

}  // namespace wavecast
