// The only translation unit that includes Beast's HTTP machinery (it costs ~15 s to compile).
#include <utility>  // before Asio: Boost 1.74's Asio forgets it; harmless with 1.81

#include "llmp/net/http_server.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "llmp/core/ids.h"
#include "llmp/core/log.h"
#include "llmp/net/errors.h"
#include "static_files.h"

namespace llmp::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

void declare_settings(SettingsRegistry& r, ServerOptions& o) {
  r.describe_section("server", "The HTTP server: where it listens, its limits and timeouts.");
  r.add(StringSetting{.section = "server", .key = "host", .target = &o.host, .default_value = "127.0.0.1",
                      .help = "Address to listen on. 127.0.0.1 keeps the server on this machine; 0.0.0.0 exposes it."});
  r.add(IntSetting{.section = "server", .key = "port", .target = &o.port, .default_value = 8080, .min = 0,
                   .max = 65535, .help = "TCP port (0: any free port, printed in the \"listening\" log line)."});
  r.add(IntSetting{.section = "server", .key = "io_threads", .target = &o.io_threads, .default_value = 0, .min = 0,
                   .max = 256, .help = "I/O threads, each with its own event loop (0: one per core)."});
  r.add(IntSetting{.section = "server", .key = "max_connections", .target = &o.max_connections,
                   .default_value = 10000, .min = 1, .max = 1000000,
                   .help = "Open connections beyond this are answered 503 and closed."});
  r.add(IntSetting{.section = "server", .key = "max_header_bytes", .target = &o.max_header_bytes,
                   .default_value = 16384, .min = 1024, .max = 1 << 20,
                   .help = "Largest request line plus headers (431 beyond)."});
  r.add(IntSetting{.section = "server", .key = "max_body_bytes", .target = &o.max_body_bytes,
                   .default_value = 10 * 1024 * 1024, .min = 1024, .max = int64_t{1} << 32,
                   .help = "Largest request body (413 beyond)."});
  r.add(IntSetting{.section = "server", .key = "read_timeout_ms", .target = &o.read_timeout_ms, .default_value = 30000,
                   .min = 100, .max = 3600000,
                   .help = "Time for a whole request to arrive once its first byte has (408 beyond)."});
  r.add(IntSetting{.section = "server", .key = "idle_timeout_ms", .target = &o.idle_timeout_ms, .default_value = 60000,
                   .min = 100, .max = 3600000, .help = "A kept-alive connection with no request is closed after this."});
  r.add(IntSetting{.section = "server", .key = "write_timeout_ms", .target = &o.write_timeout_ms,
                   .default_value = 30000, .min = 100, .max = 3600000,
                   .help = "Time for one response (or one streamed chunk) to be taken by the client."});
  r.add(IntSetting{.section = "server", .key = "drain_timeout_ms", .target = &o.drain_timeout_ms,
                   .default_value = 30000, .min = 0, .max = 3600000,
                   .help = "On SIGTERM/SIGINT: how long in-flight requests may finish before the process exits."});
  r.add(StringListSetting{.section = "server", .key = "cors_allow_origins", .target = &o.cors_allow_origins,
                          .default_value = {},
                          .help = "Origins allowed by CORS (\"*\" for any). Empty: no CORS headers at all."});
  r.add(StringSetting{.section = "server", .key = "web_root", .target = &o.web_root, .default_value = "web/dist",
                      .help = "Folder of the web console's built assets, served at /. Missing folder: no console."});
  r.add(BoolSetting{.section = "server", .key = "access_log", .target = &o.access_log, .default_value = true,
                    .help = "Write one JSON log line per request."});
}

namespace {

// "Thu, 26 Nov 2026 09:30:00 GMT", formatted once per second per thread.
std::string_view http_date() {
  thread_local std::time_t cached_at = 0;
  thread_local char buf[40];
  const std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_at = now;
  }
  return buf;
}

// A client-supplied request id is echoed only when it is short printable ASCII.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Header values from handlers must not break the framing: CR and LF become spaces. Appended
// whole, then mended in one pass over the copy (a byte-by-byte copy, and then two memchr calls
// per value, showed in the profile).
void append_header_value(std::string& out, std::string_view v) {
  const size_t at = out.size();
  out.append(v);
  for (auto it = out.begin() + static_cast<std::ptrdiff_t>(at); it != out.end(); ++it) {
    if (*it == '\r' || *it == '\n') *it = ' ';
  }
}

