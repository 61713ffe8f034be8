// The real binary on a loopback port: health, metrics, identity, errors, static files, limits.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/http_client.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

ServerProcess& shared_server() {
  static ServerProcess server({.args = {"--log-level", "info"}});
  return server;
}

}  // namespace

TEST_CASE("healthz and readyz answer") {
  auto& s = shared_server();
  auto health = request(s.port(), "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"ok"})");
  CHECK(health.header("Content-Type") == "application/json");
  auto ready = request(s.port(), "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == R"({"status":"ready","pending":[],"models":[{"id":"demo-random-weights","status":"ready"}]})");
  auto head = request(s.port(), "HEAD", "/healthz");
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "15");
}

TEST_CASE("metrics are valid Prometheus text and count requests") {
  auto& s = shared_server();
  (void)request(s.port(), "GET", "/healthz");
  auto res = request(s.port(), "GET", "/metrics");
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type").starts_with("text/plain; version=0.0.4"));
  CHECK_THAT(res.body, Catch::Contains("llmp_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"}"));
  CHECK_THAT(res.body, Catch::Contains("llmp_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\"+Inf\"}"));
  CHECK_THAT(res.body, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(res.body, Catch::Contains("process_open_fds "));
  CHECK_THAT(res.body, Catch::Contains("process_start_time_seconds "));
  CHECK_THAT(res.body, Catch::Contains("llmp_store_sqlite_bytes "));

  // promtool (Debian package prometheus) is the independent judge of the format.
  TempDir dir;
  std::ofstream(dir / "metrics.txt") << res.body;
  const std::string cmd = "promtool check metrics < " + (dir / "metrics.txt") + " > " + (dir / "promtool.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(read_file(dir / "promtool.out"));
  REQUIRE(WEXITSTATUS(rc) == 0);
}

TEST_CASE("X-Request-ID is echoed or generated, traceparent gives X-Trace-ID, both are logged") {
  auto& s = shared_server();
  auto given = request(s.port(), "GET", "/healthz", {}, {"X-Request-ID: my-req-42",
                       "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  CHECK(given.header("X-Request-ID") == "my-req-42");
  CHECK(given.header("X-Trace-ID") == "4bf92f3577b34da6a3ce929d0e0e4736");
  REQUIRE(s.wait_for_log("\"request_id\":\"my-req-42\"", 5s));
  auto line = *s.wait_for_log("\"request_id\":\"my-req-42\"", 5s);
  CHECK_THAT(line, Catch::Contains("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
  CHECK_THAT(line, Catch::Contains("\"method\":\"GET\""));
  CHECK_THAT(line, Catch::Contains("\"route\":\"/healthz\""));
  CHECK_THAT(line, Catch::Contains("\"status\":200"));
  CHECK_THAT(line, Catch::Contains("\"latency_ms\":"));
  CHECK_THAT(line, Catch::Contains("\"bytes\":15"));

  auto generated = request(s.port(), "GET", "/healthz", {}, {"traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01"});
  CHECK(generated.header("X-Request-ID").starts_with("req_"));
  CHECK(generated.header("X-Trace-ID").size() == 32);
  CHECK(generated.header("X-Trace-ID") != "00000000000000000000000000000000");

  auto bad_id = request(s.port(), "GET", "/healthz", {}, {"X-Request-ID: " + std::string(300, 'x')});
  CHECK(bad_id.header("X-Request-ID").starts_with("req_"));
}

TEST_CASE("unknown routes get 404 and wrong methods 405, in OpenAI's error shape") {
  auto& s = shared_server();
  auto missing = request(s.port(), "GET", "/v1/nope");
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":{"message":"no route for GET /v1/nope","type":"invalid_request_error","param":null,"code":null}})");
  auto wrong = request(s.port(), "DELETE", "/healthz");
  CHECK(wrong.status == 405);
  CHECK(wrong.header("Allow") == "GET, HEAD");
  CHECK_THAT(wrong.body, Catch::Contains("\"type\":\"invalid_request_error\""));
}

TEST_CASE("malformed, deeply nested and non-UTF-8 JSON get 400 naming the byte offset") {
  auto& s = shared_server();
  const std::string auth = "Authorization: Bearer " + s.admin_key();
  auto bad = request(s.port(), "POST", "/admin/v1/tenants", R"({"name": "x",})", {auth});
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("malformed JSON at byte 13: expected a string key"));
  auto deep = request(s.port(), "POST", "/admin/v1/tenants", std::string(5000, '[') + std::string(5000, ']'), {auth});
  CHECK(deep.status == 400);
  CHECK_THAT(deep.body, Catch::Contains("malformed JSON at byte 128: nesting deeper than 128"));
  auto utf8 = request(s.port(), "POST", "/admin/v1/tenants", "{\"name\": \"a\xff\"}", {auth});
  CHECK(utf8.status == 400);
  CHECK_THAT(utf8.body, Catch::Contains("malformed JSON at byte 11: invalid UTF-8"));
  auto not_object = request(s.port(), "POST", "/admin/v1/tenants", "[1]", {auth});
  CHECK(not_object.status == 400);
  auto unknown = request(s.port(), "POST", "/admin/v1/tenants", R"({"nmae":"x"})", {auth});
  CHECK(unknown.status == 400);
  CHECK_THAT(unknown.body, Catch::Contains("\"param\":\"nmae\""));
}

TEST_CASE("oversized bodies get 413 and oversized headers 431") {
  auto& s = shared_server();
  auto big = request(s.port(), "POST", "/admin/v1/tenants", std::string(11 * 1024 * 1024, 'x'));
  CHECK(big.status == 413);
  CHECK_THAT(big.body, Catch::Contains("exceeds the limit of 10485760 bytes"));
  auto headers = request(s.port(), "GET", "/healthz", {}, {"X-Big: " + std::string(20000, 'y')});
  CHECK(headers.status == 431);
  // The server is still fine.
  CHECK(request(s.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("a chunked request body is read") {
  auto& s = shared_server();
  Connection c(s.port());
  c.send("POST /admin/v1/tenants HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"na\r\n0\r\n\r\n");
  auto res = c.read_response();
  REQUIRE(res);
  CHECK(res->status == 401);  // the body arrived whole; the key check answered
}

TEST_CASE("keep-alive serves several requests on one connection, pipelined too") {
  auto& s = shared_server();
  Connection c(s.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto a = c.read_response();
  auto b = c.read_response();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->body == R"({"status":"ok"})");
  CHECK_THAT(b->body, Catch::Contains("ready"));
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_response());
}

TEST_CASE("garbage instead of HTTP gets 400 and a closed connection") {
  auto& s = shared_server();
  Connection c(s.port());
  c.send("HELLO THERE\r\n\r\n");
  auto res = c.read_response();
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(c.closed_by_server(2s));
}

TEST_CASE("slow partial headers get 408 after the read timeout") {
  ServerProcess s({.env = {"LLMP_SERVER_READ_TIMEOUT_MS=300"}});
  Connection c(s.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finished
  auto res = c.read_response(5s);
  REQUIRE(res);
  CHECK(res->status == 408);
  CHECK(c.closed_by_server(2s));
  // An idle keep-alive connection is simply closed after the idle timeout.
  CHECK(request(s.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("connections beyond max_connections get 503") {
  ServerProcess s({.env = {"LLMP_SERVER_MAX_CONNECTIONS=2"}});
  Connection a(s.port()), b(s.port());
  a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  b.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(a.read_response());
  REQUIRE(b.read_response());
  Connection third(s.port());
  auto res = third.read_response(5s);
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->header("Retry-After") == "1");
}

TEST_CASE("static files: index, MIME, ETag, caching headers and no path traversal") {
  TempDir web;
  std::filesystem::create_directories(web / "assets");
  std::ofstream(web / "index.html") << "<!doctype html><title>console</title>";
  std::ofstream(web / "assets/app-1234.js") << "console.log(1)";
  std::ofstream(web / ".secret") << "hidden";
  ServerProcess s({.env = {"LLMP_SERVER_WEB_ROOT=" + web.path()}});

  auto index = request(s.port(), "GET", "/");
  CHECK(index.status == 200);
  CHECK(index.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(index.header("Cache-Control") == "no-cache");
  CHECK(index.body == "<!doctype html><title>console</title>");
  const std::string etag = index.header("ETag");
  REQUIRE_FALSE(etag.empty());
  auto again = request(s.port(), "GET", "/", {}, {"If-None-Match: " + etag});
  CHECK(again.status == 304);

  auto js = request(s.port(), "GET", "/assets/app-1234.js");
  CHECK(js.status == 200);
  CHECK(js.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(js.header("Cache-Control") == "public, max-age=31536000, immutable");

  auto spa = request(s.port(), "GET", "/models/llama");  // a client-side route
  CHECK(spa.status == 200);
  CHECK_THAT(spa.body, Catch::Contains("console"));

  for (const char* evil : {"/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2fetc%2fpasswd",
                           "/.secret", "/assets/%00x.js", "/..%5c..%5cetc%5cpasswd"}) {
    INFO(evil);
    auto res = request(s.port(), "GET", evil);
    CHECK_FALSE(res.body.find("root:") != std::string::npos);
    CHECK_FALSE(res.body.find("hidden") != std::string::npos);
  }
  CHECK(request(s.port(), "GET", "/missing.png").status == 404);
}

TEST_CASE("CORS is off by default and on for configured origins") {
  auto& s = shared_server();
  auto off = request(s.port(), "GET", "/healthz", {}, {"Origin: https://example.com"});
  CHECK_FALSE(off.has_header("Access-Control-Allow-Origin"));

  ServerProcess on({.env = {"LLMP_SERVER_CORS_ALLOW_ORIGINS=https://console.example.com"}});
  auto allowed = request(on.port(), "GET", "/healthz", {}, {"Origin: https://console.example.com"});
  CHECK(allowed.header("Access-Control-Allow-Origin") == "https://console.example.com");
  auto other = request(on.port(), "GET", "/healthz", {}, {"Origin: https://evil.example.com"});
  CHECK_FALSE(other.has_header("Access-Control-Allow-Origin"));
  auto preflight = request(on.port(), "OPTIONS", "/admin/v1/tenants", {},
                           {"Origin: https://console.example.com", "Access-Control-Request-Method: POST"});
  CHECK(preflight.status == 204);
  CHECK_THAT(preflight.header("Access-Control-Allow-Methods"), Catch::Contains("POST"));
}

TEST_CASE("the admin API needs the admin key") {
  auto& s = shared_server();
  auto none = request(s.port(), "GET", "/admin/v1/tenants");
  CHECK(none.status == 401);
  CHECK_THAT(none.body, Catch::Contains("\"code\":\"invalid_api_key\""));
  auto wrong = request(s.port(), "GET", "/admin/v1/tenants", {}, {"Authorization: Bearer not-the-key-at-all"});
  CHECK(wrong.status == 401);
  const std::string key = s.admin_key();
  auto created = request(s.port(), "POST", "/admin/v1/tenants", R"({"name":"acme"})", {"Authorization: Bearer " + key});
  CHECK(created.status == 201);
  auto dup = request(s.port(), "POST", "/admin/v1/tenants", R"({"name":"acme"})", {"Authorization: Bearer " + key});
  CHECK(dup.status == 409);
  auto bad = request(s.port(), "POST", "/admin/v1/tenants", R"({"name":"a b"})", {"Authorization: Bearer " + key});
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("\"param\":\"name\""));
  auto st = std::filesystem::status(s.data_dir() + "/admin.key");
  CHECK((st.permissions() & std::filesystem::perms::group_all) == std::filesystem::perms::none);
  CHECK((st.permissions() & std::filesystem::perms::others_all) == std::filesystem::perms::none);
}
