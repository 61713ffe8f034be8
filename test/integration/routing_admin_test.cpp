// Upstreams and model routes through the admin API of the real binary: create, read, replace and
// delete; bad fields are refused naming the field; only the platform admin may touch them; an
// upstream's api_key never comes back, in responses or in the audit log; every change is
// audited; routes survive a restart.

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;

namespace {

ServerProcess& routing_server() {
  // No model: the admin API is all these tests need.
  static ServerProcess server({.env = {"LLMP_ENGINE_DEMO_MODEL=false"}});
  return server;
}

std::string admin() { return bearer(routing_server().admin_key()); }

HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& auth) {
  return request(routing_server().port(), method, path, body, {auth});
}

const std::string kUpstream =
    R"({"base_url":"http://127.0.0.1:9/v1","api_key":"sk-routing-secret-1","connect_timeout_ms":1000,)"
    R"("first_byte_timeout_ms":5000,"total_timeout_ms":20000,"max_retries":1})";

const std::string kRoute =
    R"({"strategy":"canary","balance":"lowest_latency","header_strategy":true,"fallbacks":["chat-small"],)"
    R"("deployments":[{"name":"local","kind":"local","model":"demo","weight":9,"labels":["stable"]},)"
    R"({"name":"remote","kind":"upstream","upstream":"rt-openai","model":"gpt-4o-mini","weight":1,"labels":["canary"]}]})";

}  // namespace

