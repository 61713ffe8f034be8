// Limits on the inference API through the real binary: rules set with /admin/v1/limits are
// enforced per key and tenant (429 in OpenAI's shapes, with Retry-After and the x-ratelimit
// headers), concurrency is released when a stream ends or its client leaves, and the rules
// come back from SQLite after a restart. Spend budgets are charged at /admin/v1/prices.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

int64_t int_field(const std::string& body, const std::string& field) {
  const std::string needle = "\"" + field + "\":";
  const size_t at = body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + needle.size()));
}

// A keyed server over a generated model "m", with helpers for the admin API.
struct LimitServer {
  TempDir models;
  std::unique_ptr<ServerProcess> server;

  explicit LimitServer(std::vector<std::string> env = {}) {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                                "--context", "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    server = std::make_unique<ServerProcess>(
        ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")}, .env = std::move(env), .auth_mode = ""});
  }
  uint16_t port() { return server->port(); }
  std::string admin() { return bearer(server->admin_key()); }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                    std::vector<std::string> headers) {
    return request(port(), method, path, body, headers);
  }

  std::string create_tenant(const std::string& name) { return llmp::test::create_tenant(port(), admin(), name); }

  CreatedKey create_key(const std::string& tenant, const std::string& body) {
    return llmp::test::create_key(port(), admin(), tenant, body);
  }

  std::string put_limit(const std::string& subject, const std::string& kind, int64_t limit) {
    auto res = call("PUT", "/admin/v1/limits",
                    "{\"subject\":\"" + subject + "\",\"kind\":\"" + kind + "\",\"limit\":" + std::to_string(limit) + "}",
                    {admin()});
    INFO(res.body);
    REQUIRE(res.status == 200);
    return string_field(res.body, "id");
  }

  void put_price(const std::string& body) {
    auto res = call("PUT", "/admin/v1/prices", body, {admin()});
    INFO(res.body);
    REQUIRE(res.status == 200);
  }

  HttpResponse complete(const std::string& key, int max_tokens = 2) {
    return call("POST", "/v1/completions",
                R"({"model":"m","prompt":"hello there","max_tokens":)" + std::to_string(max_tokens) + "}",
                {bearer(key)});
  }
};

const std::string kLongStream =
    R"({"model":"m","prompt":"tell me a very long story","max_tokens":3000,"ignore_eos":true,"stream":true})";

std::unique_ptr<Connection> start_stream(uint16_t port, const std::string& key, const std::string& body) {
  auto c = std::make_unique<Connection>(port);
  c->send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  return c;
}

// Tokens a completion counted against the quota: its prompt and what it generated.
int64_t tokens_used(const HttpResponse& res) {
  return int_field(res.body, "prompt_tokens") + int_field(res.body, "completion_tokens");
}

// Polls until a small request of `key` is admitted again.
int status_when_admitted(LimitServer& srv, const std::string& key) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = srv.complete(key).status;
    if (status != 429) break;
    std::this_thread::sleep_for(20ms);
  }
  return status;
}

}  // namespace

