// The model registry through the real binary: import a generated model version over the admin
// API, load it while another model serves a steady stream of requests (none of which may fail),
// call it, refuse to delete it while loaded, unload it, delete it; a tampered weight file refused
// on load naming the file; a load past the memory budget refused saying what is short; every
// step in the audit log.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

using namespace llmp::test;

namespace {

std::string make_model(const TempDir& dir, const std::string& name, int seed) {
  const std::string path = dir / name;
  auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                              "--context", "256", "--seed", std::to_string(seed), "--out", path});
  REQUIRE(made.exit_code == 0);
  return path;
}

std::string chat_body(const std::string& model) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"temperature":0})";
}

struct Registry {
  TempDir dir;
  std::string other, tiny;
  std::unique_ptr<ServerProcess> server;
  explicit Registry(std::vector<std::string> env = {}) {
    other = make_model(dir, "other.gguf", 7);
    tiny = make_model(dir, "tiny.gguf", 11);
    env.push_back("LLMP_ENGINE_DEMO_MODEL=false");
    server = std::make_unique<ServerProcess>(ServerProcess::Options{.args = {"--model", "other=" + other}, .env = env});
  }
  HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = {}) {
    return request(server->port(), method, path, body, {"Authorization: Bearer " + server->admin_key()});
  }
  HttpResponse chat(const std::string& model) {
    return request(server->port(), "POST", "/v1/chat/completions", chat_body(model), {"Content-Type: application/json"});
  }
  HttpResponse import(const std::string& source, const std::string& version) {
    return admin("POST", "/admin/v1/models",
                 R"({"source":")" + source + R"(","org":"acme","model":"tiny","version":")" + version + R"("})");
  }
};

}  // namespace

TEST_CASE("a registry version is imported loaded served unloaded and deleted with no failed request for another model") {
  Registry r;
  auto imported = r.import(r.tiny, "1");
  INFO(imported.body);
  REQUIRE(imported.status == 201);
  CHECK_THAT(imported.body, Catch::Contains(R"("id":"acme/tiny:1")"));
  CHECK_THAT(imported.body, Catch::Contains(R"("sha256":")"));
  CHECK_THAT(imported.body, Catch::Contains(R"("architecture":"llama")"));
  CHECK(r.import(r.tiny, "1").status == 409);  // versions are immutable

  auto listed = r.admin("GET", "/admin/v1/models");
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains(R"("id":"acme/tiny:1")"));
  CHECK(r.chat("acme/tiny:1").status == 404);  // imported, not loaded

  // Another model serves requests without pause while the version loads and unloads.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::thread traffic([&] {
    while (!stop.load()) {
      auto res = r.chat("other");
      ++sent;
      if (res.status != 200) ++failed;
    }
  });

  auto loaded = r.admin("POST", "/admin/v1/models/acme/tiny/1/load");
  INFO(loaded.body);
  REQUIRE(loaded.status == 200);
  CHECK_THAT(loaded.body, Catch::Contains(R"("state":"ready")"));
  CHECK(request(r.server->port(), "GET", "/readyz?model=acme%2Ftiny%3A1").status == 200);
  CHECK_THAT(request(r.server->port(), "GET", "/readyz").body, Catch::Contains(R"("id":"acme/tiny:1","status":"ready")"));
  const std::string models = request(r.server->port(), "GET", "/v1/models").body;
  CHECK_THAT(models, Catch::Contains(R"("id":"acme/tiny:1")"));
  CHECK_THAT(models, Catch::Contains(R"("status":"ready","version":"acme/tiny:1")"));
  CHECK(r.chat("acme/tiny:1").status == 200);
  CHECK(r.admin("POST", "/admin/v1/models/acme/tiny/1/load").status == 409);  // already loaded

  auto refused = r.admin("DELETE", "/admin/v1/models/acme/tiny/1");
  CHECK(refused.status == 400);  // in use
  CHECK_THAT(refused.body, Catch::Contains("in use"));

  auto unloaded = r.admin("POST", "/admin/v1/models/acme/tiny/1/unload");
  INFO(unloaded.body);
  REQUIRE(unloaded.status == 200);
  CHECK(r.chat("acme/tiny:1").status == 404);
  CHECK(request(r.server->port(), "GET", "/readyz?model=acme%2Ftiny%3A1").status == 503);

  // Load and unload once more under the traffic, then stop it.
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/1/load").status == 200);
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/1/unload").status == 200);
  stop = true;
  traffic.join();
  CHECK(sent.load() > 5);
  CHECK(failed.load() == 0);

  auto deleted = r.admin("DELETE", "/admin/v1/models/acme/tiny/1");
  INFO(deleted.body);
  CHECK(deleted.status == 200);
  CHECK(r.admin("GET", "/admin/v1/models/acme/tiny/1").status == 404);

  auto audit = r.admin("GET", "/admin/v1/audit?object_type=model_load");
  REQUIRE(audit.status == 200);
  CHECK_THAT(audit.body, Catch::Contains(R"("object_id":"acme/tiny:1")"));
  auto versions = r.admin("GET", "/admin/v1/audit?object_type=model_version");
  REQUIRE(versions.status == 200);
  CHECK_THAT(versions.body, Catch::Contains(R"("action":"create")"));
  CHECK_THAT(versions.body, Catch::Contains(R"("action":"delete")"));
}

