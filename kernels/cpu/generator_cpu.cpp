// The CPU reference generator. Per sample and lane: embed the previous class; per layer, the
// kernel-2 dilated conv over (x[t-d], x[t]) read from a dilation queue (nothing in the past is
// recomputed), plus the interpolated conditioning, gated tanh * sigmoid, skip and residual 1x1s;
// then ReLU -> 1x1 -> ReLU -> 1x1 -> softmax at a temperature less its tail (sampling.h), sampled
// with Philox keyed by the lane (LaneKey) at t.
// With an excitation (excitation.h), the input and every layer's gate also get their projections
// of the lane's pure tones at t.
// Lanes are the inner loop of every product so that a weight row read once serves all of them;
// groups of lanes run on their own threads (lane_threads.h), which changes no sample.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conditioning_cpu.h"
#include "kernels/cpu/lane_threads.h"
#include "kernels/cpu/vec.h"
#include "kernels/excitation.h"
#include "kernels/generator.h"
#include "kernels/mulaw.h"
#include "kernels/net_layout.h"
#include "kernels/philox.h"
#include "kernels/sampling.h"

namespace wavecast {
namespace {

class GeneratorCpu final : public Generator {
public:
    GeneratorCpu(std::shared_ptr<const Model> model, std::vector<LaneKey> keys, int threads)
        : model_(std::move(model)),
          s_(model_->spec),
          w_(model_->weights),
          lanes_(static_cast<int>(keys.size())),
          keys_(std::move(keys)),
          cond_inputs_(*model_, lanes_),
          cond_(*model_),
          groups_(split(lanes_, threads)),
          threads_(static_cast<int>(groups_.size())) {
        const int lanes = lanes_;
        const int R = s_.residual_channels, S = s_.skip_channels, A = s_.audio_classes, C = s_.cond_channels();
        queue_off_.resize(static_cast<size_t>(s_.layers));
        size_t q = 0;
        for (int l = 0; l < s_.layers; ++l) {
            const auto& lw = w_.layers[static_cast<size_t>(l)];
            conv_.emplace_back(conv_rows(lw, R).data(), 2 * R, 2 * R);  // matching the input [x[t-d] | x[t]]
            res_.emplace_back(lw.res_w.data(), R, R);
            skip_w_.emplace_back(lw.skip_w.data(), S, R);
            queue_off_[static_cast<size_t>(l)] = q;
            q += static_cast<size_t>(s_.dilation(l)) * lanes * R;
        }
        queue_.assign(q, 0.0f);
        skip_bias_ = skip_bias_sum(w_, S);
        decode_ = decode_table(A);
        out1_ = vec::Packed(w_.out1_w.data(), A, S);
        const int X = s_.excitation_channels();
        if (X > 0) {
            exc_w_ = vec::Packed(w_.excitation_w.data(), C, X);
            exc_in_ = vec::Packed(w_.excitation_in_w.data(), R, X);
            exc_inc_ = excitation_increments(s_.excitation_harmonics, s_.sample_rate);
            exc_pitch_.resize(static_cast<size_t>(lanes) * kPitches);
            exc_vel_.resize(static_cast<size_t>(lanes) * kPitches);
            exc_start_.resize(static_cast<size_t>(lanes) * kPitches);
            exc_started_.assign(static_cast<size_t>(lanes) * kPitches, kSilent);
            exc_count_.assign(static_cast<size_t>(lanes), 0);
            exc_.resize(static_cast<size_t>(lanes) * X);
        }
        exc_out_.assign(static_cast<size_t>(lanes) * C, 0.0f);  // stays zero without an excitation
        out2_ = vec::Packed(w_.out2_w.data(), A, A);

        prev_.assign(static_cast<size_t>(lanes), A / 2);  // mu-law class of silence
        floor_.assign(static_cast<size_t>(lanes), tail_floor(0.0f));
        cond_base_.assign(static_cast<size_t>(lanes) * C, 0.0f);
        cond_step_.assign(static_cast<size_t>(lanes) * C, 0.0f);
        cond_last_.assign(static_cast<size_t>(lanes) * C, 0.0f);
        x_.resize(static_cast<size_t>(lanes) * R);
        in_.resize(static_cast<size_t>(lanes) * 2 * R);
        pre_.resize(static_cast<size_t>(lanes) * 2 * R);
        act_.resize(static_cast<size_t>(lanes) * R);
        skip_.resize(static_cast<size_t>(lanes) * S);
        h1_.resize(static_cast<size_t>(lanes) * A);
        logits_.resize(static_cast<size_t>(lanes) * A);
    }

