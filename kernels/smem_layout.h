// One place that carves a block of shared memory into regions, each at its own alignment, the
// same way on the host (which asks for the size at launch) and in the kernel (which takes the
// offsets): two hand-written copies of a layout drift apart, and a region that lands on an
// unaligned address stops the whole CUDA context (cudaErrorMisalignedAddress is sticky).
#pragma once

#include <cstddef>

#include "kernels/host_device.h"

namespace wavecast {

struct SmemCarver {
    size_t end = 0;  // bytes taken so far
    // The offset of a new region of `bytes`, at a multiple of `align` (a power of two).
    WC_HOST_DEVICE size_t take(size_t bytes, size_t align) {
        const size_t at = (end + align - 1) & ~(align - 1);
        end = at + bytes;
        return at;
    }
};

}  // namespace wavecast