TEST_CASE("a tampered weight file is refused on load naming the file") {
  Registry r;
  auto imported = r.import(r.tiny, "2");
  REQUIRE(imported.status == 201);
  const std::string file = string_field(imported.body, "path");
  REQUIRE_FALSE(file.empty());
  const auto stored = std::filesystem::path(r.server->data_dir()) / "models" / "acme" / "tiny" / "2" / file;
  REQUIRE(std::filesystem::exists(stored));
  {
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-100, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-100, std::ios::end);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto loaded = r.admin("POST", "/admin/v1/models/acme/tiny/2/load");
  INFO(loaded.body);
  CHECK(loaded.status == 400);
  CHECK_THAT(loaded.body, Catch::Contains("refusing to load acme/tiny:2"));
  CHECK_THAT(loaded.body, Catch::Contains(file));
  CHECK_THAT(loaded.body, Catch::Contains("sha256"));
  CHECK(r.chat("acme/tiny:2").status == 404);
  CHECK(r.chat("other").status == 200);
}

TEST_CASE("a load past the memory budget is refused saying what is short") {
  Registry r({"LLMP_REGISTRY_MEMORY_BUDGET_MIB=1"});
  REQUIRE(r.import(r.tiny, "3").status == 201);
  auto loaded = r.admin("POST", "/admin/v1/models/acme/tiny/3/load");
  INFO(loaded.body);
  CHECK(loaded.status == 429);
  CHECK_THAT(loaded.body, Catch::Contains("budget"));
  auto states = r.admin("GET", "/admin/v1/loaded-models");
  REQUIRE(states.status == 200);
  CHECK_THAT(states.body, Catch::Contains(R"("memory_budget_bytes":1048576,"memory_in_use_bytes":0)"));
}

TEST_CASE("llmplatform model import puts a version in the repository a server loads") {
  TempDir dir;
  const std::string model = make_model(dir, "cli.gguf", 5);
  const std::string data = dir / "data";
  auto imported = run_binary_raw({"model", "import", model, "acme/cli:1", "--data-dir", data});
  INFO(imported.out << imported.err);
  REQUIRE(imported.exit_code == 0);
  CHECK_THAT(imported.out, Catch::Contains("imported acme/cli:1"));
  CHECK_THAT(imported.out, Catch::Contains("cli.gguf"));
  auto again = run_binary_raw({"model", "import", model, "acme/cli:1", "--data-dir", data});
  CHECK(again.exit_code != 0);
  CHECK_THAT(again.err, Catch::Contains("acme"));
  CHECK(run_binary_raw({"model", "import", model, "not-a-ref", "--data-dir", data}).exit_code != 0);

  ServerProcess server({.env = {"LLMP_ENGINE_DEMO_MODEL=false", "LLMP_REGISTRY_LOAD=acme/cli:1"}, .data_dir = data});
  auto models = request(server.port(), "GET", "/v1/models");
  CHECK_THAT(models.body, Catch::Contains(R"("id":"acme/cli:1")"));
  CHECK(request(server.port(), "POST", "/v1/chat/completions", chat_body("acme/cli:1"),
                {"Content-Type: application/json"}).status == 200);
}

