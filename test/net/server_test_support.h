#pragma once
// What the server and client tests share about an in-process HttpServer: options for one on a
// loopback port with short timeouts, and a pause inside a handler.

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

#include "llmp/net/http_server.h"

namespace llmp::test {

inline net::ServerOptions test_server_options() {
  net::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.io_threads = 2;
  o.max_connections = 100;
  o.max_header_bytes = 16384;
  o.max_body_bytes = 1 << 20;
  o.read_timeout_ms = 5000;
  o.idle_timeout_ms = 5000;
  o.write_timeout_ms = 5000;
  o.drain_timeout_ms = 5000;
  o.access_log = false;
  return o;
}

// Waits `d` on the calling coroutine's executor.
inline net::Awaitable<void> sleep_for(std::chrono::milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::use_awaitable);
}

}  // namespace llmp::test