    const ModelSpec& spec() const override { return s_; }
    int lanes() const override { return lanes_; }
    std::string backend() const override { return "cpu"; }
    uint64_t position() const override { return pos_; }
    void set_instruments(const float* weights) override { cond_inputs_.set_instruments(weights); }
    void set_tail_cut(const float* cut) override {
        for (int b = 0; b < lanes_; ++b) floor_[static_cast<size_t>(b)] = tail_floor(cut[b]);
    }

    void generate(const float* features, const float* temperature, int frames, float* out) override {
        const size_t per_lane = static_cast<size_t>(frames) * s_.frame_hop;
        run_frames(features, frames, [&](Lanes r, int f, int i, uint64_t t) {
            for (int b = r.begin; b < r.end; ++b) {
                prev_[static_cast<size_t>(b)] =
                    sample(&logits_[static_cast<size_t>(b) * s_.audio_classes], temperature[static_cast<size_t>(f) * lanes_ + b],
                           floor_[static_cast<size_t>(b)], keys_[static_cast<size_t>(b)], t);
                out[static_cast<size_t>(b) * per_lane + static_cast<size_t>(f) * s_.frame_hop + i] =
                    decode_[static_cast<size_t>(prev_[static_cast<size_t>(b)])];
            }
        });
    }

    void teacher_forced(const float* features, const int* inputs, int frames, float* probs) override {
        const int A = s_.audio_classes;
        const size_t per_lane = static_cast<size_t>(frames) * s_.frame_hop;
        // Checked before anything moves, so that a refused call leaves the generator as it was.
        check_forced_inputs(inputs, static_cast<size_t>(lanes_) * per_lane, A);
        run_frames(
            features, frames,
            [&](Lanes r, int f, int i, uint64_t) {
                const size_t t = static_cast<size_t>(f) * s_.frame_hop + i;
                for (int b = r.begin; b < r.end; ++b) {
                    float* p = probs + (static_cast<size_t>(b) * per_lane + t) * A;
                    const float* logit = &logits_[static_cast<size_t>(b) * A];
                    float m = logit[0];
                    for (int c = 1; c < A; ++c) m = std::max(m, logit[c]);
                    float sum = 0.0f;
                    for (int c = 0; c < A; ++c) sum += p[c] = vec::exp_approx(logit[c] - m);
                    for (int c = 0; c < A; ++c) p[c] /= sum;
                }
            },
            [&](Lanes r, int f, int i) {
                const size_t t = static_cast<size_t>(f) * s_.frame_hop + i;
                for (int b = r.begin; b < r.end; ++b) prev_[static_cast<size_t>(b)] = inputs[static_cast<size_t>(b) * per_lane + t];
            });
    }

private:
    struct Lanes {
        int begin, end;
    };

    // Runs the conditioning network over `frames` frames, then, each lane group on its thread,
    // every sample t of frame f (its i-th): before(r, f, i) (to set prev_), the network with the
    // conditioning interpolated to (i + 1) / hop, then after(r, f, i, t) with the logits.
    template <class After, class Before = void (*)(Lanes, int, int)>
    void run_frames(
        const float* features, int frames, After&& after, Before&& before = [](Lanes, int, int) {}) {
        const int hop = s_.frame_hop;
        cond_frames_.resize(static_cast<size_t>(frames) * lanes_ * s_.cond_channels());
        cond_.run(cond_inputs_.prepare(features, frames).data(), frames, lanes_, cond_frames_.data());
        const uint64_t first = pos_;
        threads_.run([&](int g) {
            const Lanes r = groups_[static_cast<size_t>(g)];
            for (int f = 0; f < frames; ++f) {
                const uint64_t frame_start = first + static_cast<uint64_t>(f) * hop;
                start_frame(r, features, f, frame_start);
                for (int i = 0; i < hop; ++i) {
                    before(r, f, i);
                    forward(r, static_cast<float>(i + 1) / static_cast<float>(hop), frame_start + i);
                    after(r, f, i, frame_start + i);
                }
            }
        });
        pos_ = first + static_cast<uint64_t>(frames) * hop;
    }

