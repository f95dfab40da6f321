// wavecast-bench: generator, conditioning and masking throughput as JSON lines, one per
// (stage, backend, shape, batch).
// Each figure is the median of --repeats timed runs of --seconds of audio per lane, after one
// untimed warm-up run, on random weights (throughput does not depend on the weights' values).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "kernels/backend.h"
#include "kernels/conditioning.h"
#include "kernels/cpu/lane_threads.h"
#include "kernels/frame_features.h"
#include "kernels/masking.h"

namespace {

double time_run(wavecast::Generator& g, int frames_per_call, int calls, const std::vector<float>& features,
                const std::vector<float>& temperature, std::vector<float>& out) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) g.generate(features.data(), temperature.data(), frames_per_call, out.data());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string cpu_model_name(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return "";
    char buf[512];
    std::string r;
    while (std::fgets(buf, sizeof buf, f))
        if (std::string(buf).rfind("model name", 0) == 0) {
            r = buf;
            r = r.substr(r.find(':') + 2);
            r.erase(r.find_last_not_of("\n") + 1);
            break;
        }
    std::fclose(f);
    return r;
}

// A music-like test signal: three decaying harmonic voices and a noise burst on every beat.
std::vector<float> music_like(int rate, int seconds) {
    std::vector<float> x(static_cast<size_t>(2 * rate * seconds));
    uint32_t lcg = 12345;
    for (size_t i = 0; i < x.size() / 2; ++i) {
        const double t = static_cast<double>(i) / rate;
        double v = 0;
        for (int voice = 0; voice < 3; ++voice)
            for (int h = 1; h <= 5; ++h)
                v += 0.05 / h * std::exp(-2 * std::fmod(t, 0.75)) * std::sin(2 * M_PI * (220 + 110 * voice) * h * t);
        lcg = lcg * 1664525u + 1013904223u;
        v += 0.05 * (static_cast<double>(lcg >> 8) / 16777216.0 - 0.5) * std::exp(-30 * std::fmod(t, 0.5));
        x[2 * i] = static_cast<float>(v);
        x[2 * i + 1] = static_cast<float>(0.8 * v);
    }
    return x;
}

// `streams` stereo streams as one stage of 2 * streams channels: how the GPU batches them.
void bench_masking(const std::string& backend, int streams, int repeats) {
    const int rate = 48000, seconds = 10, ch = 2 * streams;
    const auto one = music_like(rate, seconds);
    std::vector<float> in(one.size() / 2 * ch);
    for (size_t i = 0; i < one.size() / 2; ++i)
        for (int c = 0; c < ch; ++c) in[i * ch + c] = one[2 * i + (c % 2)] * (1.0f + 0.01f * static_cast<float>(c));
    std::vector<float> out(in.size());
    std::vector<double> times;
    double discarded = 0;
    std::string name;
    for (int r = 0; r <= repeats; ++r) {  // the first run is the warm-up
        auto m = wavecast::make_masking(wavecast::plan_backends(backend).masking, rate, ch);
        const size_t chunk = static_cast<size_t>(rate);  // one second per call
        const auto t0 = std::chrono::steady_clock::now();
        for (size_t at = 0; at < in.size() / ch; at += chunk)
            m->process(&in[at * ch], &out[at * ch], std::min(chunk, in.size() / ch - at), 0.0f);
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0) times.push_back(t);
        discarded = m->stats().discarded_share;
    }
    std::sort(times.begin(), times.end());
    const double t = times[times.size() / 2];
    std::string why;
    const auto devices = wavecast::cuda_devices(&why);
    const bool gpu = wavecast::plan_backends(backend).masking == "cuda";
    nlohmann::json line{{"stage", "masking"},
                        {"backend", gpu ? "cuda" : "cpu"},
                        {"sample_rate", rate},
                        {"channels_per_stream", 2},
                        {"streams", streams},
                        {"masking_db", 0.0},
                        {"fft_size", wavecast::masking_fft_size(rate)},
                        {"realtime_factor_per_stream", seconds / t},
                        {"realtime_factor_total", seconds * streams / t},
                        {"discarded_share", discarded},
                        {"repeats", repeats},
                        {"cpu", cpu_model_name("/proc/cpuinfo")},
                        {"gpu", devices.empty() ? nlohmann::json(nullptr) : nlohmann::json(devices[0].name)}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
}

}  // namespace

void bench_generator(const std::string& backend, const std::vector<std::string>& shapes, const std::vector<int>& batches, double seconds,
                     int repeats, int frames_per_call, wavecast::Precision precision, int threads, wavecast::CudaKernel kernel);
void bench_conditioning(const std::string& backend, const std::vector<std::string>& shapes, const std::vector<int>& batches, int repeats,
                        int frames_per_call);

