// The server in-process with routes of the test's own: draining, start-up 503s, middleware,
// streaming and client-gone detection.

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "llmp/net/http_server.h"
#include "net/server_test_support.h"
#include "support/http_client.h"

using namespace llmp;
using namespace llmp::net;
using namespace std::chrono_literals;
using llmp::test::Connection;
using llmp::test::sleep_for;
using llmp::test::test_server_options;

TEST_CASE("drain lets in-flight requests finish and answers new ones 503") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::get, "/slow", [](Request&) -> Awaitable<Response> {
    co_await sleep_for(500ms);
    co_return Response::json(200, R"({"slow":true})");
  });
  server.router().add(Method::get, "/fast", [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);

  Connection slow(server.port());
  slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  Connection kept(server.port());
  kept.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(kept.read_response()->status == 200);
  while (server.in_flight() == 0) std::this_thread::sleep_for(1ms);

  auto drained = std::async(std::launch::async, [&] { return server.drain(5s); });
  std::this_thread::sleep_for(100ms);
  // A new request on a kept-alive connection during the drain: 503 and close.
  kept.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  auto refused = kept.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK_THAT(refused->body, Catch::Contains("\"code\":\"draining\""));
  CHECK(refused->header("Connection") == "close");
  // New connections are not accepted at all.
  bool connected = true;
  try {
    Connection late(server.port());
    late.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    connected = late.read_response(1s).has_value();
  } catch (const std::exception&) {
    connected = false;
  }
  CHECK_FALSE(connected);
  // The in-flight request completes normally.
  auto done = slow.read_response();
  REQUIRE(done);
  CHECK(done->status == 200);
  CHECK(drained.get());
  server.stop();
}

TEST_CASE("drain ends as soon as a request answered just before it began is written") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  // Far more than the loopback socket buffers hold: the write waits for the client to read.
  const std::string big(32 << 20, 'x');
  server.router().add(Method::get, "/big", [&big](Request&) -> Awaitable<Response> {
    co_return Response::text(200, big);
  });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);

  // Answered while ready, so its session decided "not draining" before the drain began.
  Connection client(server.port());
  client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  while (server.in_flight() == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(200ms);  // the handler has returned; the write waits for us
  REQUIRE(server.in_flight() == 1);
  auto drained = std::async(std::launch::async, [&] { return server.drain(10s); });
  std::this_thread::sleep_for(100ms);  // the drain is waiting for this last request
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->body.size() == big.size());
  // The last request out wakes the drain; it used to sleep out its whole deadline (30 s by
  // default) because the request had looked at the state before the drain began.
  REQUIRE(drained.wait_for(3s) == std::future_status::ready);
  CHECK(drained.get());
  server.stop();
}

TEST_CASE("while starting only always-available routes answer") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::get, "/health", [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); },
                      {.always_available = true});
  server.router().add(Method::get, "/work", [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); });
  REQUIRE(server.listen());
  server.start();
  CHECK(test::request(server.port(), "GET", "/health").status == 200);
  auto work = test::request(server.port(), "GET", "/work");
  CHECK(work.status == 503);
  CHECK(work.header("Retry-After") == "1");
  CHECK_THAT(work.body, Catch::Contains("\"code\":\"starting\""));
  server.set_state(ServerState::ready);
  CHECK(test::request(server.port(), "GET", "/work").status == 200);
  server.stop();
}

TEST_CASE("middlewares run in order around the handler and may answer themselves") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.use([](Request& req, const Next& next) -> Awaitable<Response> {
    if (req.headers.get("X-Block") == "1") co_return Response::json(403, R"({"blocked":true})");
    req.ctx.tenant = "t1";
    Response res = co_await next(req);
    res.headers.set("X-Outer", "1");
    co_return res;
  });
  server.use([](Request& req, const Next& next) -> Awaitable<Response> {
    Response res = co_await next(req);
    res.headers.set("X-Inner-Saw-Tenant", req.ctx.tenant);
    co_return res;
  });
  server.router().add(Method::get, "/x", [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);
  auto ok = test::request(server.port(), "GET", "/x");
  CHECK(ok.header("X-Outer") == "1");
  CHECK(ok.header("X-Inner-Saw-Tenant") == "t1");
  CHECK(test::request(server.port(), "GET", "/x", {}, {"X-Block: 1"}).status == 403);
  server.stop();
}

TEST_CASE("server-sent events are flushed one by one and a vanished client is noticed") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  std::atomic<bool> gone_seen{false};
  std::atomic<int> events_after_gone{0};
  server.router().add(Method::get, "/events", [&](Request&) -> Awaitable<Response> {
    co_return Response::sse([&](StreamWriter& w) -> Awaitable<void> {
      w.on_client_gone([&] { gone_seen = true; });
      for (int i = 0; i < 1000; ++i) {
        const std::string data = "{\"i\":" + std::to_string(i) + "}";
        if (!co_await w.sse_event(data)) {
          ++events_after_gone;
          co_return;
        }
        co_await sleep_for(20ms);
      }
    });
  });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);

  {
    Connection c(server.port());
    c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = c.read_head();
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->header("Content-Type") == "text/event-stream");
    CHECK(head->header("Transfer-Encoding") == "chunked");
    // Each event arrives on its own, before the next is produced (20 ms apart).
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.read_chunk() == "data: {\"i\":0}\n\n");
    CHECK(c.read_chunk() == "data: {\"i\":1}\n\n");
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  }  // the client goes away
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!gone_seen && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  CHECK(gone_seen);  // noticed by the watch read, while the producer was sleeping
  server.stop();
}

TEST_CASE("a streamed response is followed by the next request on the same connection") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::get, "/events", [](Request&) -> Awaitable<Response> {
    co_return Response::sse([](StreamWriter& w) -> Awaitable<void> {
      co_await w.sse_event("1");
      co_await w.sse_event("[DONE]");
    });
  });
  server.router().add(Method::get, "/x", [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);
  Connection c(server.port());
  c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");  // pipelined
  auto first = c.read_response();
  REQUIRE(first);
  CHECK(first->body == "data: 1\n\ndata: [DONE]\n\n");
  auto second = c.read_response();
  REQUIRE(second);
  CHECK(second->status == 200);
  server.stop();
}

TEST_CASE("a handler that throws gets a 500 without internals") {
  metrics::Registry reg;
  HttpServer server(test_server_options(), reg);
  server.router().add(Method::get, "/boom", [](Request&) -> Awaitable<Response> {
    throw std::runtime_error("secret detail");
    co_return Response::json(200, "{}");
  });
  REQUIRE(server.listen());
  server.start();
  server.set_state(ServerState::ready);
  auto res = test::request(server.port(), "GET", "/boom");
  CHECK(res.status == 500);
  CHECK_THAT(res.body, !Catch::Contains("secret"));
  CHECK_THAT(res.body, Catch::Contains("\"type\":\"server_error\""));
  server.stop();
}