TEST_CASE("a registry model no request uses is unloaded after idle_unload_seconds") {
  Registry r({"LLMP_REGISTRY_IDLE_UNLOAD_SECONDS=1"});
  REQUIRE(r.import(r.tiny, "4").status == 201);
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/4/load").status == 200);
  CHECK(r.chat("acme/tiny:4").status == 200);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = request(r.server->port(), "GET", "/readyz?model=acme%2Ftiny%3A4").status == 503;
  }
  CHECK(gone);
  CHECK(r.chat("acme/tiny:4").status == 404);
  CHECK(r.chat("other").status == 200);  // a model from --model is never unloaded for idleness
  // Out of /v1/models first, then freed once its last request is done: the memory follows.
  std::string loaded;
  for (int i = 0; i < 100; ++i) {
    loaded = r.admin("GET", "/admin/v1/loaded-models").body;
    if (loaded.find(R"("memory_in_use_bytes":0)") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK_THAT(loaded, Catch::Contains(R"("memory_in_use_bytes":0,"data":[])"));
}

TEST_CASE("a release shifts a validated canary promotes it and rolls a failing canary back on its own") {
  Registry r({"LLMP_REGISTRY_RELEASE_CHECK_MS=200"});
  REQUIRE(r.import(r.tiny, "1").status == 201);
  REQUIRE(r.import(r.other, "2").status == 201);
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/1/load").status == 200);
  auto needs_load = r.admin("PUT", "/admin/v1/releases/tiny", R"({"stable":"acme/tiny:1","canary":"acme/tiny:2"})");
  CHECK(needs_load.status == 400);  // the canary is not loaded yet
  CHECK_THAT(needs_load.body, Catch::Contains("load it first"));
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/2/load").status == 200);

  auto created = r.admin("PUT", "/admin/v1/releases/tiny", R"({"stable":"acme/tiny:1"})");
  INFO(created.body);
  REQUIRE(created.status == 200);
  auto first = r.chat("tiny");
  CHECK(first.status == 200);
  CHECK(first.header("x-llmp-route") == "tiny/acme/tiny:1");

  // A canary whose answers miss the validation set never gets traffic.
  auto refused = r.admin("PUT", "/admin/v1/releases/tiny",
                         R"({"canary":"acme/tiny:2","canary_weight":25,)"
                         R"("validation":[{"prompt":"hi","max_tokens":2,"contains":"no such text in noise"}]})");
  CHECK(refused.status == 400);
  CHECK_THAT(refused.body, Catch::Contains("does not contain"));
  // Latency is left out of the rollback rule here: two random-weight models answering in a few
  // milliseconds differ by more than 2x on scheduling noise alone (gateway tests cover it).
  auto canary = r.admin("PUT", "/admin/v1/releases/tiny",
                        R"({"canary":"acme/tiny:2","canary_weight":25,"max_latency_ratio":1000,)"
                        R"("validation":[{"prompt":"hi","max_tokens":2,"max_latency_ms":30000}]})");
  INFO(canary.body);
  REQUIRE(canary.status == 200);
  CHECK_THAT(canary.body, Catch::Contains(R"("canary":"acme/tiny:2","canary_weight":25)"));

  // The split through the whole server (the 10,000-request bound is in the gateway unit tests).
  int to_canary = 0;
  for (int i = 0; i < 400; ++i) {
    auto res = r.chat("tiny");
    REQUIRE(res.status == 200);
    if (res.header("x-llmp-route") == "tiny/acme/tiny:2") ++to_canary;
  }
  CHECK(to_canary > 60);   // 100 expected; 4.6 standard deviations either side
  CHECK(to_canary < 140);

  REQUIRE(r.admin("POST", "/admin/v1/releases/tiny/weight", R"({"canary_weight":50})").status == 200);
  auto promoted = r.admin("POST", "/admin/v1/releases/tiny/promote");
  REQUIRE(promoted.status == 200);
  CHECK_THAT(promoted.body, Catch::Contains(R"("stable":"acme/tiny:2","canary":null,"canary_weight":0)"));

  // Version 1 back as a canary at half the traffic, then made to fail: unloaded under it.
  REQUIRE(r.admin("PUT", "/admin/v1/releases/tiny", R"({"canary":"acme/tiny:1","canary_weight":50})").status == 200);
  REQUIRE(r.admin("POST", "/admin/v1/models/acme/tiny/1/unload").status == 200);
  for (int i = 0; i < 40; ++i) CHECK(r.chat("tiny").status == 200);  // the stable version answers for it
  std::string release;
  for (int i = 0; i < 100; ++i) {
    release = r.admin("GET", "/admin/v1/releases/tiny").body;
    if (release.find(R"("action":"auto_rollback")") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(release);
  CHECK_THAT(release, Catch::Contains(R"("stable":"acme/tiny:2","canary":null)"));
  CHECK_THAT(release, Catch::Contains(R"("action":"auto_rollback")"));
  CHECK_THAT(release, Catch::Contains("circuit breaker"));
  CHECK_THAT(release, Catch::Contains(R"("actor":"auto-rollback")"));
  // The whole history, in order.
  size_t at = 0;
  for (const char* action : {"create", "canary", "weight", "promote", "canary", "auto_rollback"}) {
    at = release.find(std::string(R"("action":")") + action + "\"", at);
    CHECK(at != std::string::npos);
  }
  CHECK(r.chat("tiny").header("x-llmp-route") == "tiny/acme/tiny:2");
  // Every step is in the audit log too, the automatic one under its own name.
  auto audit = r.admin("GET", "/admin/v1/audit?object_type=release&limit=1000");
  REQUIRE(audit.status == 200);
  CHECK_THAT(audit.body, Catch::Contains(R"("actor":"auto-rollback")"));
  CHECK(count_of(audit.body, R"("object_type":"release")") == 6);

  REQUIRE(r.admin("DELETE", "/admin/v1/releases/tiny").status == 200);
  CHECK(r.chat("tiny").status == 404);
  CHECK(r.admin("GET", "/admin/v1/releases/tiny").status == 404);
}

TEST_CASE("a tenant sees and calls only the models it is granted") {
  TempDir dir;
  const std::string a = make_model(dir, "a.gguf", 21), b = make_model(dir, "b.gguf", 22);
  ServerProcess server({.args = {"--model", "a=" + a, "--model", "b=" + b},
                        .env = {"LLMP_ENGINE_DEMO_MODEL=false"}, .auth_mode = ""});
  const std::string admin = "Authorization: Bearer " + server.admin_key();
  auto call = [&](const std::string& method, const std::string& path, const std::string& body, const std::string& auth) {
    return request(server.port(), method, path, body, {auth, "Content-Type: application/json"});
  };
  const std::string tenant_id = create_tenant(server.port(), admin, "granted");
  const CreatedKey app = create_key(server.port(), admin, tenant_id, R"({"name":"app"})");
  const std::string app_key = "Authorization: Bearer " + app.value;
  const CreatedKey ops = create_key(server.port(), admin, tenant_id, R"({"name":"ops","role":"tenant_admin"})");
  const std::string ops_key = "Authorization: Bearer " + ops.value;

  // No grant yet: every model.
  CHECK_THAT(call("GET", "/admin/v1/tenants/" + tenant_id + "/models", "", ops_key).body,
             Catch::Contains(R"("models":null)"));
  CHECK(call("POST", "/v1/chat/completions", chat_body("b"), app_key).status == 200);

  // Only the platform admin grants; the tenant's admin reads its own grant.
  CHECK(call("PUT", "/admin/v1/tenants/" + tenant_id + "/models", R"({"models":["a"]})", ops_key).status == 403);
  auto granted = call("PUT", "/admin/v1/tenants/" + tenant_id + "/models", R"({"models":["a"]})", admin);
  INFO(granted.body);
  REQUIRE(granted.status == 200);
  CHECK_THAT(call("GET", "/admin/v1/tenants/" + tenant_id + "/models", "", ops_key).body,
             Catch::Contains(R"("models":["a"])"));
  CHECK(call("PUT", "/admin/v1/tenants/ten_000000000000000000000000/models", R"({"models":["a"]})", admin).status == 404);

  auto listed = call("GET", "/v1/models", "", app_key);
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains(R"("id":"a")"));
  CHECK_THAT(listed.body, !Catch::Contains(R"("id":"b")"));
  CHECK(call("POST", "/v1/chat/completions", chat_body("a"), app_key).status == 200);
  auto refused = call("POST", "/v1/chat/completions", chat_body("b"), app_key);
  CHECK(refused.status == 403);
  CHECK_THAT(refused.body, Catch::Contains("the tenant is not granted the model 'b'"));
  CHECK_THAT(refused.body, Catch::Contains(R"("code":"model_not_allowed")"));
  // The platform admin is not held to any tenant's grant.
  CHECK(call("POST", "/v1/chat/completions", chat_body("b"), admin).status == 200);

  // Removed: every model again, and both steps are in the tenant's audit log.
  REQUIRE(call("DELETE", "/admin/v1/tenants/" + tenant_id + "/models", "", admin).status == 200);
  CHECK(call("POST", "/v1/chat/completions", chat_body("b"), app_key).status == 200);
  auto audit = call("GET", "/admin/v1/audit?object_type=tenant_models", "", ops_key);
  REQUIRE(audit.status == 200);
  CHECK_THAT(audit.body, Catch::Contains(R"("action":"create")"));
  CHECK_THAT(audit.body, Catch::Contains(R"("action":"delete")"));
}