bool has_no_body(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

// The status line and headers of a response. Serialised by hand into one buffer: Beast's
// serializer costs more than the rest of a small request together.
void serialize_head(std::string& out, const Response& res, const RequestContext& ctx, bool keep_alive,
                    unsigned version, bool chunked, size_t content_length) {
  out.append("HTTP/1.1 ");
  char code[4] = {static_cast<char>('0' + res.status / 100 % 10), static_cast<char>('0' + res.status / 10 % 10),
                  static_cast<char>('0' + res.status % 10), ' '};
  out.append(code, 4);
  out.append(http::obsolete_reason(static_cast<http::status>(res.status)));
  out.append("\r\nServer: llmplatform\r\nDate: ");
  out.append(http_date());
  out.append("\r\nX-Request-ID: ");
  out.append(ctx.request_id);  // checked printable when it came from the client
  out.append("\r\nX-Trace-ID: ");
  out.append(ctx.trace.trace_id.view());
  out.append("\r\n");
  if (!res.content_type.empty()) {
    out.append("Content-Type: ");
    append_header_value(out, res.content_type);
    out.append("\r\n");
  }
  for (const auto [k, v] : res.headers) {
    out.append(k);
    out.append(": ");
    append_header_value(out, v);
    out.append("\r\n");
  }
  if (chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (!has_no_body(res.status)) {
    char len[24];
    auto [end, ec] = std::to_chars(len, len + sizeof len, content_length);
    out.append("Content-Length: ");
    out.append(len, end);
    out.append("\r\n");
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (version == 10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

// Parses a request straight into our Request. Beast's request_parser builds its own message
// first (a node per header field, the target and method as strings) that we then copied field
// by field: two allocations and copies per header on every request.
class RequestReader final : public http::basic_parser<true> {
 public:
  explicit RequestReader(Request& req) : req_(req) {}
  unsigned version() const { return version_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                       beast::error_code&) override {
    req_.method_text.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = http::error::bad_method;  // a request parser never sees a status line
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    req_.headers.add(name, value);
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) req_.body.reserve(static_cast<size_t>(*length));  // already held to body_limit
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& req_;
  unsigned version_ = 11;
};

// Counters and the latency histogram of one route (or of unmatched requests for a method).
struct RouteStats {
  std::string route, method;
  metrics::Histogram* duration = nullptr;
  std::array<std::atomic<metrics::Counter*>, 600> by_code{};

  metrics::Counter& counter(metrics::Registry& reg, int code) {
    if (code < 100 || code > 599) code = 500;
    metrics::Counter* c = by_code[code].load(std::memory_order_acquire);
    if (!c) {
      c = &reg.counter("llmp_http_requests_total", "HTTP requests answered, by route, method and status code.",
                       {{"route", route}, {"method", method}, {"code", std::to_string(code)}});
      by_code[code].store(c, std::memory_order_release);
    }
    return *c;
  }
};

// State shared by a connection's session and its timeout watchdog.
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline{};
  bool armed = false;
  bool timed_out = false;
  bool closed = false;

  void arm(std::chrono::milliseconds d) { arm_at(Clock::now() + d); }
  // With a time the caller already has: clock reads are a visible cost per request.
  void arm_at(Clock::time_point at) {
    deadline = at;
    armed = true;
    timed_out = false;
  }
  void disarm() { armed = false; }
};

// Cancels the socket's pending operations once the armed deadline passes.
asio::awaitable<void> watchdog(std::shared_ptr<Connection> conn) {
  while (!conn->closed) {
    const auto now = Clock::now();
    conn->timer.expires_at(conn->armed ? conn->deadline : now + std::chrono::seconds(1));
    co_await conn->timer.async_wait(kNoThrow);
    if (conn->closed) break;
    if (conn->armed && Clock::now() >= conn->deadline) {
      conn->timed_out = true;
      conn->armed = false;
      boost::system::error_code ignored;
      conn->socket.cancel(ignored);
    }
  }
}

// Watches a connection for its client going away while a handler works: one read that
// completes on EOF or reset. Started on first use; stopped (and any early bytes of a
// pipelined next request kept) before the connection reads its next request.
class SocketWatch final : public ClientWatch {
 public:
  // The state (an allocation and a timer) is made on first use: most requests never watch.
  explicit SocketWatch(Connection& conn) : conn_(conn) {}

  void on_client_gone(std::function<void()> fn) override {
    if (client_gone()) {
      fn();
      return;
    }
    start();
    state_->callbacks.push_back(std::move(fn));
  }
  bool client_gone() const override { return state_ && state_->gone; }

  //! The client is gone (a write failed).
  void mark_gone() {
    start();
    State::fire(*state_);
  }

  void start() {
    if (state_) return;
    state_ = std::make_shared<State>(conn_.socket.get_executor());
    state_->reading = true;
    auto state = state_;
    conn_.socket.async_read_some(asio::buffer(state->buf), [state](boost::system::error_code ec, size_t n) {
      state->reading = false;
      state->n = n;
      if (ec && ec != asio::error::operation_aborted) State::fire(*state);
      state->done.cancel();
    });
  }

  //! Stops watching; returns what the watch read of a pipelined next request.
  Awaitable<std::string> stop() {
    if (!state_) co_return std::string();
    if (state_->reading) {
      boost::system::error_code ignored;
      conn_.socket.cancel(ignored);
      state_->done.expires_at(Clock::time_point::max());
      co_await state_->done.async_wait(kNoThrow);
    }
    co_return std::string(state_->buf.data(), state_->n);
  }

 private:
  // Shared with the pending read's handler, which may run after this object is gone.
  struct State {
    explicit State(const asio::any_io_executor& ex) : done(ex, Clock::time_point::max()) {}
    bool gone = false, reading = false;
    size_t n = 0;
    std::array<char, 4096> buf{};
    std::vector<std::function<void()>> callbacks;
    asio::steady_timer done;  // cancelled when the read completes

    static void fire(State& s) {
      if (s.gone) return;
      s.gone = true;
      auto callbacks = std::move(s.callbacks);
      for (auto& fn : callbacks) fn();
    }
  };
  Connection& conn_;
  std::shared_ptr<State> state_;
};

// A streamed body in HTTP/1.1 chunks.
class ChunkedStreamWriter final : public StreamWriter {
 public:
  ChunkedStreamWriter(Connection& conn, SocketWatch& watch, std::chrono::milliseconds write_timeout)
      : conn_(conn), watch_(watch), write_timeout_(write_timeout) {}

  Awaitable<bool> write(std::string_view data) override {
    if (watch_.client_gone()) co_return false;
    if (data.empty()) co_return true;  // an empty chunk would end the body
    conn_.arm(write_timeout_);
    // One chunk: size in hex, CRLF, data, CRLF, in one gathered write.
    char size_line[24];
    auto [end, conv] = std::to_chars(size_line, size_line + 16, data.size(), 16);
    *end++ = '\r';
    *end++ = '\n';
    const std::array<asio::const_buffer, 3> chunk = {asio::buffer(size_line, static_cast<size_t>(end - size_line)),
                                                     asio::buffer(data.data(), data.size()), asio::buffer("\r\n", 2)};
    auto [ec, n] = co_await asio::async_write(conn_.socket, chunk, kNoThrow);
    conn_.disarm();
    if (ec) watch_.mark_gone();
    bytes_ += data.size();
    co_return !watch_.client_gone();
  }

  bool client_gone() const override { return watch_.client_gone(); }
  void on_client_gone(std::function<void()> fn) override { watch_.on_client_gone(std::move(fn)); }
  size_t bytes() const { return bytes_; }

 private:
  Connection& conn_;
  SocketWatch& watch_;
  std::chrono::milliseconds write_timeout_;
  size_t bytes_ = 0;
};

}  // namespace

struct HttpServer::Impl {
  Impl(ServerOptions o, metrics::Registry& m)
      : options(std::move(o)),
        metrics(m),
        static_files(options.web_root),
        connections_gauge(m.gauge("llmp_http_connections", "Open HTTP connections.")),
        rejected_connections(m.counter("llmp_http_connections_rejected_total",
                                       "Connections refused because max_connections was reached.")) {}

  ServerOptions options;
  metrics::Registry& metrics;
  Router router;
  std::vector<Middleware> middlewares;
  StaticFiles static_files;
  metrics::Gauge& connections_gauge;
  metrics::Counter& rejected_connections;
  std::unordered_map<const Route*, std::unique_ptr<RouteStats>> route_stats;
  std::array<std::unique_ptr<RouteStats>, 8> unmatched_stats;  // by Method

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<tcp::acceptor> acceptor;
  uint16_t bound_port = 0;
  size_t next_context = 0;

  std::atomic<int> state{static_cast<int>(ServerState::starting)};
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> in_flight{0};
  std::mutex drain_mu;
  std::condition_variable drain_cv;

  std::vector<std::function<void()>> at_stop;  // run on every I/O thread by stop()

  // Every live connection, per context, so stop() can close them on their own threads.
  std::vector<std::vector<std::weak_ptr<Connection>>> live;

  ServerState current_state() const { return static_cast<ServerState>(state.load(std::memory_order_acquire)); }

  RouteStats& stats_for(const Route* route, Method method) {
    if (route) return *route_stats.at(route);
    return *unmatched_stats[static_cast<size_t>(method)];
  }

  void prepare_stats() {
    for (const auto& route : router.routes()) {
      auto s = std::make_unique<RouteStats>();
      s->route = route->pattern;
      s->method = std::string(to_string(route->method));
      s->duration = &metrics.histogram("llmp_http_request_duration_seconds",
                                       "Time from a request's first byte read to its response's last byte written.",
                                       metrics::latency_buckets(), {{"route", s->route}, {"method", s->method}});
      route_stats[route.get()] = std::move(s);
    }
    for (size_t m = 0; m < unmatched_stats.size(); ++m) {
      auto s = std::make_unique<RouteStats>();
      s->route = "unmatched";
      s->method = std::string(to_string(static_cast<Method>(m)));
      s->duration = &metrics.histogram("llmp_http_request_duration_seconds",
                                       "Time from a request's first byte read to its response's last byte written.",
                                       metrics::latency_buckets(), {{"route", s->route}, {"method", s->method}});
      unmatched_stats[m] = std::move(s);
    }
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<Connection> conn);
  std::optional<Response> route_request(Request& req, const Route*& route_out);
  asio::awaitable<Response> run_chain(size_t i, Request& req, const Handler& handler);
  asio::awaitable<Response> run_middleware(size_t i, Request& req, const Handler& handler);
  void add_common_headers(const Request& req, Response& res);
};

HttpServer::HttpServer(ServerOptions options, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

HttpServer::~HttpServer() { stop(); }

Router& HttpServer::router() { return impl_->router; }
void HttpServer::use(Middleware middleware) { impl_->middlewares.push_back(std::move(middleware)); }
uint16_t HttpServer::port() const { return impl_->bound_port; }
std::string HttpServer::self_url() const {
  const std::string& host = impl_->options.host;
  if (host.empty() || host == "0.0.0.0" || host == "localhost") return fmt::format("http://127.0.0.1:{}", port());
  if (host == "::") return fmt::format("http://[::1]:{}", port());
  if (host.find(':') != std::string::npos) return fmt::format("http://[{}]:{}", host, port());
  return fmt::format("http://{}:{}", host, port());
}
void HttpServer::set_state(ServerState s) { impl_->state.store(static_cast<int>(s), std::memory_order_release); }
ServerState HttpServer::state() const { return impl_->current_state(); }
int64_t HttpServer::in_flight() const { return impl_->in_flight.load(); }

Result<void> HttpServer::listen() {
  Impl& s = *impl_;
  size_t n_threads = static_cast<size_t>(s.options.io_threads);
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n_threads; ++i) {
    // One thread per context, and a socket's I/O only ever on its context's thread: the
    // reactor's per-socket locking can go (registration and posting stay locked).
    s.contexts.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    s.work.push_back(asio::make_work_guard(*s.contexts.back()));
  }
  s.live.resize(n_threads);

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) return error(StatusCode::invalid_argument, fmt::format("server.host \"{}\" is not an IP address", s.options.host));
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(s.options.port));
  auto acceptor = std::make_unique<tcp::acceptor>(*s.contexts[0]);
  const std::string where = fmt::format("{}:{}", s.options.host, s.options.port);
  if (acceptor->open(endpoint.protocol(), ec); ec) {
    return error(StatusCode::unavailable, fmt::format("cannot open a socket for {}: {}", where, ec.message()));
  }
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor->bind(endpoint, ec); ec) {
    return error(StatusCode::unavailable, fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return error(StatusCode::unavailable, fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  s.bound_port = acceptor->local_endpoint().port();
  s.acceptor = std::move(acceptor);
  return ok();
}

void HttpServer::start() {
  Impl& s = *impl_;
  s.prepare_stats();
  s.metrics.add_collector([&s](std::string& out) {
    out += fmt::format(
        "# HELP llmp_http_requests_in_flight HTTP requests being handled.\n"
        "# TYPE llmp_http_requests_in_flight gauge\nllmp_http_requests_in_flight {}\n",
        s.in_flight.load(std::memory_order_relaxed));
  });
  asio::co_spawn(*s.contexts[0], s.accept_loop(), asio::detached);
  for (auto& ctx : s.contexts) {
    s.threads.emplace_back([ctx = ctx.get()] { ctx->run(); });
  }
}

bool HttpServer::drain(std::chrono::milliseconds deadline) {
  Impl& s = *impl_;
  set_state(ServerState::draining);
  if (s.acceptor) {
    asio::post(*s.contexts[0], [&s] {
      boost::system::error_code ignored;
      s.acceptor->close(ignored);
    });
  }
  std::unique_lock lock(s.drain_mu);
  return s.drain_cv.wait_for(lock, deadline, [&] { return s.in_flight.load() == 0; });
}

void HttpServer::at_stop(std::function<void()> on_each_thread) { impl_->at_stop.push_back(std::move(on_each_thread)); }

void HttpServer::stop() {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  for (size_t i = 0; i < s.contexts.size(); ++i) {
    asio::post(*s.contexts[i], [&s, i] {
      for (const auto& hook : s.at_stop) hook();
      if (i == 0 && s.acceptor) {
        boost::system::error_code ignored;
        s.acceptor->close(ignored);
      }
      for (auto& weak : s.live[i]) {
        if (auto conn = weak.lock()) {
          boost::system::error_code ignored;
          conn->closed = true;
          conn->socket.close(ignored);
          conn->timer.cancel();
        }
      }
    });
  }
  s.work.clear();
  // Sessions see their sockets closed and finish; then each context runs out of work.
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    asio::io_context& target = *contexts[next_context];
    const size_t index = next_context;
    next_context = (next_context + 1) % contexts.size();
    auto [ec, socket] = co_await acceptor->async_accept(target, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(kNoThrow);
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    asio::post(target, [this, conn, index] {
      auto& list = live[index];
      std::erase_if(list, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
      list.push_back(conn);
      asio::co_spawn(*contexts[index], session(conn), asio::detached);
    });
  }
}

// X-Request-ID and X-Trace-ID are written by serialize_head; these are the optional ones.
void HttpServer::Impl::add_common_headers(const Request& req, Response& res) {
  if (!options.cors_allow_origins.empty()) {
    const std::string_view origin = req.headers.get("Origin");
    if (!origin.empty()) {
      for (const auto& allowed : options.cors_allow_origins) {
        if (allowed == "*" || allowed == origin) {
          res.headers.set("Access-Control-Allow-Origin", allowed == "*" ? "*" : std::string(origin));
          res.headers.set("Access-Control-Expose-Headers", "X-Request-ID, X-Trace-ID, Retry-After");
          if (allowed != "*") res.headers.set("Vary", "Origin");
          break;
        }
      }
    }
  }
}

// Not a coroutine itself: with no middleware left, the handler's own awaitable is returned, so
// a plain request runs in one coroutine frame fewer.
asio::awaitable<Response> HttpServer::Impl::run_chain(size_t i, Request& req, const Handler& handler) {
  if (i == middlewares.size()) return handler(req);
  return run_middleware(i, req, handler);
}

asio::awaitable<Response> HttpServer::Impl::run_middleware(size_t i, Request& req, const Handler& handler) {
  // Named, not a temporary in the co_await expression (GCC 12 destroys those twice).
  const Next next = [this, i, &handler](Request& r) { return run_chain(i + 1, r, handler); };
  co_return co_await middlewares[i](req, next);
}

// Finds the route. Returns the answer when no handler is to run (404, 405, static file,
// 503 while starting or draining); nullopt when `route_out`'s handler should run.
std::optional<Response> HttpServer::Impl::route_request(Request& req, const Route*& route_out) {
  auto match = router.match(req.method, req.path);
  const ServerState st = current_state();
  if (!match.route) {
    req.route = "unmatched";
    if (!match.allowed.empty()) {
      if (req.method == Method::options && !options.cors_allow_origins.empty()) {
        Response res;
        res.status = 204;
        res.content_type = {};
        std::string allow;
        for (Method m : match.allowed) allow += std::string(allow.empty() ? "" : ", ") + std::string(to_string(m));
        res.headers.set("Access-Control-Allow-Methods", allow);
        res.headers.set("Access-Control-Allow-Headers",
                        "Authorization, Content-Type, X-Request-ID, X-Tenant-ID, X-Project-ID, traceparent, "
                        "x-routing-strategy, Idempotency-Key");
        res.headers.set("Access-Control-Max-Age", "600");
        return res;
      }
      std::string allow;
      for (Method m : match.allowed) {
        if (!allow.empty()) allow += ", ";
        allow += to_string(m);
        if (m == Method::get) allow += ", HEAD";
      }
      Response res = error_response(405, {.message = fmt::format("method {} is not allowed on {}; allowed: {}",
                                                                 req.method_text, req.path, allow),
                                          .type = "invalid_request_error"});
      res.headers.set("Allow", allow);
      return res;
    }
    const bool api_path = req.path.starts_with("/v1/") || req.path.starts_with("/admin/");
    if ((req.method == Method::get || req.method == Method::head) && !api_path) {
      if (auto file = static_files.serve(req)) return std::move(*file);
    }
    return error_response(404, {.message = fmt::format("no route for {} {}", req.method_text, req.path),
                                   .type = "invalid_request_error"});
  }
  route_out = match.route;
  req.route = match.route->pattern;
  for (auto& [name, raw] : match.params) req.path_params.emplace_back(std::move(name), percent_decode(raw, false));
  if (!match.route->options.always_available && st != ServerState::ready) {
    Response res = error_response(
        503, {.message = st == ServerState::starting ? "the server is starting; retry shortly"
                                                     : "the server is shutting down; retry on another instance",
              .type = "server_error",
              .code = st == ServerState::starting ? "starting" : "draining"});
    res.headers.set("Retry-After", "1");
    return res;
  }
  return std::nullopt;
}

asio::awaitable<void> HttpServer::Impl::session(std::shared_ptr<Connection> conn) {
  struct Count {
    Impl& s;
    explicit Count(Impl& impl) : s(impl) {
      s.connections.fetch_add(1);
      s.connections_gauge.add(1);
    }
    ~Count() {
      s.connections.fetch_sub(1);
      s.connections_gauge.add(-1);
    }
  } count(*this);

  tcp::socket& sock = conn->socket;
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  std::string remote;
  if (auto ep = sock.remote_endpoint(ec); !ec) remote = ep.address().to_string();

  const auto read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
  const auto idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  const auto write_timeout = std::chrono::milliseconds(options.write_timeout_ms);

  auto close = [&] {
    conn->closed = true;
    conn->timer.cancel();
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    sock.close(ignored);
  };

  // Writes a complete response; false when the connection must close.
  std::string head_buf;  // reused for every response on this connection
  Clock::time_point now = Clock::now();  // refreshed at the few points a request needs it
  auto write_simple = [&](Response& res, const RequestContext& ctx, bool keep_alive, bool is_head,
                          unsigned version) -> asio::awaitable<bool> {
    head_buf.clear();
    const bool body_allowed = !has_no_body(res.status);
    serialize_head(head_buf, res, ctx, keep_alive, version, false, res.body.size());
    const std::array<asio::const_buffer, 2> buffers = {
        asio::buffer(head_buf), asio::buffer(res.body.data(), body_allowed && !is_head ? res.body.size() : 0)};
    conn->arm_at(now + write_timeout);
    auto [wec, n] = co_await asio::async_write(sock, buffers, kNoThrow);
    conn->disarm();
    co_return !wec && keep_alive;
  };

  if (connections.load() > options.max_connections) {
    rejected_connections.inc();
    Response res = error_response(503, {.message = "the server is at its connection limit; retry shortly",
                                        .type = "server_error", .code = "too_many_connections"});
    res.headers.set("Retry-After", "1");
    RequestContext ctx{.request_id = ids::new_request_id(), .trace = trace::new_trace()};
    (void)co_await write_simple(res, ctx, false, false, 11);
    close();
    co_return;
  }

  asio::co_spawn(sock.get_executor(), watchdog(conn), asio::detached);
  beast::flat_buffer buffer;
  bool keep_going = true;

  while (keep_going) {
    // Wait for the first byte of the next request under the idle timeout, then give the whole
    // request the read timeout.
    if (buffer.size() == 0) {
      conn->arm_at(now + idle_timeout);
      auto [rec, n] = co_await sock.async_read_some(buffer.prepare(8192), kNoThrow);
      if (rec || n == 0) break;  // closed, reset, idle timeout or stop(): nothing to answer
      buffer.commit(n);
    }
    // The request's clock starts at its first byte.
    const auto started = Clock::now();
    conn->arm_at(started + read_timeout);

    Request req;
    RequestReader parser(req);
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));

    // Answers a request that could not be read, then closes.
    // Callers pass named strings: temporaries in a co_await expression are destroyed twice by
    // GCC 12.
    auto refuse = [&](int status, const std::string& message, std::string_view code) -> asio::awaitable<void> {
      Request bad;
      bad.ctx.request_id = ids::new_request_id();
      bad.ctx.trace = trace::new_trace();
      bad.route = "unmatched";
      Response res = error_response(status, {.message = message, .type = "invalid_request_error", .code = code});
      add_common_headers(bad, res);
      conn->timed_out = false;
      (void)co_await write_simple(res, bad.ctx, false, false, 11);
      // Lingering close: stop sending, then read and drop what the client is still sending for
      // a short while. Closing with unread data would reset the connection, and the client
      // could lose the response before reading it.
      boost::system::error_code ignored;
      sock.shutdown(tcp::socket::shutdown_send, ignored);
      conn->arm(std::chrono::milliseconds(2000));
      std::array<char, 16384> sink;
      for (;;) {
        auto [lec, ln] = co_await sock.async_read_some(asio::buffer(sink), kNoThrow);
        if (lec) break;
      }
      conn->disarm();
      unmatched_stats[static_cast<size_t>(Method::other)]->counter(metrics, status).inc();
      if (options.access_log) {
        log::info("request", {{"request_id", bad.ctx.request_id},
                              {"trace_id", bad.ctx.trace.trace_id},
                              {"method", ""},
                              {"route", "unmatched"},
                              {"status", status},
                              {"error", message},
                              {"remote", remote}});
      }
    };

    // Feed the parser from our own reads rather than through Beast's composed async_read: the
    // composed operation costs more than parsing a small request.
    boost::system::error_code perr;
    bool header_checked = false;
    bool refused = false;
    for (;;) {
      bool need_more = buffer.size() == 0;
      if (!need_more) {
        const size_t used = parser.put(buffer.data(), perr);
        buffer.consume(used);
        if (perr == http::error::need_more) {
          perr = {};
          need_more = true;
        } else if (perr) {
          break;
        }
      }
      if (parser.is_done()) break;
      if (parser.is_header_done() && !header_checked) {
        header_checked = true;
        if (auto len = parser.content_length(); len && *len > static_cast<uint64_t>(options.max_body_bytes)) {
          const std::string message =
              fmt::format("request body of {} bytes exceeds the limit of {} bytes", *len, options.max_body_bytes);
          co_await refuse(413, message, "body_too_large");
          refused = true;
          break;
        }
        if (beast::iequals(req.headers.get("Expect"), "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [cec, cn] = co_await asio::async_write(sock, asio::buffer(kContinue.data(), kContinue.size()), kNoThrow);
          if (cec) {
            perr = cec;
            break;
          }
        }
        parser.eager(true);
        if (!need_more) continue;
      }
      if (!need_more) continue;
      auto [rec, n] = co_await sock.async_read_some(buffer.prepare(16384), kNoThrow);
      if (rec) {
        perr = rec;
        break;
      }
      buffer.commit(n);
    }
    if (refused) break;
    if (perr) {
      std::string message;
      if (conn->timed_out) {
        message = "the request did not arrive within server.read_timeout_ms";
        co_await refuse(408, message, "request_timeout");
      } else if (perr == http::error::header_limit) {
        message = fmt::format("request headers exceed {} bytes", options.max_header_bytes);
        co_await refuse(431, message, "headers_too_large");
      } else if (perr == http::error::body_limit) {
        message = fmt::format("request body exceeds the limit of {} bytes", options.max_body_bytes);
        co_await refuse(413, message, "body_too_large");
      } else if (perr != asio::error::eof && perr != asio::error::connection_reset &&
                 perr != asio::error::operation_aborted && perr != http::error::end_of_stream) {
        message = fmt::format("malformed HTTP request: {}", perr.message());
        co_await refuse(400, message, "bad_request");
      }
      break;  // a client that went away mid-request gets nothing
    }
    conn->disarm();

    // The rest of the request handlers see.
    req.method = parse_method(req.method_text);
    const size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.remote_address = remote;
    const std::string_view given_id = req.headers.get("X-Request-ID");
    req.ctx.request_id = acceptable_request_id(given_id) ? std::string(given_id) : ids::new_request_id();
    if (auto parent = trace::parse_traceparent(req.headers.get("traceparent"))) {
      req.ctx.trace = std::move(*parent);
    } else {
      req.ctx.trace = trace::new_trace();
    }
    req.ctx.span_id = trace::SpanId::random();
    const bool client_keep_alive = parser.keep_alive();
    const unsigned version = parser.version();
    const bool is_head = req.method == Method::head;

    in_flight.fetch_add(1, std::memory_order_relaxed);
    SocketWatch watch(*conn);
    req.client = &watch;
    const Route* route = nullptr;
    Response res;
    try {
      if (auto answered = route_request(req, route)) {
        res = std::move(*answered);
      } else {
        res = co_await run_chain(0, req, route->handler);
      }
    } catch (const std::exception& e) {
      log::error("handler failed", {{"request_id", req.ctx.request_id},
                                    {"trace_id", req.ctx.trace.trace_id},
                                    {"route", req.route},
                                    {"error", e.what()}});
      res = error_response(500, {.message = "internal error; the request id identifies it in the server log",
                                 .type = "server_error"});
    }
    add_common_headers(req, res);
    now = Clock::now();
    const bool draining = current_state() == ServerState::draining;
    const bool keep_alive = client_keep_alive && !draining;

    size_t bytes = 0;
    if (res.stream && !is_head) {
      head_buf.clear();
      serialize_head(head_buf, res, req.ctx, keep_alive, version, true, 0);
      conn->arm(write_timeout);
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(head_buf), kNoThrow);
      conn->disarm();
      bool stream_ok = !wec;
      if (stream_ok) {
        ChunkedStreamWriter writer(*conn, watch, write_timeout);
        watch.start();
        try {
          co_await res.stream(writer);
        } catch (const std::exception& e) {
          log::error("stream producer failed", {{"request_id", req.ctx.request_id}, {"error", e.what()}});
          stream_ok = false;
        }
        const std::string early = co_await watch.stop();
        bytes = writer.bytes();
        if (!writer.client_gone() && stream_ok) {
          conn->arm(write_timeout);
          static constexpr std::string_view kLastChunk = "0\r\n\r\n";
          auto [lec, ln] = co_await asio::async_write(sock, asio::buffer(kLastChunk.data(), kLastChunk.size()), kNoThrow);
          conn->disarm();
          stream_ok = !lec;
        } else {
          stream_ok = false;
        }
        if (!early.empty()) {
          auto dst = buffer.prepare(early.size());
          asio::buffer_copy(dst, asio::buffer(early));
          buffer.commit(early.size());
        }
      }
      keep_going = stream_ok && keep_alive;
    } else {
      // A handler that watched its client: stop before reading the next request, keeping
      // whatever of it the watch already read.
      const std::string early = co_await watch.stop();
      if (!early.empty()) {
        auto dst = buffer.prepare(early.size());
        asio::buffer_copy(dst, asio::buffer(early));
        buffer.commit(early.size());
      }
      bytes = res.body.size();
      if (watch.client_gone()) {
        keep_going = false;  // nobody to answer
      } else {
        keep_going = co_await write_simple(res, req.ctx, keep_alive, is_head, version);
      }
    }
    req.client = nullptr;

    now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - started).count();
    RouteStats& stats = stats_for(route, req.method);
    stats.counter(metrics, res.status).inc();
    stats.duration->observe(seconds, {req.ctx.trace.trace_id, req.ctx.span_id});
    // The last request out wakes a drain whatever `draining` said: a drain that began while
    // this response was being written is waiting for it too, and missed, it slept out its
    // whole deadline (server.drain_timeout_ms, 30 s) after a SIGTERM. Under the mutex, so that
    // a drain between reading in_flight and waiting cannot miss the wake-up.
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(drain_mu);
      drain_cv.notify_all();
    }
    if (options.access_log) {
      log::info("request", {{"request_id", req.ctx.request_id},
                            {"trace_id", req.ctx.trace.trace_id},
                            {"method", req.method_text},
                            {"route", req.route},
                            {"path", req.path},
                            {"status", res.status},
                            {"bytes", static_cast<uint64_t>(bytes)},
                            {"latency_ms", seconds * 1000.0},
                            {"tenant", req.ctx.tenant},
                            {"key_id", req.ctx.key_id},
                            {"model", req.ctx.model},
                            {"remote", remote}});
    }
  }
  close();
}

}  // namespace llmp::net
