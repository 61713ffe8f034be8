#pragma once
// The async HTTP/1.1 client: what the gateway calls upstream providers with (and later MCP,
// webhooks, OTLP export). http:// and https:// (TLS 1.2+, the peer's certificate and name
// verified against the system trust store by default). Keep-alive pool per scheme, host and
// port, three timeouts, a size limit on buffered bodies, and streamed bodies handed over piece
// by piece as they arrive.
//
// Errors are Status values whose cause kind_of() recovers, so a caller can decide on a retry:
// the kinds marked "nothing sent" are always safe to retry; the others are safe only when
// repeating the request upstream is harmless (an idempotent call, or one whose only cost is
// the upstream's work). Beast, Asio's ssl and OpenSSL stay in src/net/http_client.cpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>

#include "llmp/core/status.h"
#include "llmp/net/http.h"

namespace llmp::net {

struct ClientOptions {
  //! Idle kept-alive connections kept per scheme://host:port (0: every connection closes after
  //! use).
  size_t max_idle_per_host = 8;
  //! A pooled connection idle longer than this is closed instead of reused: servers drop idle
  //! connections on their own clock, and a reuse racing that close costs a retry.
  std::chrono::milliseconds pool_idle_timeout{30000};
  //! Resolving, connecting and the TLS handshake. 0 means no limit, here and below.
  std::chrono::milliseconds connect_timeout{5000};
  //! From the request written to the response's status line and headers received.
  std::chrono::milliseconds first_byte_timeout{60000};
  //! The whole exchange, connect to the body's last byte (a stream's too).
  std::chrono::milliseconds total_timeout{600000};
  //! Largest body request() buffers. Streams from open() are passed through, not limited.
  size_t max_response_body_bytes = 64u << 20;
  //! Largest status line plus headers.
  size_t max_response_header_bytes = 64u << 10;
  //! A PEM bundle of CA certificates trusted for https besides the system's (a private CA).
  //! Read when the first https request is made; if it cannot be loaded, every https request
  //! fails with tls_failed and says why.
  std::string ca_file;
  //! Verify an https peer's certificate chain and that it names the URL's host (or IP). Off
  //! only for tests and development: the peer is then not authenticated at all, and creating
  //! such a client logs a warning.
  bool verify_peer = true;
};

struct ClientRequest {
  Method method = Method::get;
  //! http://host[:port]/path?query or https://host[:port]/path?query (ports 80 and 443 by
  //! default).
  std::string url;
  //! Sent as given, after Host (unless given here) and before Content-Length (always ours).
  Headers headers;
  std::string body;
  //! Per-request overrides of the client's timeouts.
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> first_byte_timeout;
  std::optional<std::chrono::milliseconds> total_timeout;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

//! Why a request failed. Every error the client returns has one besides `other`.
enum class ClientErrorKind {
  other,                  // not an error of this client (or not an error)
  invalid_request,        // a bad or unsupported URL, a bad header: never retry as is
  connect_refused,        // nothing sent: safe to retry
  connect_failed,         // resolution or connect failed otherwise, or the peer ended the TLS
                          // handshake by closing: nothing sent, safe to retry
  connect_timeout,        // nothing sent: safe to retry
  first_byte_timeout,     // sent; no response headers in time
  total_timeout,          // the whole exchange ran out of time (before or after the headers)
  closed_before_headers,  // sent (maybe in part); the connection ended before the headers
  closed_mid_body,        // the headers came, then the connection ended before the body did
  malformed_response,     // not HTTP/1.x as we understand it (headers over the size limit too)
  body_too_large,         // a buffered body over max_response_body_bytes
  tls_failed,             // the TLS handshake failed (protocol, or the certificate or its name did
                          // not verify; the message gives OpenSSL's reason), or ca_file did not
                          // load. Nothing of the request was sent, yet it is not safe_to_retry
                          // nor retryable(): the same peer will fail the same way
};

//! The kind of an error returned by HttpClient or ClientStream (kept through with_context:
//! the message ends in "(http_client.<kind>)").
ClientErrorKind kind_of(const Status& status);
//! True for the kinds where nothing reached the server: a retry cannot repeat any work
//! (tls_failed sent nothing either, but is false: a retry would fail the same way).
//! Status::retryable() is wider: it says a retry may help (timeouts and closes too), not
//! that it is harmless.
bool safe_to_retry(ClientErrorKind kind);
std::string_view to_string(ClientErrorKind kind);

//! A response's Retry-After in delta-seconds (429, 503); nullopt when absent or an HTTP-date.
std::optional<std::chrono::seconds> retry_after(const Headers& headers);

class HttpClient;

//! A response whose headers have arrived and whose body is read piece by piece. Destroying it
//! before the end closes its connection. Not to be used by two coroutines at once.
class ClientStream {
 public:
  //! An empty stream, to be assigned one from open() later; next() on it is an error.
  ClientStream();
  ClientStream(ClientStream&&) noexcept;
  ClientStream& operator=(ClientStream&&) noexcept;
  ~ClientStream();

  int status() const;
  const Headers& headers() const;

  //! The next piece of the body as it arrived (a chunk of a chunked body or part of it, a read
  //! of a Content-Length body); nullopt after the last. An end before the body's framing says
  //! so (the last chunk, Content-Length bytes) is an error of kind closed_mid_body.
  Awaitable<Result<std::optional<std::string>>> next();

  struct State;

 private:
  friend class HttpClient;
  explicit ClientStream(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

//! An HTTP/1.1 client. Its connections, timers and pool live on a strand of the executor it
//! was given, so it may be called from coroutines on any executor, from any thread; or, made
//! `calling_thread`, on that executor itself, for calls only ever made from the one thread
//! that runs it (they then run inline: no hop to the strand and back per request).
class HttpClient {
 public:
  enum class Confinement { any_thread, calling_thread };
  HttpClient(boost::asio::any_io_executor executor, ClientOptions options,
             Confinement confinement = Confinement::any_thread);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  //! Sends the request and reads the whole response (body up to max_response_body_bytes).
  //! A pooled connection found closed by the server is replaced once, transparently, when
  //! nothing of the response had been read.
  Awaitable<Result<ClientResponse>> request(ClientRequest request);
  //! Sends the request and returns once the status line and headers have arrived.
  Awaitable<Result<ClientStream>> open(ClientRequest request);
  //! Closes the pooled idle connections, and from now on each connection as its request ends
  //! (for a stop). A confined client: on its own thread only. A pooled connection may keep a
  //! timer pending (its last deadline), which keeps its event loop from running out of work:
  //! closing them lets a stopping loop end at once.
  void close_idle();

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace llmp::net

namespace llmp::net {

//! One HttpClient per calling thread, each confined to that thread's executor: a hot path (the
//! gateway's upstream calls) then never hops to another thread or queues on one strand for all
//! threads. Clients are made on first use and live until this object goes, which must be before
//! the executors they were made on are destroyed (their io_contexts may be stopped).
class HttpClients {
 public:
  explicit HttpClients(ClientOptions options);
  //! The calling thread's client, made on `executor` the first time: the executor that runs
  //! this thread (an I/O thread's own io_context), since its calls run inline there.
  HttpClient& here(const boost::asio::any_io_executor& executor);
  //! close_idle() on the calling thread's client, if it has one (call it on that thread, e.g.
  //! from HttpServer::at_stop).
  void close_idle_here();

 private:
  ClientOptions options_;
  uint64_t id_;
  std::mutex mu_;
  std::unordered_map<std::thread::id, std::unique_ptr<HttpClient>> clients_;
};

}  // namespace llmp::net