int main(int argc, char** argv) {
    CLI::App app{"wavecast-bench: generator throughput, JSON lines on stdout"};
    std::string backend = "cpu";
    std::vector<std::string> shapes{"small", "medium"};
    std::vector<int> batches{1, 8};
    double seconds = 0.5;
    int repeats = 3;
    app.add_option("--backend", backend, "cpu, cuda or auto");
    app.add_option("--shapes", shapes, "model shapes: tiny, small, medium, or R64-S128-A256-L20[-C10] (C: dilation cycle)");
    int frames_per_call = 4;
    app.add_option("--frames-per-call", frames_per_call, "frames (10 ms each) per generate call: the chunk one launch makes");
    app.add_option("--batches", batches, "lane counts");
    std::string precision = "fp32";
    app.add_option("--precision", precision, "the CUDA generator's weight storage: fp32, fp16 or bf16 (the CPU computes fp32)");
    int threads = 1;
    std::string cuda_kernel = "auto";
    app.add_option("--cuda-kernel", cuda_kernel,
                   "the CUDA generator's kernel: auto, cluster (weights in a cluster's shared memory), generic, or tensor (tensor cores, "
                   "16 lanes or more in fp16/bf16)");
    app.add_option("--threads", threads, "the CPU generator's threads, each advancing a group of lanes (0: one per usable core)");
    app.add_option("--seconds", seconds, "audio per lane per timed run, at the model rate");
    app.add_option("--repeats", repeats, "timed runs; the median is reported");
    std::vector<std::string> stages{"generator", "masking"};  // conditioning on request
    std::vector<int> masking_streams{1};
    app.add_option("--stages", stages, "generator, conditioning, masking, device (the GPU's name, SMs and memory)");
    app.add_option("--masking-streams", masking_streams, "stereo streams batched into one masking stage");
    CLI11_PARSE(app, argc, argv);
    auto wants = [&](const char* s) { return std::find(stages.begin(), stages.end(), s) != stages.end(); };
    try {
        if (wants("device")) {
            std::string why;
            const auto devices = wavecast::cuda_devices(&why);
            nlohmann::json line{{"stage", "device"}, {"cpu", cpu_model_name("/proc/cpuinfo")}, {"gpu", nullptr}, {"why", why}};
            if (!devices.empty()) {
                const auto& d = devices[0];
                line.update({{"gpu", d.name},
                             {"sm_count", d.sm_count},
                             {"cc", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
                             {"memory_gib", static_cast<double>(d.memory_bytes) / (1u << 30)},
                             {"devices", devices.size()}});
            }
            std::printf("%s\n", line.dump().c_str());
        }
        if (wants("masking"))
            for (int s : masking_streams) bench_masking(backend, s, repeats);
        if (wants("conditioning")) bench_conditioning(backend, shapes, batches, repeats, frames_per_call);
        if (wants("generator"))
            bench_generator(backend, shapes, batches, seconds, repeats, frames_per_call, wavecast::parse_precision(precision), threads,
                            wavecast::parse_cuda_kernel(cuda_kernel));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecast-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}

// A named shape, or nv-wavenet's notation R64-S128-A256-L20 with an optional -C10 dilation cycle:
// nv-wavenet's network, so without the excitation the named shapes carry.
wavecast::ModelSpec parse_shape(const std::string& name) {
    if (name.empty() || name[0] != 'R') return wavecast::named_shape(name);
    wavecast::ModelSpec s = wavecast::named_shape("small");
    int R = 0, S = 0, A = 0, L = 0, C = 10;
    if (std::sscanf(name.c_str(), "R%d-S%d-A%d-L%d-C%d", &R, &S, &A, &L, &C) < 4)
        throw std::invalid_argument("shape '" + name + "' is not of the form R64-S128-A256-L20[-C10]");
    s.residual_channels = R, s.skip_channels = S, s.audio_classes = A, s.layers = L, s.dilation_cycle = C;
    s.excitation_harmonics = 0;
    wavecast::validate_spec(s, "shape " + name);
    return s;
}

void bench_generator(const std::string& backend, const std::vector<std::string>& shapes, const std::vector<int>& batches, double seconds,
                     int repeats, int frames_per_call, wavecast::Precision precision, int threads, wavecast::CudaKernel kernel) {
    std::string why;
    const auto devices = wavecast::cuda_devices(&why);
    const std::string cpu = cpu_model_name("/proc/cpuinfo");
    for (const auto& shape_name : shapes) {
        auto spec = parse_shape(shape_name);
        auto model = std::make_shared<const wavecast::Model>(wavecast::random_model(spec, 7));
        for (int batch : batches) {
            auto choice = wavecast::make_generator(wavecast::plan_backends(backend).generator, model, wavecast::lane_keys(1234, batch),
                                                   precision, threads);
            if (choice.generator->backend() == "cuda" && kernel != wavecast::CudaKernel::automatic)
                choice.generator = wavecast::make_cuda_generator(model, batch, 1234, precision, kernel);
            auto& g = *choice.generator;
            const int hop = spec.frame_hop;
            const int calls = std::max(1, static_cast<int>(seconds * spec.sample_rate / (frames_per_call * hop)));
            std::vector<float> features(static_cast<size_t>(frames_per_call) * batch * spec.cond_features, 0.0f);
            for (int f = 0; f < frames_per_call; ++f)
                for (int b = 0; b < batch; ++b)
                    wavecast::add_note(&features[(static_cast<size_t>(f) * batch + b) * spec.cond_features], 48 + 7 * b, 100, f == 0,
                                       0.01f * f);
            std::vector<float> temperature(static_cast<size_t>(frames_per_call) * batch, 1.0f);
            std::vector<float> out(static_cast<size_t>(batch) * frames_per_call * hop);
            time_run(g, frames_per_call, std::max(1, calls / 4), features, temperature, out);  // warm-up
            std::vector<double> times;
            for (int r = 0; r < repeats; ++r) times.push_back(time_run(g, frames_per_call, calls, features, temperature, out));
            std::sort(times.begin(), times.end());
            const double t = times[times.size() / 2];
            const double per_lane = static_cast<double>(calls) * frames_per_call * hop / t;
            nlohmann::json line{
                {"stage", "generator"},
                {"backend", g.backend()},
                {"kernel", g.kernel()},
                {"model", spec.shape_name()},
                {"residual_channels", spec.residual_channels},
                {"skip_channels", spec.skip_channels},
                {"audio_classes", spec.audio_classes},
                {"layers", spec.layers},
                {"excitation_harmonics", spec.excitation_harmonics},
                {"precision", g.backend() == "cpu" ? "fp32" : wavecast::precision_name(precision)},
                {"batch", batch},
                {"frames_per_call", frames_per_call},
                {"model_rate", spec.sample_rate},
                {"samples_per_s_per_lane", per_lane},
                {"samples_per_s_total", per_lane * batch},
                {"rtf_per_lane", per_lane / spec.sample_rate},
                {"repeats", repeats},
                {"threads", g.backend() == "cpu" ? nlohmann::json(wavecast::lane_groups(batch, threads)) : nlohmann::json(nullptr)},
                {"cpu", cpu},
                {"gpu", devices.empty() ? nlohmann::json(nullptr) : nlohmann::json(devices[0].name)}};
            std::printf("%s\n", line.dump().c_str());
            std::fflush(stdout);
        }
    }
}

// The conditioning stage alone (conditioning.h), for blocks of --frames-per-call frames, on the
// backend's own buffers, each timed run ended by waiting for what it queued.
void bench_conditioning(const std::string& backend, const std::vector<std::string>& shapes, const std::vector<int>& batches, int repeats,
                        int frames_per_call) {
    std::string why;
    const auto devices = wavecast::cuda_devices(&why);
    const bool gpu = wavecast::plan_backends(backend).generator == "cuda";
    for (const auto& shape_name : shapes) {
        const auto spec = parse_shape(shape_name);
        const wavecast::Model model = wavecast::random_model(spec, 7);
        for (int lanes : batches) {
            const int blocks = std::max(4, 2000 / frames_per_call);  // 20 s of frames per timed run
            std::vector<double> times;
            auto cond = gpu ? wavecast::make_cuda_conditioning(model) : wavecast::make_cpu_conditioning(model);
            const auto io = cond->buffers(frames_per_call, lanes);
            for (int r = 0; r <= repeats; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int k = 0; k < blocks; ++k) cond->run(io.inputs, frames_per_call, lanes, io.out);
                cond->finish();
                if (r > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
            const std::string algorithms = cond->describe();
            std::sort(times.begin(), times.end());
            const double t = times[times.size() / 2];
            const double frames_per_s = static_cast<double>(blocks) * frames_per_call / t;
            const double frame_rate = static_cast<double>(spec.sample_rate) / spec.frame_hop;
            nlohmann::json line{{"stage", "conditioning"},
                                {"backend", gpu ? "cuda" : "cpu"},
                                {"model", spec.shape_name()},
                                {"cond_hidden", spec.cond_hidden},
                                {"cond_channels", spec.cond_channels()},
                                {"batch", lanes},
                                {"frames_per_call", frames_per_call},
                                {"frames_per_s_per_lane", frames_per_s},
                                {"rtf_per_lane", frames_per_s / frame_rate},
                                {"rtf_total", frames_per_s * lanes / frame_rate},
                                {"algorithms", algorithms},
                                {"repeats", repeats},
                                {"cpu", cpu_model_name("/proc/cpuinfo")},
                                {"gpu", devices.empty() ? nlohmann::json(nullptr) : nlohmann::json(devices[0].name)}};
            std::printf("%s\n", line.dump().c_str());
            std::fflush(stdout);
        }
    }
}
