// The OpenAI API of the real binary over a generated model: shapes, errors, streaming, and a
// client that goes away mid-stream freeing its KV blocks.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include "support/http_client.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

struct ApiServer {
  TempDir models;
  std::unique_ptr<ServerProcess> server;
  ApiServer() {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                                "--context", "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    server = std::make_unique<ServerProcess>(ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")}});
  }
  uint16_t port() { return server->port(); }
};

ApiServer& api() {
  static ApiServer s;
  return s;
}

double metric(const std::string& text, const std::string& series) {
  const size_t at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("chat completion has OpenAI's shape and usage arithmetic") {
  auto res = request(api().port(), "POST", "/v1/chat/completions",
                     R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"ignore_eos":true})");
  REQUIRE(res.status == 200);
  CHECK_THAT(res.body, Catch::StartsWith(R"({"id":"chatcmpl-)"));
  CHECK_THAT(res.body, Catch::Contains(R"("object":"chat.completion")"));
  CHECK_THAT(res.body, Catch::Contains(R"("message":{"role":"assistant","content":)"));
  CHECK_THAT(res.body, Catch::Contains(R"("finish_reason":"length")"));
  std::smatch m;
  REQUIRE(std::regex_search(res.body, m, std::regex(R"re("prompt_tokens":(\d+),"completion_tokens":(\d+),"total_tokens":(\d+))re")));
  CHECK(std::stoi(m[1]) + std::stoi(m[2]) == std::stoi(m[3]));
  CHECK(std::stoi(m[2]) == 5);
}

TEST_CASE("errors: unknown model, invalid parameter, context overflow, malformed JSON") {
  auto unknown = request(api().port(), "POST", "/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  CHECK(unknown.status == 404);
  CHECK_THAT(unknown.body, Catch::Contains(R"("code":"model_not_found")"));
  auto bad = request(api().port(), "POST", "/v1/chat/completions",
                     R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":5})");
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains(R"("param":"temperature")"));
  auto overflow = request(api().port(), "POST", "/v1/completions", R"({"model":"m","prompt":"hello","max_tokens":100000})");
  CHECK(overflow.status == 400);
  CHECK_THAT(overflow.body, Catch::Contains(R"("code":"context_length_exceeded")"));
  CHECK_THAT(overflow.body, Catch::Contains("maximum context length is 4096 tokens"));
  auto malformed = request(api().port(), "POST", "/v1/chat/completions", R"({"model": "m", "messages": [})");
  CHECK(malformed.status == 400);
  CHECK_THAT(malformed.body, Catch::Contains("malformed JSON at byte 28"));
  auto role = request(api().port(), "POST", "/v1/chat/completions", R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})");
  CHECK(role.status == 400);
  CHECK_THAT(role.body, Catch::Contains(R"("param":"messages[0].role")"));
}

TEST_CASE("streaming sends role first, deltas, finish reason, usage and the DONE marker") {
  Connection c(api().port());
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})";
  c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto res = c.read_response();
  REQUIRE(res);
  CHECK(res->header("Content-Type") == "text/event-stream");
  const std::string& s = res->body;
  CHECK(s.find(R"("delta":{"role":"assistant","content":""})") < s.find(R"("finish_reason":"length")"));
  CHECK_THAT(s, Catch::Contains(R"("choices":[],"usage":{"prompt_tokens":)"));
  CHECK_THAT(s, Catch::EndsWith("data: [DONE]\n\n"));
}

TEST_CASE("a client that disconnects mid-stream is cancelled and its KV blocks are freed") {
  Connection c(api().port());
  const std::string body =
      R"({"model":"m","prompt":"tell me a very long story","max_tokens":3000,"ignore_eos":true,"stream":true})";
  c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  REQUIRE(c.read_head());
  REQUIRE_FALSE(c.read_chunk().empty());
  // The engine's figures are published once per step: give a loaded machine a moment.
  double running = -1;
  for (int i = 0; i < 100 && running != 1; ++i) {
    running = metric(request(api().port(), "GET", "/metrics").body, R"(llmp_engine_requests_running{model="m"})");
    if (running != 1) std::this_thread::sleep_for(20ms);
  }
  CHECK(running == 1);
  c.close();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  double used = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string m = request(api().port(), "GET", "/metrics").body;
    running = metric(m, R"(llmp_engine_requests_running{model="m"})");
    used = metric(m, R"(llmp_kv_cache_blocks{model="m",state="used"})");
    if (running == 0 && used == 0) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(running == 0);
  CHECK(used == 0);
}