TEST_CASE("a key with two requests per minute gets 429 rate_limit_exceeded with Retry-After on the third") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("rpm");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  srv.put_limit("key:" + key.id, "requests_per_minute", 2);
  srv.put_limit("key:" + key.id, "tokens_per_minute", 100000);

  auto first = srv.complete(key.value);
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(first.header("x-ratelimit-limit-requests") == "2");
  CHECK(first.header("x-ratelimit-remaining-requests") == "1");
  CHECK(first.header("x-ratelimit-reset-requests") == "30s");
  CHECK(first.header("x-ratelimit-limit-tokens") == "100000");
  const int64_t tokens_left = std::stoll(first.header("x-ratelimit-remaining-tokens"));
  CHECK(tokens_left < 100000 - 2);
  CHECK(tokens_left > 100000 - 100);
  CHECK_FALSE(first.header("x-ratelimit-reset-tokens").empty());
  CHECK(first.header("RateLimit-Policy") == R"("requests";q=2;w=60, "tokens";q=100000;w=60)");
  CHECK_THAT(first.header("RateLimit"), Catch::StartsWith(R"("requests";r=1;t=30, "tokens";r=)"));

  auto second = srv.complete(key.value);
  REQUIRE(second.status == 200);
  CHECK(second.header("x-ratelimit-remaining-requests") == "0");

  auto third = srv.complete(key.value);
  INFO(third.body);
  CHECK(third.status == 429);
  CHECK_THAT(third.body, Catch::Contains(R"("type":"requests")"));
  CHECK_THAT(third.body, Catch::Contains(R"("code":"rate_limit_exceeded")"));
  CHECK_THAT(third.body, Catch::Contains("requests_per_minute of key:" + key.id));
  REQUIRE_FALSE(third.header("Retry-After").empty());
  const int retry = std::stoi(third.header("Retry-After"));
  CHECK(retry >= 1);
  CHECK(retry <= 30);
  CHECK_FALSE(third.has_header("x-ratelimit-limit-requests"));

  // Another key of the same tenant is not limited by this key's rule.
  const auto other = srv.create_key(tenant, R"({"name":"other"})");
  CHECK(srv.complete(other.value).status == 200);
}

TEST_CASE("a tenant whose tokens_per_day is below prompt plus max_tokens gets 429 insufficient_quota") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("quota");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  srv.put_limit("tenant:" + tenant, "tokens_per_day", 50);

  CHECK(srv.complete(key.value, 2).status == 200);
  auto refused = srv.complete(key.value, 100);
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK_THAT(refused.body, Catch::Contains(R"("type":"insufficient_quota")"));
  CHECK_THAT(refused.body, Catch::Contains(R"("code":"insufficient_quota")"));
  CHECK_THAT(refused.body, Catch::Contains("tokens_per_day of tenant:" + tenant));
  // The window's reset is known: when the UTC day ends.
  REQUIRE_FALSE(refused.header("Retry-After").empty());
  CHECK(std::stoi(refused.header("Retry-After")) <= 86400);
  // A refusal takes nothing: a small request still fits what the first one left.
  CHECK(srv.complete(key.value, 2).status == 200);
}

TEST_CASE("concurrent_requests 1 refuses a second stream until the first finishes or its client leaves") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("conc");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  srv.put_limit("key:" + key.id, "concurrent_requests", 1);

  auto first = start_stream(srv.port(), key.value, kLongStream);
  auto head = first->read_head();
  REQUIRE(head);
  CHECK(head->status == 200);
  REQUIRE_FALSE(first->read_chunk().empty());

  auto second = start_stream(srv.port(), key.value, kLongStream);
  auto refused = second->read_response();
  REQUIRE(refused);
  INFO(refused->body);
  CHECK(refused->status == 429);
  CHECK_THAT(refused->body, Catch::Contains(R"("code":"rate_limit_exceeded")"));
  CHECK_THAT(refused->body, Catch::Contains("concurrent_requests of key:" + key.id));
  second.reset();

  // The client leaves mid-stream: the request is settled and the slot is free again.
  first->close();
  CHECK(status_when_admitted(srv, key.value) == 200);

  // A stream that runs to its end frees the slot too.
  const std::string short_stream = R"({"model":"m","prompt":"hi","max_tokens":3,"stream":true})";
  auto done = srv.call("POST", "/v1/completions", short_stream, {bearer(key.value)});
  INFO(done.body);
  REQUIRE(done.status == 200);
  CHECK_THAT(done.body, Catch::Contains("[DONE]"));
  CHECK(status_when_admitted(srv, key.value) == 200);
}