TEST_CASE("upstreams and routes are created read replaced and deleted through the admin API") {
  {  // An upstream: created, then its api_key only ever shows as api_key_set.
    auto put = call("PUT", "/admin/v1/upstreams/rt-openai", kUpstream, admin());
    INFO(put.body);
    REQUIRE(put.status == 200);
    CHECK_THAT(put.body, Catch::Contains(R"("object":"upstream","name":"rt-openai","base_url":"http://127.0.0.1:9/v1")"));
    CHECK_THAT(put.body, Catch::Contains(R"("api_key_env":null,"api_key_set":true,"connect_timeout_ms":1000,)"
                                         R"("first_byte_timeout_ms":5000,"total_timeout_ms":20000,"max_retries":1)"));
    CHECK_THAT(put.body, !Catch::Contains("sk-routing-secret"));
    auto by_env = call("PUT", "/admin/v1/upstreams/rt-azure", R"({"base_url":"http://10.0.0.2:8000/v1","api_key_env":"AZ_KEY"})",
                       admin());
    REQUIRE(by_env.status == 200);
    // Defaults for what is left out.
    CHECK_THAT(by_env.body, Catch::Contains(R"("api_key_env":"AZ_KEY","api_key_set":false,"connect_timeout_ms":2000,)"
                                            R"("first_byte_timeout_ms":60000,"total_timeout_ms":600000,"max_retries":2)"));

    auto one = call("GET", "/admin/v1/upstreams/rt-openai", {}, admin());
    REQUIRE(one.status == 200);
    CHECK_THAT(one.body, Catch::Contains(R"("api_key_set":true)"));
    CHECK_THAT(one.body, !Catch::Contains("sk-routing-secret"));
    auto list = call("GET", "/admin/v1/upstreams", {}, admin());
    REQUIRE(list.status == 200);
    CHECK_THAT(list.body, Catch::StartsWith(R"({"object":"list","data":[)"));
    CHECK_THAT(list.body, Catch::EndsWith(R"("has_more":false})"));
    CHECK(list.body.find("\"name\":\"rt-azure\"") < list.body.find("\"name\":\"rt-openai\""));
    CHECK_THAT(list.body, !Catch::Contains("sk-routing-secret"));
    auto paged = call("GET", "/admin/v1/upstreams?limit=1&after=rt-azure", {}, admin());
    REQUIRE(paged.status == 200);
    CHECK(count_of(paged.body, "\"object\":\"upstream\"") == 1);
    CHECK_THAT(paged.body, Catch::Contains("\"name\":\"rt-openai\""));
    CHECK(call("GET", "/admin/v1/upstreams/rt-nothing", {}, admin()).status == 404);
  }

  {  // A route over a local model and the upstream.
    auto put = call("PUT", "/admin/v1/routes/rt-chat", kRoute, admin());
    INFO(put.body);
    REQUIRE(put.status == 200);
    CHECK_THAT(put.body, Catch::Contains(R"("object":"route","alias":"rt-chat","strategy":"canary",)"
                                         R"("balance":"lowest_latency","header_strategy":true,"fallbacks":["chat-small"],)"
                                         R"("deployments":[{"name":"local","kind":"local","upstream":null,"model":"demo",)"
                                         R"("weight":9,"labels":["stable"]},{"name":"remote","kind":"upstream",)"
                                         R"("upstream":"rt-openai","model":"gpt-4o-mini","weight":1,"labels":["canary"]}])"));
    auto one = call("GET", "/admin/v1/routes/rt-chat", {}, admin());
    REQUIRE(one.status == 200);
    CHECK(count_of(one.body, "\"kind\":") == 2);
    auto list = call("GET", "/admin/v1/routes", {}, admin());
    REQUIRE(list.status == 200);
    CHECK_THAT(list.body, Catch::StartsWith(R"({"object":"list","data":[{"object":"route","alias":"rt-chat")"));

    // The upstream is in use: it stays, and the error says by what.
    auto refused = call("DELETE", "/admin/v1/upstreams/rt-openai", {}, admin());
    CHECK(refused.status == 400);
    CHECK_THAT(refused.body, Catch::Contains("rt-chat"));
    CHECK(call("GET", "/admin/v1/upstreams/rt-openai", {}, admin()).status == 200);

    // Replaced whole: one deployment left, defaults for what is not given.
    auto replaced = call("PUT", "/admin/v1/routes/rt-chat",
                         R"({"strategy":"stable","deployments":[{"name":"only","kind":"local","model":"demo","weight":0}]})",
                         admin());
    INFO(replaced.body);
    REQUIRE(replaced.status == 200);
    CHECK_THAT(replaced.body, Catch::Contains(R"("strategy":"stable","balance":"least_outstanding","header_strategy":false,)"
                                              R"("fallbacks":[],"deployments":[{"name":"only")"));
    CHECK(count_of(call("GET", "/admin/v1/routes/rt-chat", {}, admin()).body, "\"kind\":") == 1);

    // Now nothing uses the upstream.
    auto removed = call("DELETE", "/admin/v1/upstreams/rt-openai", {}, admin());
    REQUIRE(removed.status == 200);
    CHECK(removed.body == R"({"id":"rt-openai","object":"upstream.deleted","deleted":true})");
    CHECK(call("GET", "/admin/v1/upstreams/rt-openai", {}, admin()).status == 404);
    CHECK(call("DELETE", "/admin/v1/upstreams/rt-openai", {}, admin()).status == 404);

    auto route_removed = call("DELETE", "/admin/v1/routes/rt-chat", {}, admin());
    REQUIRE(route_removed.status == 200);
    CHECK(route_removed.body == R"({"id":"rt-chat","object":"route.deleted","deleted":true})");
    CHECK(call("GET", "/admin/v1/routes/rt-chat", {}, admin()).status == 404);
    CHECK(call("DELETE", "/admin/v1/routes/rt-chat", {}, admin()).status == 404);
  }

  {  // An alias may hold '/' (sent as %2F) and ':'.
    auto put = call("PUT", "/admin/v1/routes/org%2Fmodel:8b",
                    R"({"deployments":[{"name":"a","kind":"local","model":"org/model:8b"}]})", admin());
    INFO(put.body);
    REQUIRE(put.status == 200);
    CHECK_THAT(put.body, Catch::Contains(R"("alias":"org/model:8b")"));
    CHECK(call("GET", "/admin/v1/routes/org%2Fmodel:8b", {}, admin()).status == 200);
    CHECK(call("DELETE", "/admin/v1/routes/org%2Fmodel:8b", {}, admin()).status == 200);
  }

  {  // Every change is in the audit log, and no api_key is.
    auto upstream_history = call("GET", "/admin/v1/audit?object_type=upstream&object_id=rt-openai", {}, admin());
    REQUIRE(upstream_history.status == 200);
    CHECK(count_of(upstream_history.body, "\"object\":\"audit_entry\"") == 2);
    CHECK_THAT(upstream_history.body, Catch::Contains(R"("actor":"admin","actor_tenant_id":null,"tenant_id":null,)"
                                                      R"("action":"create","object_type":"upstream")"));
    CHECK_THAT(upstream_history.body, Catch::Contains(R"("action":"delete")"));
    CHECK_THAT(upstream_history.body, Catch::Contains(R"("api_key_set":true)"));
    auto route_history = call("GET", "/admin/v1/audit?object_type=route&object_id=rt-chat", {}, admin());
    REQUIRE(route_history.status == 200);
    CHECK(count_of(route_history.body, "\"object\":\"audit_entry\"") == 3);
    CHECK_THAT(route_history.body, Catch::Contains(R"("action":"update")"));
    auto everything = call("GET", "/admin/v1/audit?limit=1000", {}, admin());
    REQUIRE(everything.status == 200);
    CHECK_THAT(everything.body, !Catch::Contains("sk-routing-secret"));
  }
}

TEST_CASE("bad upstream and route fields are refused naming the field") {
  REQUIRE(call("PUT", "/admin/v1/upstreams/rt-valid", R"({"base_url":"http://127.0.0.1:9/v1"})", admin()).status == 200);
  struct Case {
    std::string path, body, param;
  };
  const std::string good_deployment = R"({"name":"a","kind":"local","model":"m"})";
  const std::vector<Case> cases = {
      {"/admin/v1/upstreams/rt-x", R"({})", "base_url"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"https://"})", "base_url"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"ftp://x"})", "base_url"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":7})", "base_url"},
      {"/admin/v1/upstreams/Bad%20Name", R"({"base_url":"http://h/v1"})", "name"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","api_key_env":"1BAD"})", "api_key_env"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","api_key":"a b"})", "api_key"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","api_key":"k","api_key_env":"K"})", "api_key"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","connect_timeout_ms":0})", "connect_timeout_ms"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","first_byte_timeout_ms":"5"})", "first_byte_timeout_ms"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","total_timeout_ms":1000,"first_byte_timeout_ms":2000})",
       "total_timeout_ms"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","max_retries":11})", "max_retries"},
      {"/admin/v1/upstreams/rt-x", R"({"base_url":"http://h/v1","colour":"red"})", "colour"},
      {"/admin/v1/routes/rt-r", R"({"strategy":"random","deployments":[)" + good_deployment + "]}", "strategy"},
      {"/admin/v1/routes/rt-r", R"({"balance":"round_robin","deployments":[)" + good_deployment + "]}", "balance"},
      {"/admin/v1/routes/rt-r", R"({"header_strategy":"yes","deployments":[)" + good_deployment + "]}", "header_strategy"},
      {"/admin/v1/routes/rt-r", R"({"fallbacks":["rt-r"],"deployments":[)" + good_deployment + "]}", "fallbacks"},
      {"/admin/v1/routes/rt-r", R"({"fallbacks":"rt-other","deployments":[)" + good_deployment + "]}", "fallbacks"},
      {"/admin/v1/routes/rt-r", R"({})", "deployments"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[]})", "deployments"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"kind":"local","model":"m"}]})", "deployments[0].name"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[)" + good_deployment + "," + good_deployment + "]}",
       "deployments[1].name"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"remote","model":"m"}]})", "deployments[0].kind"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"upstream","model":"m"}]})",
       "deployments[0].upstream"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"local","upstream":"rt-valid","model":"m"}]})",
       "deployments[0].upstream"},
      {"/admin/v1/routes/rt-r",
       R"({"deployments":[)" + good_deployment + R"(,{"name":"b","kind":"upstream","upstream":"rt-missing","model":"m"}]})",
       "deployments[1].upstream"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"local"}]})", "deployments[0].model"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"local","model":"m","weight":-1}]})",
       "deployments[0].weight"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"local","model":"m","labels":"x"}]})",
       "deployments[0].labels"},
      {"/admin/v1/routes/rt-r", R"({"deployments":[{"name":"a","kind":"local","model":"m","port":1}]})",
       "deployments[0].port"},
      {"/admin/v1/routes/rt-r", R"({"strategy":"canary","deployments":[{"name":"a","kind":"local","model":"m","weight":0}]})",
       "deployments"},
  };
  for (const auto& c : cases) {
    auto res = call("PUT", c.path, c.body, admin());
    INFO(c.path << " " << c.body << " -> " << res.body);
    CHECK(res.status == 400);
    CHECK_THAT(res.body, Catch::Contains(R"("type":"invalid_request_error")"));
    CHECK_THAT(res.body, Catch::Contains("\"param\":\"" + c.param + "\""));
  }
  // Nothing was stored by any of them.
  CHECK(call("GET", "/admin/v1/upstreams/rt-x", {}, admin()).status == 404);
  CHECK(call("GET", "/admin/v1/routes/rt-r", {}, admin()).status == 404);
  auto malformed = call("PUT", "/admin/v1/routes/rt-r", "{", admin());
  CHECK(malformed.status == 400);
  // A stable route may route by labels alone, with every weight 0.
  CHECK(call("PUT", "/admin/v1/routes/rt-r",
             R"({"strategy":"stable","deployments":[{"name":"a","kind":"local","model":"m","weight":0,"labels":["stable"]}]})",
             admin()).status == 200);
}

