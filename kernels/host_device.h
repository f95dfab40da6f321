// Marks functions that the CPU reference and the CUDA kernels share, so both compute the same
// arithmetic from one definition.
#pragma once

#if defined(__CUDACC__)
#define WC_HOST_DEVICE __host__ __device__
#else
#define WC_HOST_DEVICE
#endif
