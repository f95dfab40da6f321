#include "output/recorder.h"

#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "util/files.h"
#include "util/smf.h"

namespace wavecast {
namespace fs = std::filesystem;
using Kind = RecorderError::Kind;

namespace {

bool write_all(int fd, const std::vector<uint8_t>& bytes, std::string& why) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            why = n < 0 ? std::strerror(errno) : "the disk took nothing";
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

int sndfile_format(const std::string& path, int bits) {
    const std::string ext = fs::path(path).extension().string();
    int format;
    if (ext == ".wav" || ext == ".WAV") format = SF_FORMAT_WAV;
    else if (ext == ".flac" || ext == ".FLAC") format = SF_FORMAT_FLAC;
    else throw RecorderError(Kind::bad_request, "path: '" + path + "' must end in .wav or .flac");
    if (bits != 16 && bits != 24) throw RecorderError(Kind::bad_request, "bits: must be 16 or 24");
    return format | (bits == 16 ? SF_FORMAT_PCM_16 : SF_FORMAT_PCM_24);
}

// NAME.EXT -> NAME-44100Hz.EXT beside it, or NAME-44100Hz-2.EXT and on where that exists.
std::string continuation_path(const std::string& path, int rate) {
    const fs::path p(path);
    const std::string stem = (p.parent_path() / p.stem()).string() + "-" + std::to_string(rate) + "Hz";
    const std::string ext = p.extension().string();
    std::string next = stem + ext;
    for (int n = 2; fs::exists(fs::symlink_status(next)); ++n) next = stem + "-" + std::to_string(n) + ext;
    return next;
}

}  // namespace

Recorder::Recorder(double ring_seconds) : ring_(static_cast<size_t>(ring_seconds * 48000 * 2)) {
    sem_init(&wake_, 0, 0);
    disk_ = std::thread([this] { disk_loop(); });
}

Recorder::~Recorder() {
    stop();
    quit_ = true;
    sem_post(&wake_);
    disk_.join();
    sem_destroy(&wake_);
}

void Recorder::start(const RecordRequest& request) {
    std::lock_guard lock(mu_);
    if (file_) throw RecorderError(Kind::busy, "already recording to " + request_.path + "; stop-record first");
    sndfile_format(request.path, request.bits);  // checked before any file is touched
    if (!request.midi_path.empty()) {
        const auto ext = fs::path(request.midi_path).extension().string();
        if (ext != ".mid" && ext != ".midi") throw RecorderError(Kind::bad_request, "midi: '" + request.midi_path + "' must end in .mid");
        if (request.midi_path == request.path) throw RecorderError(Kind::bad_request, "midi: must differ from path");
    }
    open_files(request);
    error_.clear();
    dropped_ = 0;
    remaining_ = request.seconds > 0 ? static_cast<uint64_t>(std::llround(request.seconds * request.rate)) : UINT64_MAX;
    armed_.store(true, std::memory_order_seq_cst);
}

void Recorder::open_files(const RecordRequest& r) {
    WritableFile audio, midi;
    try {
        audio = open_for_writing(r.path, r.overwrite);
    } catch (const std::exception& e) {
        throw RecorderError(Kind::io, std::string("path: ") + e.what());
    }
    if (!r.midi_path.empty()) {
        try {
            midi = open_for_writing(r.midi_path, r.overwrite);
        } catch (const std::exception& e) {
            ::close(audio.fd);
            if (audio.created) ::unlink(r.path.c_str());
            throw RecorderError(Kind::io, std::string("midi: ") + e.what());
        }
    }
    // Both are ours now: only here is anything that was there before emptied.
    if (!audio.created) (void)::ftruncate(audio.fd, 0);
    if (midi.fd >= 0 && !midi.created) (void)::ftruncate(midi.fd, 0);
    SF_INFO info{};
    info.samplerate = r.rate;
    info.channels = 2;
    info.format = sndfile_format(r.path, r.bits);
    SNDFILE* f = sf_open_fd(audio.fd, SFM_WRITE, &info, SF_TRUE);
    if (!f) {
        const std::string why = sf_strerror(nullptr);
        if (midi.fd >= 0) ::close(midi.fd);
        throw RecorderError(Kind::io, "path: '" + r.path + "': " + why);
    }
    // Clip rather than wrap samples outside [-1, 1].
    sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    // FLAC writes its header lazily: without this a recording stopped before its first period
    // would be a file of 0 bytes, which nothing can read.
    sf_command(f, SFC_UPDATE_HEADER_NOW, nullptr, 0);
    file_ = f;
    midi_fd_ = midi.fd;
    request_ = r;
    failed_ = false;
    frames_ = 0;
    pushed_ = 0;
    midi_.clear();
    Midi stale;
    while (midi_ring_.peek(stale)) midi_ring_.drop();
}

void Recorder::disarm() {
    armed_.store(false, std::memory_order_seq_cst);
    // Once the callback is seen outside push() after disarming, it will not push again: what the
    // ring holds now is the whole recording.
    while (in_push_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

uint64_t Recorder::stop() {
    disarm();
    std::lock_guard lock(mu_);
    if (!file_) return 0;
    drain();
    finish();
    return frames_;
}

std::string Recorder::change_rate(int rate) {
    disarm();
    std::lock_guard lock(mu_);
    if (!file_ || rate == request_.rate) {
        if (file_) armed_.store(true, std::memory_order_seq_cst);
        return "";
    }
    const bool written = drain();
    const std::string ended = request_.path;
    const uint64_t frames = frames_, left = remaining_.load();
    RecordRequest next = request_;
    finish();
    if (!written) return "recording " + ended + " ended: " + error_;
    if (left == 0) return "";
    next.path = continuation_path(ended, rate);
    if (!next.midi_path.empty()) next.midi_path = continuation_path(next.midi_path, rate);
    const int old_rate = next.rate;
    next.rate = rate;
    next.overwrite = false;
    try {
        open_files(next);
    } catch (const std::exception& e) {
        error_ = "JACK now runs at " + std::to_string(rate) + " Hz; " + ended + " ended, and no new file could be made: " + e.what();
        return "recording " + error_;
    }
    remaining_ = left == UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(std::llround(static_cast<double>(left) * rate / old_rate));
    armed_.store(true, std::memory_order_seq_cst);
    error_ = "JACK's rate changed from " + std::to_string(old_rate) + " to " + std::to_string(rate) + " Hz: " + ended + " ends after " +
             std::to_string(frames) + " frames; the recording goes on in " + request_.path;
    return "recording: " + error_;
}

RecorderStatus Recorder::status() const {
    std::lock_guard lock(mu_);
    return {file_ != nullptr, file_ ? request_.path : std::string(), frames_.load(), dropped_.load(), last_, error_};
}

void Recorder::push(const float* left, const float* right, uint32_t frames) {
    in_push_.store(true, std::memory_order_seq_cst);
    const bool armed = armed_.load(std::memory_order_seq_cst);
    if (armed) {
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
    // After leaving push(): the disk thread, woken, must be able to see a recording that ended here
    // as ended (disarmed and out of push), or it would wait for a wake that never comes.
    if (armed) sem_post(&wake_);
}

void Recorder::push_midi(uint32_t offset, const uint8_t* bytes, uint8_t size) {
    in_push_.store(true, std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_seq_cst) && offset < remaining_.load(std::memory_order_relaxed)) {
        Midi m{pushed_.load(std::memory_order_relaxed) + offset,
               {bytes[0], size > 1 ? bytes[1] : uint8_t{0}, size > 2 ? bytes[2] : uint8_t{0}},
               size};
        midi_ring_.write(&m, 1);
    }
    in_push_.store(false, std::memory_order_seq_cst);
}

// With mu_ held. After a failed write the ring is emptied unwritten: the file keeps what it has.
bool Recorder::drain() {
    Midi m;
    while (midi_ring_.peek(m)) {
        midi_.push_back(m);
        midi_ring_.drop();
    }
    size_t n;
    while ((n = ring_.read(buf_, sizeof buf_ / sizeof buf_[0])) > 0) {
        if (failed_) continue;
        const sf_count_t want = static_cast<sf_count_t>(n / 2);
        const sf_count_t got = sf_writef_float(file_, buf_, want);
        frames_ += static_cast<uint64_t>(std::max<sf_count_t>(got, 0));
        if (got < want) {
            failed_ = true;
            error_ = "writing " + request_.path + " failed after " + std::to_string(frames_.load()) + " frames (" + sf_strerror(file_) +
                     "); the recording stopped there, and the file keeps what was written";
        }
    }
    return !failed_;
}

// With mu_ held.
void Recorder::finish() {
    sf_close(file_);
    file_ = nullptr;
    if (midi_fd_ >= 0) {
        const double beats_per_frame = request_.tempo_bpm / 60.0 / request_.rate;
        std::vector<TimedMessage> messages;
        std::map<int, int> in_force;  // channel -> program
        for (const auto& p : request_.programs) {
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
        std::string why;
        if (!write_all(midi_fd_, midi_messages_file(request_.tempo_bpm, messages, static_cast<double>(frames_.load()) * beats_per_frame),
                       why))
            error_ += (error_.empty() ? "" : "; ") + std::string("writing the MIDI file ") + request_.midi_path + " failed: " + why;
        ::close(midi_fd_);
        midi_fd_ = -1;
        midi_.clear();
    }
    last_ = request_.path + " (" + std::to_string(frames_.load()) + " frames)";
}

void Recorder::disk_loop() {
    for (;;) {
        sem_wait(&wake_);
        if (quit_) return;
        std::lock_guard lock(mu_);
        if (!file_) continue;
        const bool ended = !armed_.load(std::memory_order_seq_cst) && !in_push_.load(std::memory_order_seq_cst);
        if (!drain()) {
            // The disk refused: nothing more can be written. Stop taking frames and close what is
            // there, so that the file stays valid and says how much it holds.
            armed_.store(false, std::memory_order_seq_cst);
            while (in_push_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(std::chrono::microseconds(200));
            drain();
            finish();
            continue;
        }
        if (ended && remaining_.load() == 0) finish();
    }
}

}  // namespace wavecast