TEST_CASE("limits survive a restart and deleting one lifts it") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("restart");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  const std::string rule = srv.put_limit("key:" + key.id, "requests_per_minute", 1);
  srv.put_limit("tenant:" + tenant, "tokens_per_month", 1000000);

  srv.server->signal(SIGTERM);
  REQUIRE(srv.server->wait_exit() == 0);
  srv.server->start();

  auto listed = srv.call("GET", "/admin/v1/limits", {}, {srv.admin()});
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains("\"id\":\"" + rule + "\""));
  CHECK_THAT(listed.body, Catch::Contains("\"subject\":\"key:" + key.id + "\""));
  CHECK_THAT(listed.body, Catch::Contains("\"kind\":\"tokens_per_month\""));

  CHECK(srv.complete(key.value).status == 200);
  auto refused = srv.complete(key.value);
  CHECK(refused.status == 429);
  CHECK_THAT(refused.body, Catch::Contains("requests_per_minute of key:" + key.id));

  auto deleted = srv.call("DELETE", "/admin/v1/limits/" + rule, {}, {srv.admin()});
  INFO(deleted.body);
  CHECK(deleted.status == 200);
  CHECK(srv.complete(key.value).status == 200);
  CHECK(srv.call("DELETE", "/admin/v1/limits/" + rule, {}, {srv.admin()}).status == 404);
}

TEST_CASE("the limits admin API validates fields and keeps tenant admins to their own tenant") {
  LimitServer srv;
  const std::string acme = srv.create_tenant("acme");
  const std::string other = srv.create_tenant("other");
  const auto acme_admin = srv.create_key(acme, R"({"name":"boss","role":"tenant_admin"})");
  const auto acme_app = srv.create_key(acme, R"({"name":"app"})");
  const auto other_app = srv.create_key(other, R"({"name":"app"})");

  auto put = [&](const std::string& body, const std::string& key) {
    return srv.call("PUT", "/admin/v1/limits", body, {bearer(key)});
  };
  const std::string admin_key = srv.server->admin_key();
  auto bad_kind = put(R"({"subject":"tenant:)" + acme + R"(","kind":"requests_per_hour","limit":1})", admin_key);
  CHECK(bad_kind.status == 400);
  CHECK_THAT(bad_kind.body, Catch::Contains(R"("param":"kind")"));
  auto bad_subject = put(R"({"subject":"planet:x","kind":"requests_per_minute","limit":1})", admin_key);
  CHECK(bad_subject.status == 400);
  CHECK_THAT(bad_subject.body, Catch::Contains(R"("param":"subject")"));
  auto bad_limit = put(R"({"subject":"tenant:)" + acme + R"(","kind":"requests_per_minute","limit":-1})", admin_key);
  CHECK(bad_limit.status == 400);
  CHECK_THAT(bad_limit.body, Catch::Contains(R"("param":"limit")"));
  auto bad_period =
      put(R"({"subject":"tenant:)" + acme + R"(","kind":"requests_per_minute","limit":1,"period_seconds":60})", admin_key);
  CHECK(bad_period.status == 400);
  CHECK_THAT(bad_period.body, Catch::Contains(R"("param":"period_seconds")"));
  auto missing = put(R"({"subject":"tenant:ten_nope","kind":"requests_per_minute","limit":1})", admin_key);
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Contains(R"("param":"subject")"));

  // A tenant admin limits its own keys; another tenant's are not found; models are the platform's.
  auto own = put(R"({"subject":"key:)" + acme_app.id + R"(","kind":"requests_per_minute","limit":5})", acme_admin.value);
  INFO(own.body);
  CHECK(own.status == 200);
  auto foreign =
      put(R"({"subject":"key:)" + other_app.id + R"(","kind":"requests_per_minute","limit":5})", acme_admin.value);
  CHECK(foreign.status == 404);
  auto model = put(R"({"subject":"model:m","kind":"requests_per_minute","limit":5})", acme_admin.value);
  CHECK(model.status == 403);
  auto app = put(R"({"subject":"key:)" + acme_app.id + R"(","kind":"requests_per_minute","limit":5})", acme_app.value);
  CHECK(app.status == 403);

  // The platform admin's rule on the other tenant is invisible to acme's admin.
  srv.put_limit("tenant:" + other, "requests_per_day", 100);
  auto mine = srv.call("GET", "/admin/v1/limits", {}, {bearer(acme_admin.value)});
  REQUIRE(mine.status == 200);
  CHECK_THAT(mine.body, Catch::Contains(acme_app.id));
  CHECK_THAT(mine.body, !Catch::Contains(other));
  auto all = srv.call("GET", "/admin/v1/limits", {}, {srv.admin()});
  CHECK_THAT(all.body, Catch::Contains(other));
}

