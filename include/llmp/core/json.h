#pragma once
// JSON writing (a small append-only writer) and JSON error location.
// Parsing itself is simdjson's job and happens at the edge (api/); this header stays light so
// every module can write JSON without pulling simdjson in.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::json {

//! Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 becomes U+FFFD.
void append_string(std::string& out, std::string_view s);

//! Appends a finite double in shortest round-trip form; non-finite values become null.
void append_number(std::string& out, double v);

//! Appends an integer in decimal, with a '-' when negative and nothing else.
void append_integer(std::string& out, int64_t v);
void append_integer(std::string& out, uint64_t v);

//! Writes JSON into a caller-owned string; commas between members are placed automatically.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object() { return open('{'); }
  Writer& end_object() { return close('}'); }
  Writer& begin_array() { return open('['); }
  Writer& end_array() { return close(']'); }
  Writer& key(std::string_view k);
  Writer& value(std::string_view v);
  Writer& value(const char* v) { return value(std::string_view(v)); }
  Writer& value(const std::string& v) { return value(std::string_view(v)); }
  Writer& value(bool v);
  Writer& value(int v) { return value(static_cast<int64_t>(v)); }
  Writer& value(int64_t v);
  Writer& value(uint64_t v);
  Writer& value(double v);
  Writer& null();
  //! Inserts already-serialised JSON as one value.
  Writer& raw(std::string_view json);

  //! key(k).value(v) in one call.
  template <class T>
  Writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

 private:
  void before_value();
  Writer& open(char bracket);
  Writer& close(char bracket);
  std::string& out_;
  std::vector<bool> first_;  // per open container: no member written yet
  bool after_key_ = false;
};

//! Where and why a text is not valid JSON (RFC 8259, UTF-8 only).
struct SyntaxError {
  size_t offset = 0;   // byte offset of the first offending byte
  std::string reason;  // "unexpected character '}'", "invalid UTF-8", "nesting deeper than 64"
};

//! The first syntax error in `text`, or nullopt when it is valid JSON nested at most `max_depth`.
//! Runs only on the error path, after the fast parser has refused a text, to name the offset.
std::optional<SyntaxError> find_syntax_error(std::string_view text, int max_depth);

}  // namespace llmp::json
