#include "output/control_midi_in.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wavecast {

ControlMidiIn::ControlMidiIn() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error(std::string("MIDI control input: eventfd: ") + std::strerror(errno));
}

ControlMidiIn::~ControlMidiIn() { close(fd_); }

void ControlMidiIn::push(const uint8_t* bytes, size_t size, int64_t at_ns, uint32_t frame) {
    if (size == 0 || size > 3) return;
    ControlMidiEvent e;
    for (size_t i = 0; i < size; ++i) e.bytes[i] = bytes[i];
    e.size = static_cast<uint8_t>(size);
    e.at_ns = at_ns;
    e.frame = frame;
    received_.fetch_add(1, std::memory_order_relaxed);
    if (ring_.write(&e, 1) == 1) pushed_ = true;
    else dropped_.fetch_add(1, std::memory_order_relaxed);
}

void ControlMidiIn::signal() {
    if (!pushed_) return;
    pushed_ = false;
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof one);  // EAGAIN only at 2^64-2 unread: still readable
}

size_t ControlMidiIn::take(ControlMidiEvent* out, size_t max) {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = read(fd_, &count, sizeof count);  // resets it; EAGAIN when nothing was signalled
    return ring_.read(out, max);
}

}  // namespace wavecast
