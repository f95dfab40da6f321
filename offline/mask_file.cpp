#include "offline/mask_file.h"

#include <sndfile.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "kernels/backend.h"

namespace wavecast {

void mask_file(const std::string& in_path, const std::string& out_path, float strength_db, const std::string& backend) {
    SF_INFO info{};
    SNDFILE* in = sf_open(in_path.c_str(), SFM_READ, &info);
    if (!in) throw std::runtime_error(in_path + ": cannot read: " + sf_strerror(nullptr));
    if (info.channels < 1 || info.channels > 2) {
        sf_close(in);
        throw std::runtime_error(in_path + ": " + std::to_string(info.channels) + " channels (mono or stereo expected)");
    }
    SF_INFO out_info = info;
    const std::string tmp = out_path + ".part";
    SNDFILE* out = sf_open(tmp.c_str(), SFM_WRITE, &out_info);
    if (!out) {
        sf_close(in);
        throw std::runtime_error(out_path + ": cannot write: " + sf_strerror(nullptr));
    }
    sf_command(out, SFC_SET_CLIPPING, nullptr, SF_TRUE);

    auto masking = make_masking(plan_backends(backend).masking, info.samplerate, info.channels);
    const int ch = info.channels;
    const size_t block = 4096;
    std::vector<float> a(block * ch), b(block * ch);
    // The stage delays by latency(): drop that much of its output at the start, and feed as
    // much silence at the end, so the output lines up with the input sample for sample.
    sf_count_t to_skip = masking->latency(), left_to_write = info.frames;
    sf_count_t tail = masking->latency();
    const auto t0 = std::chrono::steady_clock::now();
    while (left_to_write > 0) {
        sf_count_t got = sf_readf_float(in, a.data(), static_cast<sf_count_t>(block));
        if (got <= 0) {
            if (tail <= 0) break;
            got = std::min<sf_count_t>(tail, static_cast<sf_count_t>(block));
            std::fill(a.begin(), a.begin() + got * ch, 0.0f);
            tail -= got;
        }
        masking->process(a.data(), b.data(), static_cast<size_t>(got), strength_db);
        const sf_count_t skip = std::min(to_skip, got);
        to_skip -= skip;
        const sf_count_t n = std::min(got - skip, left_to_write);
        if (n > 0) sf_writef_float(out, b.data() + skip * ch, n);
        left_to_write -= std::max<sf_count_t>(n, 0);
    }
    sf_close(in);
    sf_close(out);
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) throw std::runtime_error(out_path + ": cannot rename into place");
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto st = masking->stats();
    std::printf(
        "masked %s -> %s: %lld frames at %d Hz, %d channel(s), strength %.1f dB, %.1f%% of bins removed, "
        "perceptual entropy %.0f bits/frame, %.0fx real time\n",
        in_path.c_str(), out_path.c_str(), static_cast<long long>(info.frames), info.samplerate, ch, strength_db,
        100.0 * st.discarded_share, st.perceptual_entropy, static_cast<double>(info.frames) / info.samplerate / std::max(wall, 1e-9));
}

}  // namespace wavecast
