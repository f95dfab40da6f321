// The psychoacoustic model's threshold on the GPU: one thread block per frame, the same steps
// and the same arithmetic as masking_threshold() in ../psychoacoustic.cpp, its definition.
#pragma once

#include "kernels/cuda/device_buffer.h"
#include "kernels/psychoacoustic.h"

namespace wavecast {

// The model's tables on the device, made once per (rate, FFT size).
struct PsychoTablesDevice {
    int sample_rate = 0, fft_size = 0, bins = 0, bands = 0;
    float* freq = nullptr;
    float* bark = nullptr;
    float* ath_db = nullptr;
    int* tonal_reach = nullptr;
    int* band_start = nullptr;  // bands + 1 entries
};

// The tables' device memory, owned; view() is what a launch takes.
class PsychoTablesOnDevice {
public:
    explicit PsychoTablesOnDevice(const PsychoTables& t);
    const PsychoTablesDevice& view() const { return view_; }

private:
    DeviceBuffer<float> freq_, bark_, ath_db_;
    DeviceBuffer<int> tonal_reach_, band_start_;
    PsychoTablesDevice view_;
};

// power_db [frames][bins] -> threshold_db [frames][bins], device pointers, on `stream`.
void launch_psycho_threshold(const PsychoTablesDevice& t, const float* power_db, float* threshold_db, int frames, void* stream);

// For tests: the same kernel on host arrays (copies in, runs, copies out, synchronises).
void cuda_masking_threshold(const PsychoTables& t, const float* power_db, float* threshold_db, int frames);

}  // namespace wavecast