TEST_CASE("an open server limits by X-Tenant-ID and skips requests without it") {
  TempDir models;
  auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                              "--context", "4096", "--out", models / "m.gguf"});
  REQUIRE(made.exit_code == 0);
  ServerProcess server(ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")}});
  const std::string admin = bearer(server.admin_key());
  auto tenant = request(server.port(), "POST", "/admin/v1/tenants", R"({"name":"open"})", {admin});
  REQUIRE(tenant.status == 201);
  const std::string id = string_field(tenant.body, "id");
  auto put = request(server.port(), "PUT", "/admin/v1/limits",
                     R"({"subject":"tenant:)" + id + R"(","kind":"requests_per_minute","limit":1})", {admin});
  REQUIRE(put.status == 200);
  const std::string body = R"({"model":"m","prompt":"hi","max_tokens":2})";
  CHECK(request(server.port(), "POST", "/v1/completions", body, {"X-Tenant-ID: " + id}).status == 200);
  CHECK(request(server.port(), "POST", "/v1/completions", body, {"X-Tenant-ID: " + id}).status == 429);
  CHECK(request(server.port(), "POST", "/v1/completions", body).status == 200);
}

TEST_CASE("a tokens_per_day quota partly used keeps what is left across a SIGTERM restart") {
  // Flushes are an hour apart: only the one at shutdown can have written the counter.
  LimitServer srv({"LLMP_GATEWAY_LIMIT_FLUSH_SECONDS=3600"});
  const std::string tenant = srv.create_tenant("durable");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  constexpr int64_t kQuota = 200;
  srv.put_limit("key:" + key.id, "tokens_per_day", kQuota);

  auto first = srv.complete(key.value, 2);
  INFO(first.body);
  REQUIRE(first.status == 200);
  const int64_t prompt = int_field(first.body, "prompt_tokens");
  const int64_t used = tokens_used(first);
  REQUIRE(prompt > 0);
  const int64_t left = kQuota - used;
  REQUIRE(left - prompt > 1);

  srv.server->signal(SIGTERM);
  REQUIRE(srv.server->wait_exit() == 0);
  srv.server->start();

  // One token more than what is left is refused; exactly what is left is admitted.
  auto refused = srv.complete(key.value, static_cast<int>(left - prompt + 1));
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK_THAT(refused.body, Catch::Contains(R"("code":"insufficient_quota")"));
  CHECK_THAT(refused.body, Catch::Contains("tokens_per_day of key:" + key.id));
  auto fits = srv.complete(key.value, static_cast<int>(left - prompt));
  INFO(fits.body);
  CHECK(fits.status == 200);
}

TEST_CASE("after kill -9 a quota loses at most the counting of the last flush interval") {
  LimitServer srv({"LLMP_GATEWAY_LIMIT_FLUSH_SECONDS=1"});
  const std::string tenant = srv.create_tenant("crash");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  constexpr int64_t kQuota = 200;
  srv.put_limit("key:" + key.id, "tokens_per_day", kQuota);

  auto flushed = srv.complete(key.value, 2);
  INFO(flushed.body);
  REQUIRE(flushed.status == 200);
  const int64_t prompt = int_field(flushed.body, "prompt_tokens");
  const int64_t used_flushed = tokens_used(flushed);
  std::this_thread::sleep_for(2500ms);  // two flush intervals: this one is on disk
  auto unflushed = srv.complete(key.value, 2);
  REQUIRE(unflushed.status == 200);
  // At most its reservation (prompt + max_tokens) counts: a flush may have caught it in flight.
  const int64_t used_unflushed = prompt + 2;
  srv.server->signal(SIGKILL);
  srv.server->wait_exit();
  srv.server->start();

  // The flushed request still counts; the last one may or may not have been written.
  const int64_t left_at_most = kQuota - used_flushed;
  const int64_t left_at_least = left_at_most - used_unflushed;
  REQUIRE(left_at_least - prompt > 1);
  auto refused = srv.complete(key.value, static_cast<int>(left_at_most - prompt + 1));
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK_THAT(refused.body, Catch::Contains(R"("code":"insufficient_quota")"));
  auto fits = srv.complete(key.value, static_cast<int>(left_at_least - prompt));
  INFO(fits.body);
  CHECK(fits.status == 200);
}