TEST_CASE("engine latencies and finish reasons are on /metrics and pass promtool") {
  TempDir models;
  auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                              "--context", "4096", "--out", models / "m.gguf"});
  REQUIRE(made.exit_code == 0);
  ServerProcess server(ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")}});
  for (int i = 0; i < 2; ++i) {
    auto res = request(server.port(), "POST", "/v1/completions", R"({"model":"m","prompt":"hi","max_tokens":4,"ignore_eos":true})");
    REQUIRE(res.status == 200);
  }
  const std::string m = request(server.port(), "GET", "/metrics").body;
  // Two sequences of 4 tokens: 2 first tokens, 6 gaps between tokens, 2 finishes by length.
  CHECK(metric(m, R"(llmp_request_queue_seconds_count{model="m"})") == 2);
  CHECK(metric(m, R"(llmp_time_to_first_token_seconds_count{model="m"})") == 2);
  CHECK(metric(m, R"(llmp_time_to_first_token_seconds_bucket{model="m",le="+Inf"})") == 2);
  CHECK(metric(m, R"(llmp_inter_token_latency_seconds_count{model="m"})") == 6);
  CHECK(metric(m, R"(llmp_request_duration_seconds_count{model="m"})") == 2);
  CHECK(metric(m, R"(llmp_request_prefill_seconds_count{model="m"})") == 2);
  CHECK(metric(m, R"(llmp_request_decode_seconds_count{model="m"})") == 2);
  CHECK(metric(m, R"(llmp_time_to_first_token_seconds_sum{model="m"})") > 0);
  CHECK(metric(m, R"(llmp_requests_finished_total{model="m",reason="length"})") == 2);
  CHECK(metric(m, R"(llmp_requests_finished_total{model="m",reason="stop"})") == 0);
  CHECK(metric(m, R"(llmp_model_load_seconds{model="m"})") > 0);

  TempDir dir;
  std::ofstream(dir / "metrics.txt") << m;
  const std::string cmd = "promtool check metrics < " + (dir / "metrics.txt") + " > " + (dir / "promtool.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(dir / "promtool.out");
  INFO(std::string(std::istreambuf_iterator<char>(out), {}));
  REQUIRE(WEXITSTATUS(rc) == 0);
}

TEST_CASE("a model at capacity answers 503 with Retry-After and serves again once a slot frees") {
  TempDir models;
  auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                              "--context", "4096", "--out", models / "m.gguf"});
  REQUIRE(made.exit_code == 0);
  // One running sequence and one queued request at most.
  ServerProcess server(ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")},
                                              .env = {"LLMP_ENGINE_MAX_SEQS=1", "LLMP_ENGINE_MAX_WAITING=1"}});
  const std::string body =
      R"({"model":"m","prompt":"tell me a very long story","max_tokens":3000,"ignore_eos":true,"stream":true})";
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<Connection>(server.port()));
    held.back()->send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body);
  }
  // One running, one waiting.
  const auto queued_by = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < queued_by &&
         metric(request(server.port(), "GET", "/metrics").body, R"(llmp_engine_requests_waiting{model="m"})") != 1) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string small = R"({"model":"m","prompt":"hi","max_tokens":2})";
  auto refused = request(server.port(), "POST", "/v1/completions", small);
  INFO(refused.body);
  CHECK(refused.status == 503);
  CHECK(refused.header("Retry-After") == "1");
  CHECK(refused.body.find("at capacity") != std::string::npos);
  held.clear();  // both clients go away: their sequences are cancelled
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = request(server.port(), "POST", "/v1/completions", small).status;
    if (status == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(status == 200);
}

