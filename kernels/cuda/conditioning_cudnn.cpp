#include "kernels/cuda/conditioning_cudnn.h"

#include "kernels/cuda/common.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace wavecast {
namespace {

const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
    switch (a) {
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "implicit_gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "implicit_precomp_gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "gemm";
        case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "direct";
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "fft";
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "fft_tiling";
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "winograd";
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
        default: return "unknown";
    }
}

// The fastest algorithm cuDNN's heuristics expect to run this convolution without tensor cores
// (the descriptor's FMA math type is what runs; an algorithm that needs tensor ops is passed over).
cudnnConvolutionFwdAlgo_t pick(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                               cudnnTensorDescriptor_t y, const char* what) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, c, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
    for (int i = 0; i < n; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType != CUDNN_TENSOR_OP_MATH &&
            perf[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
            return perf[i].algo;
    throw std::runtime_error(std::string("cuDNN conditioning: no fp32 algorithm for the ") + what);
}

}  // namespace

ConditioningCudnn::ConditioningCudnn(const Model& model, cudaStream_t stream)
    : in_(model.spec.cond_features + model.spec.instrument_dim),
      H_(model.spec.cond_hidden),
      C_(model.spec.cond_channels()),
      stream_(stream) {
    if (!stream_) {
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        own_stream_ = true;
    }
    const Weights& w = model.weights;
    // KRSC filters: the conv's [H][3 taps, k-2 first][1][in]; the projection's [C][1][1][H] is the
    // model's own [C][H].
    conv_weights_.upload(cond_conv_by_tap(model));
    conv_bias_values_.upload(w.cond_conv_b);
    proj_weights_.upload(w.cond_proj_w);
    proj_bias_values_.upload(w.cond_proj_b);

    CUDNN_CHECK(cudnnCreate(&handle_));
    CUDNN_CHECK(cudnnSetStream(handle_, stream_));
    for (auto* d : {&x_, &hidden_, &y_, &conv_bias_, &proj_bias_}) CUDNN_CHECK(cudnnCreateTensorDescriptor(d));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&conv_w_));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&proj_w_));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&proj_));
    CUDNN_CHECK(cudnnCreateActivationDescriptor(&tanh_));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(conv_w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, H_, in_, 3, 1));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(proj_w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, C_, H_, 1, 1));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(conv_bias_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, H_, 1, 1));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(proj_bias_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, C_, 1, 1));
    for (auto c : {conv_, proj_}) {
        CUDNN_CHECK(cudnnSetConvolution2dDescriptor(c, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CUDNN_CHECK(cudnnSetConvolutionMathType(c, CUDNN_FMA_MATH));
    }
    CUDNN_CHECK(cudnnSetActivationDescriptor(tanh_, CUDNN_ACTIVATION_TANH, CUDNN_PROPAGATE_NAN, 0.0));
}

ConditioningCudnn::~ConditioningCudnn() {
    cudnnDestroyActivationDescriptor(tanh_);
    cudnnDestroyConvolutionDescriptor(proj_);
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(proj_w_);
    cudnnDestroyFilterDescriptor(conv_w_);
    for (auto d : {x_, hidden_, y_, conv_bias_, proj_bias_}) cudnnDestroyTensorDescriptor(d);
    cudnnDestroy(handle_);
    if (own_stream_) {
        cudaStreamSynchronize(stream_);
        cudaStreamDestroy(stream_);
    }
}

// Descriptors, algorithms and workspace for a block shape; the daemon's blocks keep one shape, so
// this runs once.
void ConditioningCudnn::plan(int frames, int lanes) {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, in_, frames + 2, lanes));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(hidden_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, H_, frames, lanes));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, C_, frames, lanes));
    int n = 0, c = 0, h = 0, wd = 0;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_, x_, conv_w_, &n, &c, &h, &wd));
    if (n != 1 || c != H_ || h != frames || wd != lanes)
        throw std::logic_error("cuDNN conditioning: the conv's output is " + std::to_string(n) + "x" + std::to_string(c) + "x" +
                               std::to_string(h) + "x" + std::to_string(wd));
    conv_algo_ = pick(handle_, x_, conv_w_, conv_, hidden_, "kernel-3 conv");
    proj_algo_ = pick(handle_, hidden_, proj_w_, proj_, y_, "1x1 projection");
    size_t a = 0, b = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle_, x_, conv_w_, conv_, hidden_, conv_algo_, &a));
    CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle_, hidden_, proj_w_, proj_, y_, proj_algo_, &b));
    workspace_bytes_ = std::max(a, b);
    workspace_.resize(std::max<size_t>(workspace_bytes_, 1));
    hidden_values_.resize(static_cast<size_t>(frames) * lanes * H_);
    planned_frames_ = frames, planned_lanes_ = lanes;
}

void ConditioningCudnn::run(const float* inputs, int frames, int lanes, float* out) {
    if (frames < 1 || lanes < 1) throw std::invalid_argument("cuDNN conditioning: a block needs a frame and a lane");
    if (frames != planned_frames_ || lanes != planned_lanes_) plan(frames, lanes);
    const float one = 1.0f, zero = 0.0f;
    float* hidden = hidden_values_.p;
    CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, x_, inputs, conv_w_, conv_weights_.p, conv_, conv_algo_, workspace_.p,
                                        workspace_bytes_, &zero, hidden_, hidden));
    CUDNN_CHECK(cudnnAddTensor(handle_, &one, conv_bias_, conv_bias_values_.p, &one, hidden_, hidden));
    CUDNN_CHECK(cudnnActivationForward(handle_, tanh_, &one, hidden_, hidden, &zero, hidden_, hidden));
    CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, hidden_, hidden, proj_w_, proj_weights_.p, proj_, proj_algo_, workspace_.p,
                                        workspace_bytes_, &zero, y_, out));
    CUDNN_CHECK(cudnnAddTensor(handle_, &one, proj_bias_, proj_bias_values_.p, &one, y_, out));
}

std::string ConditioningCudnn::describe() const {
    return std::string("cuda cuDNN (conv ") + conv_algorithm() + ", projection " + proj_algorithm() + ")";
}

Conditioning::Buffers ConditioningCudnn::buffers(int frames, int lanes) {
    const size_t in = static_cast<size_t>(frames + 2) * lanes * in_, out = static_cast<size_t>(frames) * lanes * C_;
    bench_in_.resize(in);
    bench_out_.resize(out);
    CUDA_CHECK(cudaMemset(bench_in_.p, 0, in * sizeof(float)));
    return {bench_in_.p, bench_out_.p};
}

void ConditioningCudnn::finish() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

std::unique_ptr<Conditioning> make_cuda_conditioning(const Model& model, void* stream) {
    return std::make_unique<ConditioningCudnn>(model, static_cast<cudaStream_t>(stream));
}

const char* ConditioningCudnn::conv_algorithm() const { return algo_name(conv_algo_); }
const char* ConditioningCudnn::proj_algorithm() const { return algo_name(proj_algo_); }

}  // namespace wavecast
