// The HTTP client against real loopback servers: our own HttpServer where a well-behaved peer
// is wanted, and a scripted raw TCP server (blocking, one thread per connection) for failures
// the server would never produce: silence, delays, cut streams, garbage.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <functional>
#include <thread>
#include <vector>

#include "llmp/net/http_client.h"
#include "llmp/net/http_server.h"
#include "net/client_test_support.h"
#include "net/server_test_support.h"

using namespace llmp;
using namespace llmp::net;
using namespace llmp::net::test;
using llmp::test::sleep_for;
using llmp::test::test_server_options;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// One accepted connection of the raw server, with blocking reads bounded by a timeout.
class Peer {
 public:
  Peer(tcp::socket s, int index) : socket_(std::move(s)), index_(index) {}
  int index() const { return index_; }

  //! One request (head and Content-Length body); empty when the client closed first or
  //! nothing came for 5 s.
  std::string read_request() {
    for (int reads = 0; reads < 10000; ++reads) {
      if (auto request = take_request(buf_)) return std::move(*request);
      if (!read_more(5000)) return {};
    }
    return {};
  }
  void write(std::string_view data) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data.data(), data.size()), ec);
  }
  //! Waits up to 5 s for the client to close its side; true when it did.
  bool wait_closed() {
    for (int reads = 0; reads < 10000; ++reads) {
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      char tmp[4096];
      boost::system::error_code ec;
      socket_.read_some(asio::buffer(tmp), ec);
      if (ec) return true;
    }
    return false;
  }
  void close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  bool read_more(int timeout_ms) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char tmp[4096];
    boost::system::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(tmp), ec);
    if (ec) return false;
    buf_.append(tmp, n);
    return true;
  }

  tcp::socket socket_;
  int index_;
  std::string buf_;
};

// A loopback TCP server that runs `script` on each accepted connection (numbered from 0).
class RawServer {
 public:
  using Script = std::function<void(Peer&)>;
  explicit RawServer(Script script) : script_(std::move(script)) {}
  uint16_t port() const { return acceptor_.port(); }
  int accepted() const { return acceptor_.accepted(); }
  std::string url(std::string_view path = "/") const { return fmt::format("http://127.0.0.1:{}{}", port(), path); }

 private:
  Script script_;
  LoopbackAcceptor acceptor_{[this](tcp::socket s, int index) {
    Peer peer(std::move(s), index);
    script_(peer);
  }};
};

}  // namespace

TEST_CASE("a request to our own server gets its status headers and body") {
  IoThread io;
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::post, "/echo", [](Request& req) -> Awaitable<Response> {
    Response res = Response::json(201, req.body);
    res.headers.set("X-Query", req.query);
    res.headers.set("X-Got", std::string(req.headers.get("X-Custom")));
    co_return res;
  });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);
  {
    HttpClient client(io.executor(), test_client_options());
    ClientRequest req;
    req.method = Method::post;
    req.url = fmt::format("http://127.0.0.1:{}/echo?a=1&b=2", server.port());
    req.headers.add("X-Custom", "yes");
    req.headers.add("Content-Type", "application/json");
    req.body = R"({"hello":"world"})";
    auto res = io.run(client.request(std::move(req)));
    REQUIRE(res);
    CHECK(res->status == 201);
    CHECK(res->body == R"({"hello":"world"})");
    CHECK(res->headers.get("X-Query") == "a=1&b=2");
    CHECK(res->headers.get("X-Got") == "yes");
    CHECK(res->headers.get("content-type") == "application/json");
  }
  server.stop();
}

TEST_CASE("an SSE stream from our own server passes through event by event") {
  IoThread io;
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::get, "/events", [](Request&) -> Awaitable<Response> {
    co_return Response::sse([](StreamWriter& w) -> Awaitable<void> {
      for (int i = 0; i < 3; ++i) {
        const std::string data = "{\"i\":" + std::to_string(i) + "}";
        co_await w.sse_event(data);
        co_await sleep_for(100ms);
      }
      co_await w.sse_event("[DONE]");
    });
  });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);
  {
    HttpClient client(io.executor(), test_client_options());
    auto log = io.run(stream_all(client, get(fmt::format("http://127.0.0.1:{}/events", server.port()))));
    CHECK_FALSE(log.error);
    CHECK(log.status == 200);
    REQUIRE(log.pieces.size() == 4);  // one chunk per event: they are 100 ms apart
    CHECK(log.pieces[0] == "data: {\"i\":0}\n\n");
    CHECK(log.pieces[3] == "data: [DONE]\n\n");
    CHECK(log.at_ms[2] - log.at_ms[0] >= 150);
  }
  server.stop();
}

