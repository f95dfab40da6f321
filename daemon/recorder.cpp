#include "recorder.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fstream>
#include <map>

#include "midi_file.h"
#include "protocol.h"

namespace wavecast {

Recorder::Recorder(double ring_seconds) : ring_(static_cast<size_t>(ring_seconds * 48000 * 2)), disk_([this] { disk_loop(); }) {}

Recorder::~Recorder() {
    stop();
    quit_ = true;
    disk_.join();
}

void Recorder::start(const std::string& path, double seconds, int bits, int rate, const std::string& midi_path,
                     const std::vector<std::array<uint8_t, 2>>& programs, double tempo_bpm) {
    std::lock_guard lock(mu_);
    if (file_) throw protocol::Error(protocol::code::conflict, "already recording to " + path_ + "; stop-record first");
    const std::string ext = std::filesystem::path(path).extension().string();
    int format;
    if (ext == ".wav" || ext == ".WAV") format = SF_FORMAT_WAV;
    else if (ext == ".flac" || ext == ".FLAC") format = SF_FORMAT_FLAC;
    else throw protocol::Error(protocol::code::out_of_range, "path: '" + path + "' must end in .wav or .flac");
    if (bits != 16 && bits != 24) throw protocol::Error(protocol::code::out_of_range, "bits: must be 16 or 24");
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 2;
    info.format = format | (bits == 16 ? SF_FORMAT_PCM_16 : SF_FORMAT_PCM_24);
    if (!midi_path.empty()) {
        const auto ext = std::filesystem::path(midi_path).extension().string();
        if (ext != ".mid" && ext != ".midi") throw protocol::Error(protocol::code::out_of_range, "midi: '" + midi_path + "' must end in .mid");
        std::ofstream probe(midi_path, std::ios::binary | std::ios::trunc);
        if (!probe) throw protocol::Error(protocol::code::io_error, "midi: cannot open '" + midi_path + "' for writing");
    }
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!f) throw protocol::Error(protocol::code::io_error, "path: cannot open '" + path + "' for writing: " + sf_strerror(nullptr));
    // Clip rather than wrap samples outside [-1, 1].
    sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    file_ = f;
    path_ = path;
    frames_ = 0;
    pushed_ = 0;
    midi_path_ = midi_path;
    programs_ = programs;
    tempo_ = tempo_bpm;
    rate_ = rate;
    midi_.clear();
    Midi stale;
    while (midi_ring_.peek(stale)) midi_ring_.drop();
    dropped_ = 0;
    remaining_ = seconds > 0 ? static_cast<uint64_t>(std::llround(seconds * rate)) : UINT64_MAX;
    armed_.store(true, std::memory_order_seq_cst);
}

uint64_t Recorder::stop() {
    armed_.store(false, std::memory_order_seq_cst);
    // Once the callback is seen outside push() after disarming, it will not push again: what the
    // ring holds now is the whole recording.
    while (in_push_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::lock_guard lock(mu_);
    if (!file_) return 0;
    drain();
    finish();
    return frames_;
}

RecorderStatus Recorder::status() const {
    std::lock_guard lock(mu_);
    return {file_ != nullptr, path_, frames_.load(), dropped_.load(), last_};
}

void Recorder::push(const float* left, const float* right, uint32_t frames) {
    in_push_.store(true, std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_seq_cst)) {
        const uint64_t left_to_take = remaining_.load(std::memory_order_relaxed);
        const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(frames, left_to_take));
        const uint32_t m = std::min<uint32_t>(n, kMaxPeriod);
        for (uint32_t i = 0; i < m; ++i) interleaved_[2 * i] = left[i], interleaved_[2 * i + 1] = right[i];
        const size_t written = ring_.write(interleaved_, 2 * static_cast<size_t>(m)) / 2;
        if (written < n) dropped_.fetch_add(n - written, std::memory_order_relaxed);
        remaining_.store(left_to_take - n, std::memory_order_relaxed);
        pushed_.fetch_add(n, std::memory_order_relaxed);
        if (left_to_take == n) armed_.store(false, std::memory_order_seq_cst);  // --seconds reached
    }
    in_push_.store(false, std::memory_order_seq_cst);
}

void Recorder::push_midi(uint32_t offset, const uint8_t* bytes, uint8_t size) {
    in_push_.store(true, std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_seq_cst) && offset < remaining_.load(std::memory_order_relaxed)) {
        Midi m{pushed_.load(std::memory_order_relaxed) + offset, {bytes[0], size > 1 ? bytes[1] : uint8_t{0}, size > 2 ? bytes[2] : uint8_t{0}}, size};
        midi_ring_.write(&m, 1);
    }
    in_push_.store(false, std::memory_order_seq_cst);
}

// Called with mu_ held.
void Recorder::drain() {
    Midi m;
    while (midi_ring_.peek(m)) {
        midi_.push_back(m);
        midi_ring_.drop();
    }
    size_t n;
    while ((n = ring_.read(buf_, sizeof buf_ / sizeof buf_[0])) > 0) {
        sf_writef_float(file_, buf_, static_cast<sf_count_t>(n / 2));
        frames_ += n / 2;
    }
}

// Called with mu_ held.
void Recorder::finish() {
    sf_close(file_);
    file_ = nullptr;
    if (!midi_path_.empty()) {
        const double beats_per_frame = tempo_ / 60.0 / rate_;
        std::vector<TimedMessage> messages;
        std::map<int, int> in_force;  // channel -> program
        for (const auto& p : programs_) {
            messages.push_back({0.0, {p[0], p[1], 0}, 2});
            in_force[p[0] & 0x0F] = p[1];
        }
        for (const Midi& m : midi_) {
            if (m.frame >= frames_) continue;
            // A program change the file already has in force (sent before the recording began,
            // played just after) would only repeat it.
            if ((m.bytes[0] & 0xF0) == 0xC0) {
                auto [it, fresh] = in_force.try_emplace(m.bytes[0] & 0x0F, m.bytes[1]);
                if (!fresh && it->second == m.bytes[1]) continue;
                it->second = m.bytes[1];
            }
            messages.push_back({static_cast<double>(m.frame) * beats_per_frame, {m.bytes[0], m.bytes[1], m.bytes[2]}, m.size});
        }
        try {
            write_midi_messages(midi_path_, tempo_, messages, static_cast<double>(frames_.load()) * beats_per_frame);
        } catch (const std::exception& e) {
            last_ = e.what();
        }
        midi_.clear();
    }
    last_ = path_ + " (" + std::to_string(frames_.load()) + " frames)";
}

void Recorder::disk_loop() {
    while (!quit_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::lock_guard lock(mu_);
        if (!file_) continue;
        const bool ended = !armed_.load(std::memory_order_seq_cst) && !in_push_.load(std::memory_order_seq_cst);
        drain();
        if (ended && remaining_.load() == 0) finish();
    }
}

}  // namespace wavecast
