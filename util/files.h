// File access the control plane can afford: a path that names a FIFO, a device or a directory is
// refused at once (opened without blocking, then checked), and a read is bounded, so that no
// request can stall a thread in open() or exhaust memory (`score /dev/zero`, `mkfifo x.mid`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wavecast {

// The whole of a regular file of at most `max_bytes`. Throws std::runtime_error "PATH: reason"
// (not found, not a regular file, too large, unreadable).
std::vector<uint8_t> read_regular_file(const std::string& path, size_t max_bytes);

// A file made for writing: `created` when this call made it (so that a recording refused later
// can remove it again without touching anything that was there before).
struct WritableFile {
    int fd = -1;
    bool created = false;
};

// Opens `path` for writing as a regular file without following a symbolic link in its last
// component and without blocking on a FIFO. A new file, unless `replace`: then an existing
// regular file is taken too, and left as it is (the caller truncates it once every other check
// has passed). Throws std::runtime_error "PATH: reason".
WritableFile open_for_writing(const std::string& path, bool replace);

// Replaces `path` with `text` as a whole: written to PATH.tmp (a regular file, never a FIFO or a
// link followed) and renamed over it, so that a reader sees the old file or the new one. Throws
// std::runtime_error "PATH.tmp: reason" (or "PATH: reason"), leaving `path` as it was.
void write_file_atomically(const std::string& path, const std::string& text);

// Where a recording asked for as `requested` goes: relative paths resolve in `folder`; an
// absolute one must lie in it. '..' components, and directories (symbolic links included) that
// lead out of the folder, are refused; the directory must exist. Throws std::runtime_error.
std::string path_in_folder(const std::string& folder, const std::string& requested);

}  // namespace wavecast
