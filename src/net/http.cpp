#include "llmp/net/http.h"

#include <strings.h>

#include <functional>

namespace llmp::net {

std::string_view to_string(Method m) {
  switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::delete_: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::other: return "OTHER";
  }
  return "OTHER";
}

Method parse_method(std::string_view t) {
  if (t == "GET") return Method::get;
  if (t == "POST") return Method::post;
  if (t == "HEAD") return Method::head;
  if (t == "PUT") return Method::put;
  if (t == "PATCH") return Method::patch;
  if (t == "DELETE") return Method::delete_;
  if (t == "OPTIONS") return Method::options;
  return Method::other;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::string_view Headers::get(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    const Field f = field(i);
    if (iequals(f.name, name)) return f.value;
  }
  return {};
}

bool Headers::has(std::string_view name) const {
  for (const Slot& s : fields_) {
    if (iequals(std::string_view(text_).substr(s.at, s.name_size), name)) return true;
  }
  return false;
}

void Headers::reserve(size_t fields, size_t bytes) {
  fields_.reserve(fields);
  text_.reserve(bytes);
}

void Headers::add(std::string_view name, std::string_view value) {
  const auto inside = [this](std::string_view s) {
    const std::less<const char*> before;  // a total order, also for pointers into other objects
    return !s.empty() && !before(s.data(), text_.data()) && before(s.data(), text_.data() + text_.size());
  };
  if (inside(name) || inside(value)) {
    // Growing the buffer would move what they view: copy them out first (rare).
    const std::string copy = std::string(name).append(value);
    add(std::string_view(copy).substr(0, name.size()), std::string_view(copy).substr(name.size()));
    return;
  }
  // A response carries a handful of fields of ~40 bytes: start with room for them, so the
  // buffer and the slots are one allocation each instead of one per doubling.
  if (fields_.empty() && fields_.capacity() == 0) reserve(8, 256);
  fields_.push_back(Slot{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(name.size()),
                         static_cast<uint32_t>(value.size())});
  text_.append(name).append(value);
}

void Headers::set(std::string_view name, std::string_view value) {
  // Fields removed here keep their bytes in text_: values set again may view them.
  std::erase_if(fields_, [&](const Slot& s) { return iequals(std::string_view(text_).substr(s.at, s.name_size), name); });
  add(name, value);
}

std::string percent_decode(std::string_view s, bool plus_as_space, bool* ok) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (ok) *ok = true;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
        i += 2;
        continue;
      }
      if (ok) *ok = false;
      out.push_back('%');
    } else if (plus_as_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

std::string Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

Awaitable<bool> StreamWriter::sse_event(std::string_view data) {
  std::string event;
  event.reserve(data.size() + 8);
  event.append("data: ").append(data).append("\n\n");
  co_return co_await write(event);
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::text(int status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.content_type = content_type;
  r.body = std::move(body);
  return r;
}

Response Response::sse(StreamProducer producer) {
  Response r;
  r.content_type = "text/event-stream";
  r.headers.set("Cache-Control", "no-cache");
  r.headers.set("X-Accel-Buffering", "no");  // tell nginx-like proxies in front not to buffer
  r.stream = std::move(producer);
  return r;
}

}  // namespace llmp::net