TEST_CASE("kept-alive connections are reused for later requests") {
  IoThread io;
  RawServer server([](Peer& p) {
    for (int i = 0; i < 100; ++i) {
      if (p.read_request().empty()) return;
      p.write(kOk);
    }
  });
  HttpClient client(io.executor(), test_client_options());
  for (int i = 0; i < 5; ++i) {
    auto res = io.run(client.request(get(server.url("/x"))));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "ok");
  }
  CHECK(server.accepted() == 1);
  // A streamed response read to its end frees its connection too.
  auto log = io.run(stream_all(client, get(server.url("/y"))));
  CHECK(joined(log) == "ok");
  auto again = io.run(client.request(get(server.url("/z"))));
  REQUIRE(again);
  CHECK(server.accepted() == 1);
}

TEST_CASE("a chunked stream arrives piece by piece as the server writes it") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    p.write("7\r\ndata: 1\r\n");
    sleep_ms(300);
    p.write("7\r\ndata: 2\r\n");
    sleep_ms(300);
    p.write("0\r\n\r\n");
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto log = io.run(stream_all(client, get(server.url("/stream"))));
  CHECK_FALSE(log.error);
  CHECK(log.status == 200);
  REQUIRE(log.pieces.size() == 2);
  CHECK(log.pieces[0] == "data: 1");
  CHECK(log.pieces[1] == "data: 2");
  CHECK(log.at_ms[0] < 200);   // the first piece did not wait for the second
  CHECK(log.at_ms[1] >= 250);  // and the second came when written
}

TEST_CASE("a content-length body can be streamed to its end") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
    sleep_ms(100);
    p.write("world");
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto log = io.run(stream_all(client, get(server.url())));
  CHECK_FALSE(log.error);
  CHECK(log.pieces.size() == 2);
  CHECK(joined(log) == "helloworld");
}

TEST_CASE("a refused connection is connect_refused and safe to retry") {
  IoThread io;
  uint16_t port = 0;
  {
    asio::io_context ctx;
    tcp::acceptor a(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get(fmt::format("http://127.0.0.1:{}/", port))));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::connect_refused);
  CHECK(safe_to_retry(kind_of(res.error())));
  CHECK(res.error().retryable());
  CHECK(res.error().code() == StatusCode::unavailable);
}

TEST_CASE("a connect that never completes is a connect timeout") {
  IoThread io;
  // A listener with a full accept queue that never accepts: further SYNs are dropped, so a
  // connect hangs on loopback.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 0) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int f = ::socket(AF_INET, SOCK_STREAM, 0);
    ::fcntl(f, F_SETFL, O_NONBLOCK);
    (void)::connect(f, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(f);
  }
  sleep_ms(50);
  {
    HttpClient client(io.executor(), test_client_options());
    ClientRequest req = get(fmt::format("http://127.0.0.1:{}/", ntohs(addr.sin_port)));
    req.connect_timeout = 300ms;
    const auto t0 = Clock::now();
    auto res = io.run(client.request(std::move(req)));
    const auto took = Clock::now() - t0;
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == ClientErrorKind::connect_timeout);
    CHECK(safe_to_retry(ClientErrorKind::connect_timeout));
    CHECK(res.error().code() == StatusCode::deadline_exceeded);
    CHECK(took >= 250ms);
    CHECK(took < 2000ms);
  }
  for (int f : fillers) ::close(f);
  ::close(listener);
}

