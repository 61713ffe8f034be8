// Routing to real upstreams through the real binary: a second process on loopback
// (test/support/fake_upstream.py) answers as an OpenAI-compatible provider or fails on demand
// (refused connections, a slow first byte, 500s, 503s that pass, 429 with Retry-After, a stream
// cut in the middle, a 400). Checked: retries only where safe, failover to the next deployment
// and to fallback aliases, breakers that stop calling a failing deployment, streams passed
// through, Idempotency-Key replays, and tokens billed once however many attempts a request took.

#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

struct Gateway {
  FakeUpstream up;
  TempDir models;
  std::unique_ptr<ServerProcess> server;
  std::string key;

  Gateway() {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600", "--context",
                                "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    server = std::make_unique<ServerProcess>(
        ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")}, .env = {"UPSTREAM_TOKEN=sk-from-env"}, .auth_mode = ""});
    const std::string tenant = create_tenant(server->port(), admin(), "acme");
    const CreatedKey k = create_key(server->port(), admin(), tenant, R"({"name":"app"})");
    key = k.value;
    // 600 tokens a minute refill 10 a second: slow enough to see what each request was billed.
    auto limit = call("PUT", "/admin/v1/limits",
                      R"({"subject":"key:)" + k.id + R"(","kind":"tokens_per_minute","limit":600})",
                      admin());
    INFO(limit.body);
    REQUIRE(limit.status == 200);
  }

  std::string admin() { return "Authorization: Bearer " + server->admin_key(); }
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body, const std::string& auth,
                    std::vector<std::string> extra = {}) {
    extra.push_back(auth);
    return request(server->port(), method, path, body, extra);
  }
  void upstream(const std::string& name, const std::string& path, const std::string& extra = "") {
    const std::string body = R"({"base_url":"http://127.0.0.1:)" + std::to_string(up.port()) + path + "\"" + extra + "}";
    auto res = call("PUT", "/admin/v1/upstreams/" + name, body, admin());
    INFO(res.body);
    REQUIRE(res.status == 200);
  }
  void route(const std::string& alias, const std::string& body) {
    auto res = call("PUT", "/admin/v1/routes/" + alias, body, admin());
    INFO(res.body);
    REQUIRE(res.status == 200);
  }
  HttpResponse chat(const std::string& model, bool stream = false, std::vector<std::string> extra = {}) {
    const std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":5)" +
                             (stream ? R"(,"stream":true)" : "") + "}";
    return call("POST", "/v1/chat/completions", body, "Authorization: Bearer " + key, std::move(extra));
  }
};

std::string one_upstream(const std::string& upstream, const std::string& extra = "") {
  return R"({"deployments":[{"name":"d","kind":"upstream","upstream":")" + upstream + R"(","model":"up-model","weight":1}])" +
         extra + "}";
}

int64_t remaining_tokens(const HttpResponse& r) {
  const std::string v = r.header("x-ratelimit-remaining-tokens");
  return v.empty() ? -1 : std::stoll(v);
}

}  // namespace

