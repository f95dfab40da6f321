// The shared memory of the generic generator kernel (generator_cuda.cu): one function, used by the
// host (to pick how many lanes a block takes and to size the launch) and by the kernel (to find
// its regions), and checked on the CPU for every shape and lane count (smem_layout_test).
//
// A block of `lanes` lanes keeps, per lane, one sample's activations in fp32 and, when the model
// has an excitation, the frame's sounding pitches (a start, a velocity and a pitch each).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/frame_features.h"
#include "kernels/host_device.h"
#include "kernels/smem_layout.h"

namespace wavecast {

inline constexpr int kGenericThreads = 256;
inline constexpr int kGenericMaxLanes = 8;  // lanes a block (the kernel's LB)

struct GenericLayout {
    // Byte offsets; [lanes][n] each.
    size_t x;                                 // [R]: the residual stream
    size_t in;                                // [2R]: the conv's inputs, x[t - d] | x[t]
    size_t z;                                 // [2R]: the conv's outputs, tanh rows then gate rows
    size_t act;                               // [R]: the gated activations
    size_t skip;                              // [S]: the skip sum
    size_t h1;                                // [A]
    size_t logits;                            // [A]
    size_t exc;                               // [X]: the excitation at this sample
    size_t note_start, note_vel, note_pitch;  // [kPitches] each where X > 0, else empty
    size_t cls;                               // int: the class each lane drew last (its next input)
    size_t notes;                             // int: how many pitches each lane's frame sounds
    size_t bytes;
};

WC_HOST_DEVICE inline GenericLayout generic_layout(int lanes, int R, int S, int A, int X) {
    SmemCarver c;
    GenericLayout l;
    const size_t b = static_cast<size_t>(lanes), f = sizeof(float);
    l.x = c.take(b * R * f, f);
    l.in = c.take(b * 2 * R * f, f);
    l.z = c.take(b * 2 * R * f, f);
    l.act = c.take(b * R * f, f);
    l.skip = c.take(b * S * f, f);
    l.h1 = c.take(b * A * f, f);
    l.logits = c.take(b * A * f, f);
    l.exc = c.take(b * X * f, f);
    const size_t notes = X > 0 ? b * kPitches : 0;
    l.note_start = c.take(notes * sizeof(uint64_t), alignof(uint64_t));
    l.note_vel = c.take(notes * sizeof(float), alignof(float));
    l.note_pitch = c.take(notes * sizeof(int), alignof(int));
    l.cls = c.take(b * sizeof(int), alignof(int));
    l.notes = c.take(b * sizeof(int), alignof(int));
    l.bytes = c.end;
    return l;
}

}  // namespace wavecast