TEST_CASE("a server that never answers hits the first-byte timeout") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.wait_closed();  // silence until the client gives up
  });
  HttpClient client(io.executor(), test_client_options());  // first byte: 5 s by default
  ClientRequest req = get(server.url());
  req.first_byte_timeout = 200ms;  // overridden for this request
  const auto t0 = Clock::now();
  auto res = io.run(client.request(std::move(req)));
  const auto took = Clock::now() - t0;
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::first_byte_timeout);
  CHECK_FALSE(safe_to_retry(kind_of(res.error())));
  CHECK_THAT(res.error().message(), Catch::Contains(server.url()));
  CHECK(took >= 180ms);
  CHECK(took < 2000ms);
}

TEST_CASE("a body that trickles past the total timeout is a total timeout") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    for (int i = 0; i < 20; ++i) {
      p.write("x");
      sleep_ms(100);
    }
    p.wait_closed();
  });
  ClientOptions o = test_client_options();
  o.total_timeout = 400ms;
  HttpClient client(io.executor(), o);
  const auto t0 = Clock::now();
  auto res = io.run(client.request(get(server.url())));
  const auto took = Clock::now() - t0;
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::total_timeout);
  CHECK(took >= 350ms);
  CHECK(took < 1500ms);

  // A stream is held to the total timeout too, after its headers came.
  auto log = io.run(stream_all(client, get(server.url())));
  CHECK(log.status == 200);
  CHECK_FALSE(log.pieces.empty());
  REQUIRE(log.error);
  CHECK(kind_of(*log.error) == ClientErrorKind::total_timeout);
}

TEST_CASE("a stream cut before its last chunk is an error not an end") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    sleep_ms(50);
    p.write("8\r\npart");  // a chunk of 8 bytes, of which 4 come
    sleep_ms(50);
    p.close();
  });
  HttpClient client(io.executor(), test_client_options());
  auto log = io.run(stream_all(client, get(server.url())));
  CHECK(log.status == 200);
  CHECK(joined(log) == "hellopart");  // what came is passed on; the end is not faked
  REQUIRE(log.error);
  CHECK(kind_of(*log.error) == ClientErrorKind::closed_mid_body);

  // The buffered call reports it the same way.
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::closed_mid_body);
}

TEST_CASE("a content-length body cut short is an error") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    p.close();
  });
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::closed_mid_body);
}

TEST_CASE("a body without length ends cleanly when the server closes") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    p.close();
  });
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get(server.url())));
  REQUIRE(res);
  CHECK(res->body == "until the end");
}

TEST_CASE("a body over the limit is body_too_large") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    if (p.index() == 0) {
      p.write("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
      p.write(std::string(5000, 'a'));
    } else {
      p.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < 3; ++i) p.write("258\r\n" + std::string(600, 'b') + "\r\n");
      p.write("0\r\n\r\n");
    }
    p.wait_closed();
  });
  ClientOptions o = test_client_options();
  o.max_response_body_bytes = 1000;
  HttpClient client(io.executor(), o);
  auto declared = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(declared);
  CHECK(kind_of(declared.error()) == ClientErrorKind::body_too_large);
  CHECK(declared.error().code() == StatusCode::resource_exhausted);
  auto chunked = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(chunked);
  CHECK(kind_of(chunked.error()) == ClientErrorKind::body_too_large);
}

TEST_CASE("a pooled connection the server closed while idle is replaced") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write(kOk);
    if (p.index() == 0) {
      p.close();  // the server's idle timeout, right away
      return;
    }
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto first = io.run(client.request(get(server.url())));
  REQUIRE(first);
  sleep_ms(100);  // the close reaches the client's idle connection
  auto second = io.run(client.request(get(server.url())));
  REQUIRE(second);
  CHECK(second->body == "ok");
  CHECK(server.accepted() == 2);
}