// Prices: PUT/GET /admin/v1/prices, and spend budgets charged with them.

TEST_CASE("a spend budget on a key admits two priced requests and refuses the third with insufficient_quota") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("spend");
  const auto probe = srv.create_key(tenant, R"({"name":"probe"})");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  // 1 per prompt token, 2 per generated token (cached prompt tokens default to the input price).
  srv.put_price(R"({"model":"m","input_per_million":1000000,"output_per_million":2000000})");
  const std::string body = R"({"model":"m","prompt":"hello there","max_tokens":2,"ignore_eos":true})";
  auto probed = srv.call("POST", "/v1/completions", body, {bearer(probe.value)});
  REQUIRE(probed.status == 200);
  const int64_t prompt = int_field(probed.body, "prompt_tokens");
  REQUIRE(prompt > 0);
  // Each request reserves and costs exactly prompt + 2 x 2: room for two and a half.
  const int64_t cost = prompt + 4;
  srv.put_limit("key:" + key.id, "spend", 2 * cost + cost / 2);

  CHECK(srv.call("POST", "/v1/completions", body, {bearer(key.value)}).status == 200);
  CHECK(srv.call("POST", "/v1/completions", body, {bearer(key.value)}).status == 200);
  auto refused = srv.call("POST", "/v1/completions", body, {bearer(key.value)});
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK_THAT(refused.body, Catch::Contains(R"("code":"insufficient_quota")"));
  CHECK_THAT(refused.body, Catch::Contains("spend of key:" + key.id));
  // The probe key has no budget: a priced model alone refuses nobody.
  CHECK(srv.call("POST", "/v1/completions", body, {bearer(probe.value)}).status == 200);
}

TEST_CASE("spend reserves max_tokens at admission but settles only the tokens generated") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("settle");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  // Prompts are free, each generated token costs 1.
  srv.put_price(R"({"model":"m","input_per_million":0,"output_per_million":1000000})");
  srv.put_limit("key:" + key.id, "spend", 15);
  // Every token id stops the generation: each request generates at most one token.
  std::string stop_ids;
  for (int id = 0; id < 600; ++id) {
    if (id > 0) stop_ids += ',';
    stop_ids += std::to_string(id);
  }
  auto ask = [&](int max_tokens) {
    return srv.call("POST", "/v1/completions",
                    R"({"model":"m","prompt":"hi","max_tokens":)" + std::to_string(max_tokens) +
                        R"(,"stop_token_ids":[)" + stop_ids + "]}",
                    {bearer(key.value)});
  };
  auto first = ask(10);
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(int_field(first.body, "completion_tokens") <= 1);
  // Reserved 10 of 15; had the first been charged its reservation, 10 + 10 would not fit.
  auto second = ask(10);
  INFO(second.body);
  CHECK(second.status == 200);
  // At most 2 spent, but 20 asked for is more than the 13 left: the reservation is max_tokens.
  auto large = ask(20);
  INFO(large.body);
  CHECK(large.status == 429);
  CHECK_THAT(large.body, Catch::Contains(R"("code":"insufficient_quota")"));
  CHECK(ask(10).status == 200);
}

