#include "file_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace llmp::registry {
namespace {

constexpr size_t kBlockBytes = 1 << 20;

std::string sys_error(std::string_view what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, strerror(errno));
}

// Closes on scope exit; errors from close on a read-only descriptor do not matter.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    // Fetched once: the lookup takes a lock, and imports hash many files.
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    ok_ = md != nullptr && ctx_ && EVP_DigestInit_ex2(ctx_.get(), md, nullptr) == 1;
  }
  bool ok() const { return ok_; }
  void update(const void* p, size_t n) { ok_ = ok_ && EVP_DigestUpdate(ctx_.get(), p, n) == 1; }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_.get(), digest, &len) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * len, '0');
    for (unsigned i = 0; i < len; ++i) {
      out[2 * i] = kHex[digest[i] >> 4];
      out[2 * i + 1] = kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
  bool ok_ = false;
};

Result<void> write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      const bool full = errno == ENOSPC || errno == EDQUOT;
      return error(full ? StatusCode::resource_exhausted : StatusCode::internal, sys_error("cannot write", path));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok();
}

// Reads `from` block by block into the digest, writing each block to `out_fd` when it is >= 0.
Result<FileDigest> stream(const std::string& from, int out_fd, const std::string& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) {
    return error(errno == ENOENT ? StatusCode::not_found : StatusCode::invalid_argument,
                 sys_error("cannot open", from));
  }
  ::posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256 sha;
  if (!sha.ok()) return error(StatusCode::internal, "SHA-256 is not available from OpenSSL");
  std::vector<char> block(kBlockBytes);
  FileDigest out;
  for (;;) {
    const ssize_t r = ::read(in.fd, block.data(), block.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return error(StatusCode::data_loss, sys_error("cannot read", from));
    }
    if (r == 0) break;
    sha.update(block.data(), static_cast<size_t>(r));
    out.size += static_cast<uint64_t>(r);
    if (out_fd >= 0) LLMP_TRY_VOID(write_all(out_fd, block.data(), static_cast<size_t>(r), to));
  }
  out.sha256 = sha.hex();
  if (out.sha256.empty()) return error(StatusCode::internal, fmt::format("SHA-256 of {} failed in OpenSSL", from));
  return out;
}

}  // namespace

Result<FileDigest> hash_file(const std::string& path) {
  return stream(path, -1, {});
}

Result<FileDigest> copy_hashing(const std::string& from, const std::string& to) {
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.fd < 0) return error(StatusCode::internal, sys_error("cannot create", to));
  auto digest = stream(from, out.fd, to);
  if (!digest) return digest;
  if (::fsync(out.fd) != 0) return error(StatusCode::internal, sys_error("cannot flush", to));
  const int fd = out.fd;
  out.fd = -1;
  if (::close(fd) != 0) return error(StatusCode::internal, sys_error("cannot close", to));
  return digest;
}

Result<void> write_file_durably(const std::string& path, std::string_view text) {
  Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.fd < 0) return error(StatusCode::internal, sys_error("cannot create", path));
  LLMP_TRY_VOID(write_all(out.fd, text.data(), text.size(), path));
  if (::fsync(out.fd) != 0) return error(StatusCode::internal, sys_error("cannot flush", path));
  const int fd = out.fd;
  out.fd = -1;
  if (::close(fd) != 0) return error(StatusCode::internal, sys_error("cannot close", path));
  return ok();
}

Result<void> sync_dir(const std::string& path) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) return error(StatusCode::internal, sys_error("cannot open folder", path));
  if (::fsync(dir.fd) != 0) return error(StatusCode::internal, sys_error("cannot flush folder", path));
  return ok();
}

}  // namespace llmp::registry
