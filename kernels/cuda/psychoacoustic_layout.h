// The shared memory of psycho_threshold_kernel: one frame's power and linear power per bin, the
// tonal flags and the bins tonal maskers claim, then the masker list. Computed by one function
// for the launch (its size) and the kernel (its offsets); tests/unit checks it for every bin
// count the stage can use.
#pragma once

#include "kernels/host_device.h"
#include "kernels/smem_layout.h"

namespace wavecast {

struct DevMasker {
    int bin;
    float level_db;
    float bark;
    int tonal;
};

struct PsychoSmemLayout {
    size_t power, lin, tonal, claimed, maskers, bytes;
    int max_maskers;
};

// At most this many maskers per frame: every other bin a tonal peak, plus one per critical band.
WC_HOST_DEVICE inline int psycho_max_maskers(int bins) { return bins / 2 + 32; }

WC_HOST_DEVICE inline PsychoSmemLayout psycho_smem_layout(int bins) {
    SmemCarver c;
    PsychoSmemLayout l;
    const size_t n = static_cast<size_t>(bins);
    l.max_maskers = psycho_max_maskers(bins);
    l.power = c.take(n * sizeof(float), alignof(float));
    l.lin = c.take(n * sizeof(float), alignof(float));
    l.tonal = c.take(n, 1);
    l.claimed = c.take(n, 1);
    l.maskers = c.take(static_cast<size_t>(l.max_maskers) * sizeof(DevMasker), alignof(DevMasker));
    l.bytes = c.end;
    return l;
}

}  // namespace wavecast
