#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace wavecast {

namespace {
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

std::string kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}
}  // namespace

std::vector<uint8_t> read_regular_file(const std::string& path, size_t max_bytes) {
    auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
    Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) throw fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) throw fail(std::string("cannot stat: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw fail(kind_of(st.st_mode) + ", not a regular file");
    if (static_cast<uint64_t>(st.st_size) > max_bytes)
        throw fail("too large: " + std::to_string(st.st_size) + " bytes, the limit is " + std::to_string(max_bytes));
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(f.fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw fail(std::string("cannot read: ") + std::strerror(errno));
        if (n == 0) break;  // shrank while being read: take what is there
        got += static_cast<size_t>(n);
    }
    bytes.resize(got);
    return bytes;
}

WritableFile open_for_writing(const std::string& path, bool replace) {
    auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
    const int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
    WritableFile out;
    out.fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL, 0644);
    if (out.fd >= 0) {
        out.created = true;
    } else if (errno == EEXIST && replace) {
        out.fd = ::open(path.c_str(), flags);
        if (out.fd < 0 && errno == ENXIO) throw fail("a FIFO, not a regular file");
    } else if (errno == EEXIST) {
        throw fail("already exists (ask to overwrite it)");
    }
    if (out.fd < 0)
        throw fail(errno == ELOOP ? "a symbolic link; recordings do not follow links"
                                  : std::string("cannot create: ") + std::strerror(errno));
    struct stat st {};
    const bool stat_ok = ::fstat(out.fd, &st) == 0;
    if (!stat_ok || !S_ISREG(st.st_mode)) {
        ::close(out.fd);
        throw fail(stat_ok ? kind_of(st.st_mode) + ", not a regular file" : std::string("cannot stat: ") + std::strerror(errno));
    }
    // Writes from here on may block on a slow disk, never on a peer: they run off the control thread.
    ::fcntl(out.fd, F_SETFL, ::fcntl(out.fd, F_GETFL) & ~O_NONBLOCK);
    return out;
}

void write_file_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    WritableFile f = open_for_writing(tmp, true);
    Fd guard{f.fd};
    auto fail = [&](const std::string& why) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return std::runtime_error(tmp + ": " + why);
    };
    if (::ftruncate(f.fd, 0) != 0) throw fail(std::string("cannot truncate: ") + std::strerror(errno));
    for (size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(f.fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw fail(std::string("cannot write: ") + std::strerror(errno));
        done += static_cast<size_t>(n);
    }
    if (::fsync(f.fd) != 0) throw fail(std::string("cannot sync: ") + std::strerror(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail(std::string("cannot rename over it: ") + std::strerror(errno));
}

std::string path_in_folder(const std::string& folder, const std::string& requested) {
    namespace fs = std::filesystem;
    if (requested.empty()) throw std::runtime_error("an empty path");
    const fs::path asked(requested);
    for (const auto& part : asked)
        if (part == "..") throw std::runtime_error(requested + ": '..' is not allowed; recordings stay in " + folder);
    if (!asked.has_filename() || asked.filename() == ".") throw std::runtime_error(requested + ": names a directory, not a file");
    std::error_code ec;
    const fs::path root = fs::canonical(folder, ec);
    if (ec) throw std::runtime_error("the recordings folder " + folder + ": " + ec.message());
    const fs::path full = asked.is_absolute() ? asked : root / asked;
    const fs::path dir = fs::canonical(full.parent_path(), ec);
    if (ec) throw std::runtime_error(requested + ": its directory " + full.parent_path().string() + ": " + ec.message());
    if (!fs::is_directory(dir)) throw std::runtime_error(requested + ": " + full.parent_path().string() + " is not a directory");
    // canonical() has resolved every link on the way: what is left must still be in the folder.
    const auto [end, at] = std::mismatch(root.begin(), root.end(), dir.begin(), dir.end());
    if (end != root.end()) throw std::runtime_error(requested + ": outside the recordings folder " + root.string());
    (void)at;
    return (dir / full.filename()).string();
}

}  // namespace wavecast
