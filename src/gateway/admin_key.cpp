#include "llmp/gateway/admin_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "llmp/core/crypto.h"

namespace llmp::gateway {

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() <= kPrefix.size()) return {};
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != std::tolower(static_cast<unsigned char>(kPrefix[i]))) return {};
  }
  std::string_view token = authorization.substr(kPrefix.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

Result<AdminKey> AdminKey::load_or_create(const std::string& data_dir, std::string_view env_key, bool* created) {
  *created = false;
  if (!env_key.empty()) {
    if (env_key.size() < 16) {
      return error(StatusCode::invalid_argument, "LLMP_ADMIN_KEY must be at least 16 characters");
    }
    return AdminKey(crypto::sha256_hex(env_key), "env LLMP_ADMIN_KEY");
  }
  const std::string path = data_dir + "/admin.key";
  std::ifstream in(path);
  if (in) {
    std::string key;
    std::getline(in, key);
    if (key.size() < 16) {
      return error(StatusCode::data_loss, fmt::format("{} does not hold a key; delete it to generate a new one", path));
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      return error(StatusCode::permission_denied,
                   fmt::format("{} is readable by other users (mode {:o}); chmod 600 it", path, st.st_mode & 0777));
    }
    return AdminKey(crypto::sha256_hex(key), path);
  }
  const std::string key = "llmp-admin-" + crypto::random_secret_hex(24);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return error(StatusCode::permission_denied, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  const std::string line = key + "\n";
  const bool wrote = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!wrote) return error(StatusCode::unavailable, fmt::format("cannot write {}", path));
  *created = true;
  return AdminKey(crypto::sha256_hex(key), path);
}

bool AdminKey::matches(std::string_view presented) const {
  if (presented.empty()) return false;
  return matches_hash(crypto::sha256_hex(presented));
}

bool AdminKey::matches_hash(std::string_view presented_hash) const {
  return crypto::constant_time_equal(presented_hash, hash_);
}

}  // namespace llmp::gateway
