#pragma once
// What the HTTP client's test files share: the client's event loop on a thread, default
// options, and a streamed exchange read to its end with when each piece came.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "llmp/net/http_client.h"

namespace llmp::net::test {

// The client's event loop, on a thread of its own for the test's life.
class IoThread {
 public:
  IoThread() : work_(ctx_.get_executor()), thread_([this] { ctx_.run(); }) {}
  ~IoThread() {
    work_.reset();
    ctx_.stop();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return ctx_.get_executor(); }
  //! Runs a coroutine on the loop and waits for its result.
  template <class T>
  T run(Awaitable<T> coro) {
    return boost::asio::co_spawn(ctx_, std::move(coro), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

inline ClientOptions test_client_options() {
  using namespace std::chrono_literals;
  ClientOptions o;
  o.max_idle_per_host = 4;
  o.connect_timeout = 2000ms;
  o.first_byte_timeout = 5000ms;
  o.total_timeout = 10000ms;
  o.max_response_body_bytes = 1 << 20;
  return o;
}

inline ClientRequest get(std::string url) {
  ClientRequest r;
  r.method = Method::get;
  r.url = std::move(url);
  return r;
}

inline void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// What a streamed exchange gave: the pieces, when each arrived (ms after open), and how it
// ended.
struct StreamLog {
  int status = 0;
  std::vector<std::string> pieces;
  std::vector<int64_t> at_ms;
  std::optional<Status> error;
};

inline Awaitable<StreamLog> stream_all(HttpClient& client, ClientRequest req) {
  using Clock = std::chrono::steady_clock;
  StreamLog log;
  auto open_op = client.open(std::move(req));
  auto opened = co_await std::move(open_op);
  if (!opened) {
    log.error = opened.error();
    co_return log;
  }
  const auto t0 = Clock::now();
  log.status = opened->status();
  for (int i = 0; i < 10000; ++i) {
    auto next_op = opened->next();
    auto piece = co_await std::move(next_op);
    if (!piece) {
      log.error = piece.error();
      break;
    }
    if (!*piece) break;
    log.pieces.push_back(std::move(**piece));
    log.at_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  }
  co_return log;
}

inline std::string joined(const StreamLog& log) {
  std::string all;
  for (const auto& p : log.pieces) all += p;
  return all;
}

}  // namespace llmp::net::test
