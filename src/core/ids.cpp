#include "llmp/core/ids.h"

#include <sys/random.h>

#include <chrono>

namespace llmp::ids {
namespace {

struct Xoshiro256 {
  uint64_t s[4];

  Xoshiro256() {
    if (getrandom(s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      // getrandom cannot fail for 32 bytes after boot; keep a distinct seed regardless.
      uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   reinterpret_cast<uintptr_t>(this);
      for (auto& v : s) v = splitmix(x);
    }
  }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

uint64_t random_u64() {
  thread_local Xoshiro256 gen;
  return gen.next();
}

std::string random_hex(size_t n_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n_bytes * 2, '0');
  uint64_t bits = 0;
  for (size_t i = 0; i < n_bytes; ++i) {
    if (i % 8 == 0) bits = random_u64();
    const auto byte = static_cast<uint8_t>(bits >> ((i % 8) * 8));
    out[2 * i] = kHex[byte >> 4];
    out[2 * i + 1] = kHex[byte & 15];
  }
  return out;
}

std::string new_request_id() {
  return "req_" + random_hex(12);
}

}  // namespace llmp::ids