TEST_CASE("the prices admin API validates fields keeps dates and is the platform admin's only") {
  LimitServer srv;
  const std::string acme = srv.create_tenant("acme");
  const auto boss = srv.create_key(acme, R"({"name":"boss","role":"tenant_admin"})");
  auto put = [&](const std::string& body, const std::string& key) {
    return srv.call("PUT", "/admin/v1/prices", body, {bearer(key)});
  };
  const std::string admin_key = srv.server->admin_key();
  auto negative = put(R"({"model":"m","input_per_million":-1,"output_per_million":1})", admin_key);
  CHECK(negative.status == 400);
  CHECK_THAT(negative.body, Catch::Contains(R"("param":"input_per_million")"));
  auto text = put(R"({"model":"m","input_per_million":1,"output_per_million":"2"})", admin_key);
  CHECK(text.status == 400);
  CHECK_THAT(text.body, Catch::Contains(R"("param":"output_per_million")"));
  auto missing = put(R"({"model":"m","input_per_million":1})", admin_key);
  CHECK(missing.status == 400);
  CHECK_THAT(missing.body, Catch::Contains(R"("param":"output_per_million")"));
  auto cached = put(R"({"model":"m","input_per_million":1,"output_per_million":1,"cached_input_per_million":-0.5})",
                    admin_key);
  CHECK(cached.status == 400);
  CHECK_THAT(cached.body, Catch::Contains(R"("param":"cached_input_per_million")"));
  auto no_model = put(R"({"input_per_million":1,"output_per_million":1})", admin_key);
  CHECK(no_model.status == 400);
  CHECK_THAT(no_model.body, Catch::Contains(R"("param":"model")"));
  auto bad_date = put(R"({"model":"m","input_per_million":1,"output_per_million":1,"effective_from":-5})", admin_key);
  CHECK(bad_date.status == 400);
  CHECK_THAT(bad_date.body, Catch::Contains(R"("param":"effective_from")"));
  CHECK(put(R"({"model":"m","input_per_million":1,"output_per_million":1})", boss.value).status == 403);

  // cached_input_per_million defaults to the input price; two dates of one model both stay.
  auto old = put(R"({"model":"m","input_per_million":2.5,"output_per_million":10,"effective_from":1000})", admin_key);
  INFO(old.body);
  REQUIRE(old.status == 200);
  CHECK_THAT(old.body, Catch::Contains(R"("cached_input_per_million":2.5)"));
  CHECK_THAT(old.body, Catch::Contains(R"("effective_from":1000)"));
  REQUIRE(put(R"({"model":"m","input_per_million":3,"output_per_million":12,"cached_input_per_million":0.3})",
              admin_key).status == 200);
  REQUIRE(put(R"({"model":"other","input_per_million":1,"output_per_million":1})", admin_key).status == 200);
  auto listed = srv.call("GET", "/admin/v1/prices?model=m", {}, {srv.admin()});
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains(R"("effective_from":1000)"));
  CHECK_THAT(listed.body, Catch::Contains(R"("cached_input_per_million":0.3)"));
  CHECK_THAT(listed.body, !Catch::Contains("other"));
  auto all = srv.call("GET", "/admin/v1/prices", {}, {srv.admin()});
  CHECK_THAT(all.body, Catch::Contains(R"("model":"other")"));
  CHECK(srv.call("GET", "/admin/v1/prices", {}, {bearer(boss.value)}).status == 403);
}

TEST_CASE("tokenize and the other model helpers count against the request limits") {
  LimitServer srv;
  const std::string tenant = srv.create_tenant("helpers");
  const auto key = srv.create_key(tenant, R"({"name":"app"})");
  srv.put_limit("key:" + key.id, "requests_per_minute", 2);
  auto first = srv.call("POST", "/tokenize", R"({"model":"m","prompt":"hello"})", {bearer(key.value)});
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(srv.call("POST", "/detokenize", R"({"model":"m","tokens":[1,2]})", {bearer(key.value)}).status == 200);
  auto third = srv.call("POST", "/tokenize", R"({"model":"m","prompt":"hello"})", {bearer(key.value)});
  INFO(third.body);
  CHECK(third.status == 429);
  CHECK(third.body.find("rate_limit_exceeded") != std::string::npos);
}