    // Within frame k the conditioning moves linearly from C[k-1] to C[k] (reached on its last
    // sample): causal, so a stream never needs frames beyond the one it renders.
    void start_frame(Lanes r, const float* features, int f, uint64_t frame_start) {
        const int C = s_.cond_channels();
        for (int b = r.begin; b < r.end; ++b) {
            const float* now = &cond_frames_[(static_cast<size_t>(f) * lanes_ + b) * C];
            float* last = &cond_last_[static_cast<size_t>(b) * C];
            float* base = &cond_base_[static_cast<size_t>(b) * C];
            float* step = &cond_step_[static_cast<size_t>(b) * C];
            for (int c = 0; c < C; ++c) {
                base[c] = last[c] + w_.layers[static_cast<size_t>(c / (2 * s_.residual_channels))]
                                        .conv_b[static_cast<size_t>(c % (2 * s_.residual_channels))];
                step[c] = now[c] - last[c];
                last[c] = now[c];
            }
            if (!exc_inc_.empty()) {
                const size_t at = static_cast<size_t>(b) * kPitches;
                exc_count_[static_cast<size_t>(b)] =
                    frame_notes(features + (static_cast<size_t>(f) * lanes_ + b) * s_.cond_features, frame_start, &exc_started_[at],
                                &exc_pitch_[at], &exc_vel_[at], &exc_start_[at]);
            }
        }
    }

    // Sample t of the lanes in r from their classes in prev_, up to the logits.
    void forward(Lanes r, float frac, uint64_t t) {
        const int R = s_.residual_channels, S = s_.skip_channels, A = s_.audio_classes, C = s_.cond_channels();
        const int B = r.end - r.begin;
        const size_t b0 = static_cast<size_t>(r.begin);
        float* x = &x_[b0 * R];
        float* skip = &skip_[b0 * S];
        float* act = &act_[b0 * R];
        float* h1 = &h1_[b0 * A];
        for (int b = r.begin; b < r.end; ++b) {
            std::memcpy(&x_[static_cast<size_t>(b) * R], &w_.embed[static_cast<size_t>(prev_[b]) * R], sizeof(float) * R);
            std::memcpy(&skip_[static_cast<size_t>(b) * S], skip_bias_.data(), sizeof(float) * S);
        }
        if (!exc_inc_.empty()) {
            const int X = s_.excitation_channels();
            for (int b = r.begin; b < r.end; ++b)
                for (int j = 0; j < X; ++j)
                    exc_[static_cast<size_t>(b) * X + j] = excitation_channel(
                        t, exc_inc_.data(), j, &exc_pitch_[static_cast<size_t>(b) * kPitches], &exc_vel_[static_cast<size_t>(b) * kPitches],
                        &exc_start_[static_cast<size_t>(b) * kPitches], exc_count_[static_cast<size_t>(b)]);
            vec::gemm(exc_w_, nullptr, &exc_[b0 * X], X, B, &exc_out_[b0 * C], C, false);
            vec::gemm(exc_in_, nullptr, &exc_[b0 * X], X, B, x, R, true);  // x = embed + W_in e
        }
        for (int l = 0; l < s_.layers; ++l) {
            const auto& lw = w_.layers[static_cast<size_t>(l)];
            const int d = s_.dilation(l);
            const size_t slot = static_cast<size_t>(t & static_cast<uint64_t>(d - 1));
            for (int b = r.begin; b < r.end; ++b) {
                float* q = &queue_[queue_off_[static_cast<size_t>(l)] + (static_cast<size_t>(b) * d + slot) * R];
                float* in = &in_[static_cast<size_t>(b) * 2 * R];
                const float* xb = &x_[static_cast<size_t>(b) * R];
                std::memcpy(in, q, sizeof(float) * R);  // x[t - d]
                std::memcpy(in + R, xb, sizeof(float) * R);
                std::memcpy(q, xb, sizeof(float) * R);  // becomes x[t - d] for sample t + d
            }
            for (int b = r.begin; b < r.end; ++b) {
                const size_t c = static_cast<size_t>(b) * C + static_cast<size_t>(l) * 2 * R;
                float* p = &pre_[static_cast<size_t>(b) * 2 * R];
#pragma omp simd
                for (int o = 0; o < 2 * R; ++o) p[o] = (cond_base_[c + o] + frac * cond_step_[c + o]) + exc_out_[c + o];
            }
            vec::gemm(conv_[static_cast<size_t>(l)], nullptr, &in_[b0 * 2 * R], 2 * R, B, &pre_[b0 * 2 * R], 2 * R, true);
            for (int b = r.begin; b < r.end; ++b) {
                const float* p = &pre_[static_cast<size_t>(b) * 2 * R];
                float* a = &act_[static_cast<size_t>(b) * R];
#pragma omp simd
                for (int i = 0; i < R; ++i) a[i] = vec::tanh_approx(p[i]) * vec::sigmoid(p[R + i]);
            }
            vec::gemm(skip_w_[static_cast<size_t>(l)], nullptr, act, R, B, skip, S, true);
            if (l + 1 == s_.layers) break;  // the last layer's residual output feeds nothing
            vec::gemm(res_[static_cast<size_t>(l)], lw.res_b.data(), act, R, B, x, R, true);
        }
        for (size_t i = 0; i < static_cast<size_t>(B) * S; ++i) skip[i] = std::max(skip[i], 0.0f);
        vec::gemm(out1_, w_.out1_b.data(), skip, S, B, h1, A, false);
        for (size_t i = 0; i < static_cast<size_t>(B) * A; ++i) h1[i] = std::max(h1[i], 0.0f);
        vec::gemm(out2_, w_.out2_b.data(), h1, A, B, &logits_[b0 * A], A, false);
    }