TEST_CASE("only the platform admin may manage upstreams and routes") {
  auto tenant = call("POST", "/admin/v1/tenants", R"({"name":"routing-acme"})", admin());
  REQUIRE(tenant.status == 201);
  auto key = call("POST", "/admin/v1/tenants/" + string_field(tenant.body, "id") + "/keys",
                  R"({"name":"ops","role":"tenant_admin"})", admin());
  REQUIRE(key.status == 201);
  const std::string ops = bearer(string_field(key.body, "value"));
  REQUIRE(call("PUT", "/admin/v1/upstreams/rt-guarded", R"({"base_url":"http://127.0.0.1:9/v1"})", admin()).status == 200);

  CHECK(call("PUT", "/admin/v1/upstreams/rt-mine", R"({"base_url":"http://127.0.0.1:9/v1"})", ops).status == 403);
  CHECK(call("GET", "/admin/v1/upstreams", {}, ops).status == 403);
  CHECK(call("GET", "/admin/v1/upstreams/rt-guarded", {}, ops).status == 403);
  CHECK(call("DELETE", "/admin/v1/upstreams/rt-guarded", {}, ops).status == 403);
  CHECK(call("PUT", "/admin/v1/routes/rt-mine", R"({"deployments":[{"name":"a","kind":"local","model":"m"}]})", ops)
            .status == 403);
  CHECK(call("GET", "/admin/v1/routes", {}, ops).status == 403);
  CHECK(call("GET", "/admin/v1/routes/rt-mine", {}, ops).status == 403);
  CHECK(call("DELETE", "/admin/v1/routes/rt-mine", {}, ops).status == 403);
  CHECK(call("GET", "/admin/v1/upstreams", {}, "X-No-Auth: 1").status == 401);
  CHECK(call("GET", "/admin/v1/upstreams/rt-guarded", {}, admin()).status == 200);
}

TEST_CASE("routes and upstreams are loaded again after a restart") {
  ServerProcess s({.env = {"LLMP_ENGINE_DEMO_MODEL=false"}});
  const std::string auth = bearer(s.admin_key());
  REQUIRE(request(s.port(), "PUT", "/admin/v1/upstreams/up", R"({"base_url":"http://127.0.0.1:9/v1","api_key":"k-1"})",
                  {auth}).status == 200);
  REQUIRE(request(s.port(), "PUT", "/admin/v1/routes/chat",
                  R"({"deployments":[{"name":"r","kind":"upstream","upstream":"up","model":"m"}]})", {auth})
              .status == 200);
  s.signal(SIGTERM);
  CHECK(s.wait_exit() == 0);
  s.start();  // same data dir
  auto route = request(s.port(), "GET", "/admin/v1/routes/chat", {}, {auth});
  REQUIRE(route.status == 200);
  CHECK_THAT(route.body, Catch::Contains(R"("upstream":"up","model":"m","weight":1)"));
  auto upstream = request(s.port(), "GET", "/admin/v1/upstreams/up", {}, {auth});
  REQUIRE(upstream.status == 200);
  CHECK_THAT(upstream.body, Catch::Contains(R"("api_key_set":true)"));
}