TEST_CASE("a pooled connection that dies on reuse is retried once on a fresh one") {
  IoThread io;
  std::atomic<int> requests_seen{0};
  RawServer server([&](Peer& p) {
    if (p.index() == 0) {
      if (p.read_request().empty()) return;
      ++requests_seen;
      p.write(kOk);
      if (p.read_request().empty()) return;  // the reuse: read, then drop it unanswered
      ++requests_seen;
      p.close();
      return;
    }
    if (p.read_request().empty()) return;
    ++requests_seen;
    p.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh");
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto first = io.run(client.request(get(server.url())));
  REQUIRE(first);
  auto second = io.run(client.request(get(server.url())));
  REQUIRE(second);
  CHECK(second->body == "fresh");
  CHECK(server.accepted() == 2);
  CHECK(requests_seen == 3);
}

TEST_CASE("a fresh connection closed before the headers is closed_before_headers") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.close();
  });
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::closed_before_headers);
  CHECK_FALSE(safe_to_retry(kind_of(res.error())));
  CHECK(server.accepted() == 1);  // not retried: the connection was not a pooled one
}

TEST_CASE("a malformed response is malformed_response") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HELLO THERE\r\n\r\n");
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::malformed_response);
  CHECK_FALSE(res.error().retryable());
}

TEST_CASE("429 with Retry-After and 500 come back as responses") {
  IoThread io;
  RawServer server([](Peer& p) {
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}");
    if (p.read_request().empty()) return;
    p.write("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto limited = io.run(client.request(get(server.url())));
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(retry_after(limited->headers) == std::chrono::seconds(7));
  auto failed = io.run(client.request(get(server.url())));
  REQUIRE(failed);
  CHECK(failed->status == 500);
  CHECK(failed->body == "oops");
  CHECK_FALSE(retry_after(failed->headers));
  CHECK(server.accepted() == 1);
}

TEST_CASE("bad URLs are refused before connecting") {
  IoThread io;
  HttpClient client(io.executor(), test_client_options());
  for (const char* bad : {"ftp://x/", "http://", "http://host:99999/", "http://a b/", "http://u:p@host/", "https://",
                          "https://host:0/", "httpx://host/"}) {
    auto res = io.run(client.request(get(bad)));
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == ClientErrorKind::invalid_request);
  }
  ClientRequest bad_header = get("http://127.0.0.1:1/");
  bad_header.headers.add("X-Evil", "a\r\nInjected: 1");
  auto res = io.run(client.request(std::move(bad_header)));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::invalid_request);
}

TEST_CASE("destroying a stream mid-body closes its connection") {
  IoThread io;
  std::atomic<bool> saw_close{false};
  RawServer server([&](Peer& p) {
    if (p.read_request().empty()) return;
    if (p.index() == 0) {
      p.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
      saw_close = p.wait_closed();
      return;
    }
    p.write(kOk);
    p.wait_closed();
  });
  HttpClient client(io.executor(), test_client_options());
  auto first_piece = io.run([&]() -> Awaitable<std::string> {
    auto open_op = client.open(get(server.url()));
    auto stream = co_await std::move(open_op);
    if (!stream) co_return "open failed";
    auto next_op = stream->next();
    auto piece = co_await std::move(next_op);
    co_return piece && *piece ? **piece : "no piece";
  }());  // the stream is gone here, its body unfinished
  CHECK(first_piece == "first");
  for (int i = 0; i < 200 && !saw_close; ++i) sleep_ms(10);
  CHECK(saw_close);
  auto next = io.run(client.request(get(server.url())));
  REQUIRE(next);
  CHECK(server.accepted() == 2);  // the abandoned connection was not pooled
}

TEST_CASE("kind_of survives with_context and ignores other errors") {
  IoThread io;
  HttpClient client(io.executor(), test_client_options());
  auto res = io.run(client.request(get("http://127.0.0.1:1/")));
  REQUIRE_FALSE(res);
  const Status wrapped = res.error().with_context("calling provider openai");
  CHECK(kind_of(wrapped) == kind_of(res.error()));
  CHECK(kind_of(Status(StatusCode::internal, "something else")) == ClientErrorKind::other);
  CHECK(kind_of(Status()) == ClientErrorKind::other);
  CHECK(to_string(ClientErrorKind::first_byte_timeout) == "first_byte_timeout");
  // An empty stream (a member waiting for open()) says so instead of pretending to end.
  const bool empty_fails = io.run([]() -> Awaitable<bool> {
    ClientStream empty;
    auto next_op = empty.next();
    auto piece = co_await std::move(next_op);
    co_return !piece.has_value();
  }());
  CHECK(empty_fails);
}
