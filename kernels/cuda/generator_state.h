// What one generate() or teacher_forced() call hands a generator kernel: the per-call inputs and
// the lanes' state in device memory, which both kernels (the generic one in generator_cuda.cu and
// the cluster one in generator_cluster.cu) keep in the same layout, so that either may take the
// next call.
#pragma once

#include <cstdint>

#include "kernels/philox.h"

namespace wavecast {

struct RunArgs {
    const float* cbuf;    // [frames + 1][lanes][C]: the conditioning, row 0 the last call's final frame
    const float* inputs;  // [frames + 2][lanes][in]: this call's features from row 2
    int in;               // features + instrument embedding per lane and frame
    uint64_t* started;    // [lanes][128]: each pitch's note start (excitation.h), kept across calls
    int frames, lanes;
    unsigned long long pos0;
    const LaneKey* keys;       // [lanes]: what keys each lane's draws
    const float* temperature;  // [frames][lanes]
    const float* lowest;       // [lanes]: tail_floor() of each lane's tail cut (sampling.h)
    const int* forced;         // [lanes][T] or null
    float* out;                // [lanes][T] or null
    float* probs;              // [lanes][T][A] or null
    int* prev;                 // [lanes]: the class of each lane's last sample
    float* queues;             // [lanes][sum of dilations][R]: layer l's x[t - d] at slot t mod d
    int queue_per_lane;        // sum of dilations * R
    const double* exc_inc;     // [K][128]: excitation_increments(), the host's bits
};

}  // namespace wavecast