    // Inverse-CDF draw from softmax(logits / T), less the classes whose logit is below the largest
    // plus `lowest` (sampling.h), with the uniform the lane's key and t give.
    int sample(float* logits, float temperature, float lowest, const LaneKey& key, uint64_t t) const {
        const int A = s_.audio_classes;
        int best = 0;
        for (int i = 1; i < A; ++i)
            if (logits[i] > logits[best]) best = i;
        if (!(temperature > 0.0f)) return best;
        const float m = logits[best], inv_t = 1.0f / temperature;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < A; ++i) {
            const float rel = logits[i] - m;
            logits[i] = rel < lowest ? 0.0f : vec::exp_approx(rel * inv_t);
            sum += logits[i];
        }
        const float u = philox_uniform(key, t) * sum;
        float acc = 0.0f;
        for (int i = 0; i < A; ++i) {
            acc += logits[i];
            if (u < acc) return i;
        }
        return best;  // u * sum rounded to the very top of the cumulative sum
    }

    // Lanes split as evenly as they go into `threads` groups (threads <= 0: one per usable core),
    // never more groups than lanes.
    static std::vector<Lanes> split(int lanes, int threads) {
        if (lanes < 1) throw std::invalid_argument("a generator needs at least one lane");
        const int n = lane_groups(lanes, threads);
        std::vector<Lanes> groups;
        for (int g = 0, b = 0; g < n; ++g) {
            const int size = lanes / n + (g < lanes % n ? 1 : 0);
            groups.push_back({b, b + size});
            b += size;
        }
        return groups;
    }

    std::shared_ptr<const Model> model_;
    const ModelSpec& s_;
    const Weights& w_;
    const int lanes_;
    const std::vector<LaneKey> keys_;
    uint64_t pos_ = 0;
    ConditioningInputs cond_inputs_;
    ConditioningCpu cond_;
    const std::vector<Lanes> groups_;
    LaneThreads threads_;

    std::vector<vec::Packed> conv_, res_, skip_w_;  // per layer; conv rows are [tap0 | tap1]
    vec::Packed out1_, out2_;
    std::vector<size_t> queue_off_;  // per layer, into queue_
    std::vector<float> queue_;       // per layer [lanes][d][R]
    std::vector<float> skip_bias_;   // sum over layers of skip biases
    std::vector<float> decode_;      // class -> sample
    std::vector<float> floor_;       // [lanes]: tail_floor() of each lane's tail cut
    std::vector<int> prev_;
    std::vector<float> cond_frames_, cond_base_, cond_step_, cond_last_;
    // The excitation: its projection [C][2K], increments, each pitch's note start per lane
    // ([lanes][128], kept across calls), the lanes' sounding pitches this frame with their
    // velocities and starts ([lanes][128], the first exc_count_ used), e [lanes][2K], W e [lanes][C].
    vec::Packed exc_w_, exc_in_;
    std::vector<double> exc_inc_;
    std::vector<uint64_t> exc_started_, exc_start_;
    std::vector<int> exc_pitch_, exc_count_;
    std::vector<float> exc_vel_, exc_, exc_out_;
    std::vector<float> x_, in_, pre_, act_, skip_, h1_, logits_;
};

}  // namespace

std::unique_ptr<Generator> make_cpu_generator(std::shared_ptr<const Model> model, std::vector<LaneKey> keys, int threads) {
    return std::make_unique<GeneratorCpu>(std::move(model), std::move(keys), threads);
}

}  // namespace wavecast
