#pragma once
// What the HTTP client's test files share: the client's event loop on a thread, default
// options, a streamed exchange read to its end with when each piece came, and the listener
// and request framing of their scripted (blocking) loopback servers.

#include <strings.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// A loopback listener for a scripted server: its thread accepts connections and runs `serve`
// on each (numbered from 0) on a thread of its own, with blocking calls only. Stopping it wakes
// the accept and joins every connection's thread, so declare it after what `serve` uses.
class LoopbackAcceptor {
 public:
  using tcp = boost::asio::ip::tcp;
  using Serve = std::function<void(tcp::socket, int index)>;

  explicit LoopbackAcceptor(Serve serve) : serve_(std::move(serve)), acceptor_(ctx_) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~LoopbackAcceptor() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket wake(ctx_);
    wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);  // unblocks accept()
    thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : peers_) t.join();
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void accept_loop() {
    for (int i = 0; i < 1000; ++i) {
      tcp::socket s(ctx_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      const int index = accepted_++;
      std::lock_guard lock(mu_);
      peers_.emplace_back([this, s = std::move(s), index]() mutable { serve_(std::move(s), index); });
    }
  }

  Serve serve_;
  boost::asio::io_context ctx_;  // never run: blocking calls only
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::thread> peers_;
  std::thread thread_;
};

// The Content-Length of a request head (0 when it has none).
inline size_t content_length(std::string_view head) {
  for (size_t at = 0; at < head.size();) {
    size_t eol = head.find("\r\n", at);
    if (eol == std::string_view::npos) eol = head.size();
    const std::string_view line = head.substr(at, eol - at);
    if (line.size() > 15 && ::strncasecmp(line.data(), "content-length:", 15) == 0) {
      return std::stoul(std::string(line.substr(15)));
    }
    at = eol + 2;
  }
  return 0;
}

// Takes the first whole request (head and Content-Length body) off the front of what a peer
// has read so far; nullopt while it is not all there.
inline std::optional<std::string> take_request(std::string& read) {
  const size_t end = read.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  const size_t need = end + 4 + content_length(std::string_view(read).substr(0, end));
  if (read.size() < need) return std::nullopt;
  std::string request = read.substr(0, need);
  read.erase(0, need);
  return request;
}

}  // namespace llmp::net::test
