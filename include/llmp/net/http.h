#pragma once
// HTTP requests and responses as handlers see them: plain types, no Beast. Handlers are
// coroutines returning a Response; a streamed response (SSE) carries a producer that writes
// chunks after the headers are sent.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "llmp/core/trace.h"

namespace llmp::net {

template <class T>
using Awaitable = boost::asio::awaitable<T>;

enum class Method { get, head, post, put, patch, delete_, options, other };

//! "GET", "POST", ...; "OTHER" for methods the router does not know.
std::string_view to_string(Method m);
Method parse_method(std::string_view text);

//! Header fields with case-insensitive names, in arrival order. Names and values are kept in
//! one buffer: a string per name and per value was a fifth of a proxied request's allocations
//! (every name over 15 bytes, such as "x-ratelimit-remaining-requests", allocated).
class Headers {
 public:
  struct Field {
    std::string_view name, value;
  };

  //! The first value of `name`, or empty.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  //! Adds a field. `name` and `value` may view this object's own fields.
  void add(std::string_view name, std::string_view value);
  //! Replaces every field called `name` with one. The replaced fields' bytes stay in the buffer
  //! until the object goes: made for one message's headers, not for a long-lived table.
  void set(std::string_view name, std::string_view value);
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  //! Room for `fields` fields of `bytes` name and value bytes in all, allocated once.
  void reserve(size_t fields, size_t bytes);

  class Iterator {
   public:
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const Headers* h, size_t i) : h_(h), i_(i) {}
    Field operator*() const { return h_->field(i_); }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const Headers* h_ = nullptr;
    size_t i_ = 0;
  };
  //! The fields in order, as views into this object (valid until it changes).
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, fields_.size()}; }

 private:
  // A field's name at text_[at, at + name_size), its value right after it.
  struct Slot {
    uint32_t at = 0, name_size = 0, value_size = 0;
  };
  Field field(size_t i) const {
    const Slot& s = fields_[i];
    return {std::string_view(text_).substr(s.at, s.name_size), std::string_view(text_).substr(s.at + s.name_size, s.value_size)};
  }

  std::string text_;  // names and values back to back; a replaced field's bytes stay unused
  std::vector<Slot> fields_;
};

//! Who asked, for logs and for the layers below: taken from headers or generated.
struct RequestContext {
  std::string request_id;      // X-Request-ID as received (if sane) or "req_<hex>"
  trace::TraceContext trace;   // the caller's trace (traceparent) or a new one
  trace::SpanId span_id;       // this request's own span in that trace
  // Filled in by handlers once known; they show up in the access log line.
  std::string tenant;
  std::string key_id;  // the API key that authenticated the request; "admin" for the platform admin key
  std::string model;
};

//! Tells a handler when its client goes away while the answer is still being made, so it can
//! cancel work done on the client's behalf (a long generation).
class ClientWatch {
 public:
  virtual ~ClientWatch() = default;
  //! Runs `fn` (on the connection's executor) as soon as the client closes its side. The
  //! server watches the socket only once someone asks: requests that never ask pay nothing.
  virtual void on_client_gone(std::function<void()> fn) = 0;
  virtual bool client_gone() const = 0;
};

struct Request {
  Method method = Method::other;
  std::string method_text;
  std::string target;  // as received: path and query
  std::string path;    // percent-decoding is left to whoever reads a segment
  std::string query;   // after '?', without it
  Headers headers;
  std::string body;
  std::string remote_address;
  std::string_view route;  // the pattern that matched ("/v1/models/{id}"), or "unmatched"
  std::vector<std::pair<std::string, std::string>> path_params;
  RequestContext ctx;
  //! Set by the server while the handler (and a streamed body) runs; null otherwise.
  ClientWatch* client = nullptr;

  //! A path parameter by name ("id" for "/v1/models/{id}"), percent-decoded; empty if absent.
  std::string_view param(std::string_view name) const;
  //! A query parameter, percent-decoded; empty if absent.
  std::string query_param(std::string_view name) const;
};

//! Writes a streamed body. Every write is flushed to the socket before it completes.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  //! Writes `data` as one chunk; false once the client is gone.
  virtual Awaitable<bool> write(std::string_view data) = 0;
  //! Writes one Server-Sent Event: "data: <data>\n\n".
  Awaitable<bool> sse_event(std::string_view data);
  //! True once the client has closed its side or a write failed.
  virtual bool client_gone() const = 0;
  //! Runs `fn` (on the connection's executor) as soon as the client goes away, even while the
  //! producer is waiting for something else, so it can cancel work on the client's behalf.
  virtual void on_client_gone(std::function<void()> fn) = 0;
};

using StreamProducer = std::function<Awaitable<void>(StreamWriter&)>;

struct Response {
  int status = 200;
  //! Points at static storage (a literal, the MIME table): responses are made per request and
  //! a content type is almost always a constant.
  std::string_view content_type = "application/json";
  Headers headers;
  std::string body;
  //! When set, headers go out at once and `stream` writes the body in chunks.
  StreamProducer stream;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body, std::string_view content_type = "text/plain; charset=utf-8");
  //! A text/event-stream response whose events `producer` writes.
  static Response sse(StreamProducer producer);
};

using Handler = std::function<Awaitable<Response>(Request&)>;
using Next = std::function<Awaitable<Response>(Request&)>;
//! Runs around matched routes, outermost first; may answer itself or call `next`.
using Middleware = std::function<Awaitable<Response>(Request&, const Next& next)>;

//! Decodes %XX escapes (and '+' as space when `plus_as_space`); nullopt-like empty flag on bad
//! escapes is reported through `ok`.
std::string percent_decode(std::string_view s, bool plus_as_space, bool* ok = nullptr);

}  // namespace llmp::net
