#pragma once
// The little binary format of stored keys and values (the RocksDB-backed repositories, and obs's
// trace records): big-endian integers (so keys sort by them) and strings prefixed by their length
// as a LEB128 varint. Each owner of a record puts a version byte first and owns its layout. An
// internal storage format shared by store and obs, not an API.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmp::binary {

inline void put_u64_be(std::string& out, uint64_t v) {
  // One append of 8 bytes: push_back per byte showed in the profile of encoding call records.
  char bytes[8];
  for (int i = 7; i >= 0; --i, v >>= 8) bytes[i] = static_cast<char>(v & 0xff);
  out.append(bytes, 8);
}

//! The big-endian u64 at the start of `in` (at least 8 bytes).
inline uint64_t get_u64_be(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void i64(int64_t v) { put_u64_be(out_, static_cast<uint64_t>(v)); }
  void f64(double v) { i64(std::bit_cast<int64_t>(v)); }
  void str(std::string_view s) {
    char length[10];
    size_t used = 0;
    uint64_t n = s.size();
    while (n >= 0x80) {
      length[used++] = static_cast<char>((n & 0x7f) | 0x80);
      n >>= 7;
    }
    length[used++] = static_cast<char>(n);
    out_.append(length, used);
    out_.append(s);
  }

 private:
  std::string& out_;
};

//! Reads what Encoder wrote. A read past the end (or a malformed length) returns a zero value
//! and turns ok() false for good, so a decoder checks ok() once at the end.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool at_end() const { return pos_ >= in_.size(); }
  bool ok() const { return ok_; }
  uint8_t u8() { return need(1) ? static_cast<uint8_t>(in_[pos_++]) : 0; }
  int64_t i64() {
    if (!need(8)) return 0;
    const uint64_t v = get_u64_be(in_.substr(pos_, 8));
    pos_ += 8;
    return static_cast<int64_t>(v);
  }
  double f64() { return std::bit_cast<double>(i64()); }
  std::string str() {
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      if (!need(1) || shift > 63) {
        ok_ = false;
        return {};
      }
      const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    if (!need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  bool need(uint64_t n) {
    if (ok_ && in_.size() - pos_ >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace llmp::binary
