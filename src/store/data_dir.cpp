#include "data_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace llmp::store {
namespace {

Status io_error(int err, const std::string& what) {
  const StatusCode code = (err == ENOSPC || err == EDQUOT || err == EFBIG) ? StatusCode::resource_exhausted
                          : (err == EACCES || err == EROFS || err == EPERM) ? StatusCode::permission_denied
                                                                            : StatusCode::unavailable;
  return Status(code, fmt::format("{}: {}", what, std::strerror(err)));
}

// Writes and syncs a probe file of 64 KiB: catches read-only mounts, missing permissions and
// a disk with no room before SQLite or RocksDB fail half-way through opening.
Result<void> probe_write(const std::string& dir) {
  const std::string path = dir + "/.write-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error(io_error(errno, fmt::format("data dir {} is not writable", dir)));
  std::string block(64 * 1024, '\0');
  size_t written = 0;
  int err = 0;
  while (written < block.size()) {
    const ssize_t n = ::write(fd, block.data() + written, block.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  ::unlink(path.c_str());
  if (err != 0) return error(io_error(err, fmt::format("data dir {}: cannot write", dir)));
  return ok();
}

}  // namespace

DataDirLock& DataDirLock::operator=(DataDirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Result<DataDirLock> DataDirLock::acquire(const std::string& data_dir, int64_t min_free_mb) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return error(io_error(ec.value(), fmt::format("cannot create data dir {}", data_dir)));
  if (!std::filesystem::is_directory(data_dir, ec)) {
    return error(StatusCode::invalid_argument, fmt::format("data dir {} is not a directory", data_dir));
  }
  if (::access(data_dir.c_str(), W_OK) != 0) {
    return error(io_error(errno, fmt::format("data dir {} is not writable", data_dir)));
  }
  struct statvfs vfs {};
  if (::statvfs(data_dir.c_str(), &vfs) == 0) {
    const int64_t free_mb = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize) / (1024 * 1024);
    if (free_mb < min_free_mb) {
      return error(StatusCode::resource_exhausted,
                   fmt::format("data dir {} has {} MiB free; at least {} MiB is needed (store.min_free_mb)", data_dir,
                               free_mb, min_free_mb));
    }
  }
  if (auto r = probe_write(data_dir); !r) return error(r.error());

  const std::string lock_path = data_dir + "/LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return error(io_error(errno, fmt::format("cannot open {}", lock_path)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    (void)::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    return error(StatusCode::failed_precondition,
                 fmt::format("data dir {} is in use by another llmplatform process (pid {})", data_dir,
                             std::string(pid).empty() ? "unknown" : std::string(pid)));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0) (void)::pwrite(fd, me.data(), me.size(), 0);
  return DataDirLock(fd);
}

}  // namespace llmp::store
