#pragma once
// The HTTP/1.1 server: Beast underneath, coroutines per connection, one io_context per I/O
// thread. Request identity (X-Request-ID, traceparent → X-Trace-ID), access log lines,
// per-route metrics, limits and timeouts, CORS, static files and graceful draining are done
// here for every route; everything else is a route handler or a middleware.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llmp/core/metrics.h"
#include "llmp/core/settings.h"
#include "llmp/core/status.h"
#include "llmp/net/http.h"
#include "llmp/net/router.h"

namespace llmp::net {

struct ServerOptions {
  std::string host;
  int64_t port = 0;
  int64_t io_threads = 0;  // 0: one per core
  int64_t max_connections = 0;
  int64_t max_header_bytes = 0;
  int64_t max_body_bytes = 0;
  int64_t read_timeout_ms = 0;   // from a request's first byte to its last
  int64_t idle_timeout_ms = 0;   // a kept-alive connection waiting for its next request
  int64_t write_timeout_ms = 0;  // one response write (or one streamed chunk)
  int64_t drain_timeout_ms = 0;  // on SIGTERM: how long in-flight requests may finish
  std::vector<std::string> cors_allow_origins;  // empty: CORS off; "*": any origin
  std::string web_root;          // static files served for GET paths no route claims
  bool access_log = true;
};

//! Declares the [server] section.
void declare_settings(SettingsRegistry& registry, ServerOptions& options);

enum class ServerState { starting, ready, draining };

class HttpServer {
 public:
  HttpServer(ServerOptions options, metrics::Registry& metrics);
  ~HttpServer();

  Router& router();
  //! Adds a middleware; they run in the order added, around every matched route.
  void use(Middleware middleware);

  //! Binds and listens (errors name the address). Port 0 takes a free port; see port().
  Result<void> listen();
  uint16_t port() const;
  //! "http://host:port" this process can call itself at (loopback for a wildcard bind).
  std::string self_url() const;
  //! Starts the I/O threads and accepting. Returns at once.
  void start();

  //! starting: only always_available routes answer, others 503; ready: all; draining: 503.
  void set_state(ServerState state);
  ServerState state() const;

  //! Stops accepting, answers new requests 503, and waits up to `deadline` for in-flight
  //! requests. True when none is left.
  bool drain(std::chrono::milliseconds deadline);
  //! Closes every connection and joins the I/O threads.
  void stop();
  //! Runs `on_each_thread` on every I/O thread as stop() begins, before the threads are joined:
  //! to close what other parts keep on those threads (pooled client connections). Call before
  //! start().
  void at_stop(std::function<void()> on_each_thread);

  int64_t in_flight() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmp::net