TEST_CASE("speculative decoding, set by the environment, answers the same text and counts its drafts on /metrics") {
  TempDir models;
  auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                              "--context", "4096", "--out", models / "m.gguf"});
  REQUIRE(made.exit_code == 0);
  // A prompt that repeats itself (token ids), decoded greedily: prompt lookup has matches.
  std::string prompt;
  for (int r = 0; r < 4; ++r) {
    for (int t : {17, 230, 5, 411, 96, 3}) prompt += (prompt.empty() ? "" : ",") + std::to_string(t);
  }
  const std::string body = R"({"model":"m","prompt":[)" + prompt + R"(],"max_tokens":40,"temperature":0,"ignore_eos":true})";
  std::string texts[2];
  double drafted = 0, accepted = 0;
  for (int spec = 0; spec < 2; ++spec) {
    ServerProcess server(ServerProcess::Options{.args = {"--model", "m=" + (models / "m.gguf")},
                                                .env = {spec ? "LLMP_ENGINE_SPECULATIVE_TOKENS=3" : "LLMP_ENGINE_SPECULATIVE_TOKENS=0"}});
    auto res = request(server.port(), "POST", "/v1/completions", body);
    REQUIRE(res.status == 200);
    // The choices (text, finish reason), without the id and time.
    const size_t choices = res.body.find(R"("choices")");
    REQUIRE(choices != std::string::npos);
    texts[spec] = res.body.substr(choices, res.body.find(R"("usage")") - choices);
    const std::string m = request(server.port(), "GET", "/metrics").body;
    drafted = metric(m, R"(llmp_spec_decode_draft_tokens_total{model="m"})");
    accepted = metric(m, R"(llmp_spec_decode_accepted_tokens_total{model="m"})");
    if (!spec) CHECK(drafted == 0);
  }
  CHECK(texts[1] == texts[0]);
  CHECK(drafted > 0);
  CHECK(accepted > 0);
  CHECK(accepted <= drafted);
}

namespace {

// The raw (still JSON-escaped) string value of the first `"field":"..."` in `body`.
std::string raw_string_field(const std::string& body, const std::string& field) {
  const std::string needle = "\"" + field + "\":\"";
  const size_t begin = body.find(needle);
  if (begin == std::string::npos) return {};
  size_t end = begin + needle.size();
  while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
  return body.substr(begin + needle.size(), end - begin - needle.size());
}

}  // namespace

TEST_CASE("OpenAI's predicted outputs: the same answer, the prediction's tokens counted in usage") {
  const std::string ask = R"({"model":"m","prompt":"Once upon a time","max_tokens":24,"temperature":0,"ignore_eos":true)";
  auto plain = request(api().port(), "POST", "/v1/completions", ask + "}");
  REQUIRE(plain.status == 200);
  const std::string text = raw_string_field(plain.body, "text");
  REQUIRE_FALSE(text.empty());
  CHECK(plain.body.find("completion_tokens_details") == std::string::npos);

  for (const std::string content : {"\"" + text + "\"", R"([{"type":"text","text":")" + text + R"("}])"}) {
    auto predicted = request(api().port(), "POST", "/v1/completions",
                             ask + R"(,"prediction":{"type":"content","content":)" + content + "}}");
    INFO(predicted.body);
    REQUIRE(predicted.status == 200);
    CHECK(raw_string_field(predicted.body, "text") == text);
    CHECK(predicted.body.find(R"("completion_tokens_details":{"accepted_prediction_tokens":)") != std::string::npos);
    CHECK(predicted.body.find(R"("accepted_prediction_tokens":0)") == std::string::npos);
  }

  for (const char* bad : {R"({"type":"text","content":"x"})", R"({"type":"content"})", R"({"type":"content","content":7})",
                          R"({"type":"content","content":[{"type":"image","text":"x"}]})", R"("x")"}) {
    auto refused = request(api().port(), "POST", "/v1/completions", ask + R"(,"prediction":)" + bad + "}");
    INFO(bad << " -> " << refused.body);
    CHECK(refused.status == 400);
    CHECK(refused.body.find(R"("param":"prediction")") != std::string::npos);
  }
}