TEST_CASE("routed requests reach upstreams with retries failover breakers and single billing") {
  Gateway g;
  g.upstream("good", "/ok/v1", R"(,"api_key_env":"UPSTREAM_TOKEN")");
  g.upstream("flaky", "/flaky2/v1", R"(,"max_retries":2)");
  g.upstream("limited", "/ratelimited/v1", R"(,"max_retries":1)");
  g.upstream("failing", "/fail/v1", R"(,"max_retries":1)");
  g.upstream("broken", "/fail/v1", R"(,"max_retries":0)");
  g.upstream("slow", "/slow/v1", R"(,"first_byte_timeout_ms":500,"max_retries":2)");
  g.upstream("cut", "/cut/v1");
  g.upstream("bad", "/bad/v1");
  {
    const std::string body = R"({"base_url":"http://127.0.0.1:)" + std::to_string(closed_port()) + R"(/v1","max_retries":2})";
    REQUIRE(g.call("PUT", "/admin/v1/upstreams/refused", body, g.admin()).status == 200);
  }
  g.route("r-ok", one_upstream("good"));
  g.route("r-flaky", one_upstream("flaky"));
  g.route("r-limited", one_upstream("limited"));
  g.route("r-fail", one_upstream("failing", R"(,"fallbacks":["r-ok"])"));
  g.route("r-refused", one_upstream("refused", R"(,"fallbacks":["m"])"));
  g.route("r-bad", one_upstream("bad", R"(,"fallbacks":["r-ok"])"));
  g.route("r-cut", one_upstream("cut"));
  g.route("r-slow", R"({"deployments":[{"name":"remote","kind":"upstream","upstream":"slow","model":"x","weight":1},)"
                    R"({"name":"local","kind":"local","model":"m","weight":0}]})");
  g.route("r-broken", R"({"deployments":[{"name":"remote","kind":"upstream","upstream":"broken","model":"x","weight":1},)"
                      R"({"name":"local","kind":"local","model":"m","weight":0}]})");

  SECTION("a healthy upstream answers, with its own token, and the route is reported") {
    auto res = g.chat("r-ok");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(res.body.find("hello from upstream") != std::string::npos);
    CHECK(res.header("x-llmp-route") == "r-ok/d");
    CHECK(g.up.stats().find("\"ok\": \"Bearer sk-from-env\"") != std::string::npos);
  }

  SECTION("503s before the first byte are retried and the request is billed once") {
    auto before = g.chat("r-ok");
    REQUIRE(before.status == 200);
    auto res = g.chat("r-flaky");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(g.up.count("flaky2") == 3);  // two 503s, then the answer
    auto after = g.chat("r-ok");
    REQUIRE(after.status == 200);
    // Each request reserves the same; between two of them the limiter gives back what the
    // earlier one did not use. r-flaky used 12 tokens (the upstream's usage) whatever its
    // attempts; twice-billed it would be 24. The bucket refills 10 tokens a second meanwhile.
    const int64_t drop = remaining_tokens(before) - remaining_tokens(after);
    INFO("remaining before " << remaining_tokens(before) << " after " << remaining_tokens(after));
    CHECK(drop >= 12 - 1 + 12 - 5);  // r-flaky's 12 and r-ok's 12, less a few seconds of refill
    CHECK(drop <= 12 + 12);
  }

  SECTION("a 429 with Retry-After is waited on and retried") {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = g.chat("r-limited");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
    CHECK(g.up.count("ratelimited") == 2);
  }

  SECTION("a failing upstream is retried then the fallback alias answers") {
    auto res = g.chat("r-fail");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(res.header("x-llmp-route") == "r-ok/d");
    CHECK(res.header("x-llmp-fallback-from") == "r-fail");
    CHECK(g.up.count("fail") == 2);
  }

  SECTION("refused connections fall back to a local model") {
    auto res = g.chat("r-refused");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(res.header("x-llmp-route") == "m");
    CHECK(res.header("x-llmp-fallback-from") == "r-refused");
  }

  SECTION("a slow first byte is not retried: the next deployment answers") {
    auto res = g.chat("r-slow");
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(res.header("x-llmp-route") == "r-slow/local");
    CHECK(g.up.count("slow") == 1);
  }

  SECTION("a request error from the upstream is passed on, not failed over") {
    auto res = g.chat("r-bad");
    CHECK(res.status == 400);
    CHECK(res.body.find("bad request upstream") != std::string::npos);
    CHECK(g.up.count("bad") == 1);
  }

  SECTION("the breaker stops calling a deployment that keeps failing") {
    for (int i = 0; i < 8; ++i) {
      auto res = g.chat("r-broken");
      INFO(res.body);
      REQUIRE(res.status == 200);
      CHECK(res.header("x-llmp-route") == "r-broken/local");
    }
    CHECK(g.up.count("fail") == 5);  // the breaker opened after five failures in a row
  }

  SECTION("streams pass through event by event and a cut stream ends with an error event") {
    auto res = g.chat("r-ok", true);
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(res.body.find("\"hello\"") != std::string::npos);
    CHECK(res.body.find("data: [DONE]") != std::string::npos);
    CHECK(res.body.find("\"usage\"") == std::string::npos);  // asked for upstream, not passed on
    auto cut = g.chat("r-cut", true);
    INFO(cut.body);
    REQUIRE(cut.status == 200);
    CHECK(cut.body.find("\" from\"") != std::string::npos);
    CHECK(cut.body.find("upstream_stream_cut") != std::string::npos);
    CHECK(cut.body.find("[DONE]") == std::string::npos);
  }

  SECTION("an Idempotency-Key replays the first answer without calling or billing again") {
    auto first = g.chat("r-ok", false, {"Idempotency-Key: order-42"});
    REQUIRE(first.status == 200);
    const int64_t calls = g.up.count("ok");
    auto again = g.chat("r-ok", false, {"Idempotency-Key: order-42"});
    REQUIRE(again.status == 200);
    CHECK(again.header("Idempotent-Replayed") == "true");
    CHECK(again.body == first.body);
    CHECK(g.up.count("ok") == calls);
    auto other = g.call("POST", "/v1/chat/completions", R"({"model":"r-ok","messages":[{"role":"user","content":"other"}]})",
                        "Authorization: Bearer " + g.key, {"Idempotency-Key: order-42"});
    CHECK(other.status == 400);
  }
}

TEST_CASE("a server that called upstreams stops at once on SIGTERM") {
  Gateway g;
  g.upstream("good", "/ok/v1", R"(,"api_key_env":"UPSTREAM_TOKEN")");
  g.route("r-ok", one_upstream("good"));
  for (int i = 0; i < 3; ++i) REQUIRE(g.chat("r-ok").status == 200);
  // Its pooled upstream connections kept their last deadline (first_byte_timeout, 60 s) pending,
  // which held the I/O threads, and the exit, that long. And a SIGTERM that came while the last
  // response was still being written slept out drain_timeout_ms (30 s): see test/net's
  // "drain ends as soon as a request answered just before it began is written".
  const auto asked = std::chrono::steady_clock::now();
  g.server->signal(SIGTERM);
  CHECK(g.server->wait_exit(90s) == 0);
  CHECK(std::chrono::steady_clock::now() - asked < 10s);
}
