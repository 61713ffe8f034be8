#pragma once
// Structured logging: one JSON object per line on stdout
// ({"ts":..., "level":..., "msg":..., <fields>}). Lines are formatted on the calling thread and
// written by a background thread in batches, so a request never waits on stdout.

#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace llmp::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

//! Parses "debug" | "info" | "warn" | "error".
bool parse_level(std::string_view text, Level* out);

//! One key/value of a log line. Holds views: valid only for the duration of the call.
struct Field {
  enum class Kind { string, int64, uint64, number, boolean };
  Field(std::string_view k, std::string_view v) : key(k), kind(Kind::string), s(v) {}
  Field(std::string_view k, const char* v) : key(k), kind(Kind::string), s(v) {}
  Field(std::string_view k, int v) : key(k), kind(Kind::int64), i(v) {}
  Field(std::string_view k, long v) : key(k), kind(Kind::int64), i(v) {}
  Field(std::string_view k, long long v) : key(k), kind(Kind::int64), i(v) {}
  Field(std::string_view k, unsigned v) : key(k), kind(Kind::uint64), u(v) {}
  Field(std::string_view k, unsigned long v) : key(k), kind(Kind::uint64), u(v) {}
  Field(std::string_view k, unsigned long long v) : key(k), kind(Kind::uint64), u(v) {}
  Field(std::string_view k, double v) : key(k), kind(Kind::number), d(v) {}
  Field(std::string_view k, bool v) : key(k), kind(Kind::boolean), b(v) {}

  std::string_view key;
  Kind kind;
  std::string_view s;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  bool b = false;
};

//! Lines below this level are dropped (default info).
void set_level(Level level);
bool enabled(Level level);

//! Formats and queues one line. Thread-safe.
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

//! Blocks until every queued line is written to stdout.
void flush();

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::info)) write(Level::info, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::warn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::error, msg, f);
}

}  // namespace llmp::log
