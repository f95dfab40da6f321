// The conditioning network on cuDNN (cpu/conditioning_cpu.cpp is the definition): for a block of
// frames ahead of the sample loop, C[k] = proj(tanh(conv3(inputs of frames k-2..k))), as two
// convolutions, a bias add each and a tanh, on the caller's stream.
//
// Layout: the inputs [frames + 2][lanes][in] (in = features + instrument embedding; the first two
// rows are the frames carried from the last block) are an NHWC image of height frames + 2, width
// lanes and `in` channels, so the kernel-3 conv runs down the frames and the 1x1 projection
// writes [frames][lanes][C] straight into the generator's conditioning rows. The math is fp32
// with FMA only: TF32 would round the inputs to 10 bits of mantissa, far from the reference.
#pragma once

#include <cudnn.h>

#include "kernels/conditioning.h"
#include "kernels/cuda/device_buffer.h"

namespace wavecast {

class ConditioningCudnn final : public Conditioning {
public:
    // `stream`: where the work is queued; nullptr: a stream of its own.
    ConditioningCudnn(const Model& model, cudaStream_t stream);
    ~ConditioningCudnn() override;
    ConditioningCudnn(const ConditioningCudnn&) = delete;
    ConditioningCudnn& operator=(const ConditioningCudnn&) = delete;

    // inputs: device [frames + 2][lanes][in] -> out: device [frames][lanes][C], queued on the stream.
    void run(const float* inputs, int frames, int lanes, float* out) override;

    int inputs_per_lane() const override { return in_; }
    int channels() const override { return C_; }
    // The algorithms cuDNN's heuristics picked for the last block's shape.
    std::string describe() const override;
    const char* conv_algorithm() const;
    const char* proj_algorithm() const;
    Buffers buffers(int frames, int lanes) override;
    void finish() override;
    // The descriptors, the algorithm choice and the workspace for blocks of `frames` x `lanes`,
    // made now rather than at the first such block (run() makes them for any other shape).
    void plan(int frames, int lanes);

private:
    int in_, H_, C_;
    cudaStream_t stream_;
    bool own_stream_ = false;
    DeviceBuffer<float> bench_in_, bench_out_;
    cudnnHandle_t handle_ = nullptr;
    cudnnTensorDescriptor_t x_ = nullptr, hidden_ = nullptr, y_ = nullptr, conv_bias_ = nullptr, proj_bias_ = nullptr;
    cudnnFilterDescriptor_t conv_w_ = nullptr, proj_w_ = nullptr;
    cudnnConvolutionDescriptor_t conv_ = nullptr, proj_ = nullptr;
    cudnnActivationDescriptor_t tanh_ = nullptr;
    cudnnConvolutionFwdAlgo_t conv_algo_{}, proj_algo_{};
    int planned_frames_ = 0, planned_lanes_ = 0;
    DeviceBuffer<float> conv_weights_, conv_bias_values_, proj_weights_, proj_bias_values_, hidden_values_;
    DeviceBuffer<unsigned char> workspace_;
    size_t workspace_bytes_ = 0;
};

}  // namespace wavecast
