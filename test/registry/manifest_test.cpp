// manifest.json: round trip, errors that name the key or the byte, and the signing payload.

#include "llmp/registry/manifest.h"

#include <catch2/catch.hpp>

using namespace llmp;
using namespace llmp::registry;

namespace {

Manifest sample() {
  Manifest m;
  m.org = "acme";
  m.model = "llama-3.2-1b";
  m.version = "2024.10_1";
  m.created_at_ms = 1'730'000'000'123;
  m.format = "safetensors";
  m.architecture = "llama";
  m.dtype = "bf16";
  m.source = "/srv/import/Llama-3.2-1B \"quoted\"";
  m.mode = "link";
  m.files = {{"config.json", 877, std::string(64, 'a')},
             {"model.safetensors", 2'471'645'608, std::string(64, 'b')},
             {"1_Pooling/config.json", 12, std::string(64, 'c')}};
  m.spec.parameters = 1'235'814'400;
  m.spec.precision = "bf16";
  m.spec.context_length = 131072;
  m.spec.max_concurrency = 16;
  m.spec.device = {.kind = "gpu", .gpu_type = "H100", .gpu_count = 1, .gpu_memory_bytes = 3'500'000'000};
  m.spec.memory_bytes = 18'000'000'000'000'000'000ull;  // above INT64_MAX: uint64 survives
  m.spec.expected_tokens_per_second = 1234.5678;
  m.signature = "c2lnbmF0dXJl";
  m.signed_by = "publisher";
  return m;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string parse_error(const std::string& text) {
  auto m = parse_manifest(text);
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::invalid_argument);
  return m.error().message();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a manifest round-trips through json") {
  const Manifest m = sample();
  const std::string text = manifest_json(m);
  auto back = parse_manifest(text);
  INFO((back ? std::string() : back.error().message()));
  REQUIRE(back);
  CHECK(back->ref() == "acme/llama-3.2-1b:2024.10_1");
  CHECK(back->created_at_ms == m.created_at_ms);
  CHECK(back->source == m.source);
  CHECK(back->mode == "link");
  REQUIRE(back->files.size() == 3);
  CHECK(back->files[0].path == "1_Pooling/config.json");  // kept sorted by path
  CHECK(back->files[2].size == 2'471'645'608);
  CHECK(back->spec.memory_bytes == m.spec.memory_bytes);
  CHECK(back->spec.expected_tokens_per_second == m.spec.expected_tokens_per_second);
  CHECK(back->spec.device.gpu_type == "H100");
  CHECK(back->spec.device.gpu_memory_bytes == 3'500'000'000);
  CHECK(back->signed_by == "publisher");
  CHECK(manifest_json(*back) == text);
}

TEST_CASE("a malformed manifest names the key or the byte offset") {
  const std::string good = manifest_json(sample());
  CHECK(contains(parse_error(good.substr(0, 20)), "malformed JSON at byte"));
  CHECK(contains(parse_error("{\"schema_version\": 1,}"), "at byte 21"));
  CHECK(contains(parse_error("[]"), "not a JSON object"));
  CHECK(contains(parse_error(replaced(good, "\"schema_version\":1", "\"schema_version\":2")), "'schema_version' is 2"));
  CHECK(contains(parse_error(replaced(good, "\"org\":\"acme\"", "\"org\":\"..\"")), "org"));
  CHECK(contains(parse_error(replaced(good, "\"format\":\"safetensors\"", "\"format\":\"onnx\"")), "'format'"));
  CHECK(contains(parse_error(replaced(good, std::string(64, 'b'), std::string(64, 'B'))), "'files[2].sha256'"));
  CHECK(contains(parse_error(replaced(good, "\"path\":\"config.json\"", "\"path\":\"../config.json\"")),
                 "'files[1].path'"));
  CHECK(contains(parse_error(replaced(good, "\"path\":\"config.json\"", "\"path\":\"model.safetensors\"")), "repeats"));
  CHECK(contains(parse_error(replaced(good, "\"size\":877", "\"size\":-1")), "'files[1].size'"));
  CHECK(contains(parse_error(replaced(good, "\"kind\":\"gpu\"", "\"kind\":\"tpu\"")), "spec.device.kind"));
  CHECK(contains(parse_error(replaced(good, "\"context_length\":131072", "\"context_length\":\"long\"")),
                 "'spec.context_length'"));
  CHECK(contains(parse_error(replaced(good, ",\"spec\":{", ",\"spex\":{")), "'spec' is missing"));
}

TEST_CASE("the signing payload is deterministic and covers identity files and spec") {
  const Manifest m = sample();
  const std::string payload = signing_payload(m);

  Manifest reordered = m;
  std::swap(reordered.files[0], reordered.files[2]);
  reordered.created_at_ms = 1;
  reordered.source = "/elsewhere";
  reordered.mode = "copy";
  reordered.signature.clear();
  reordered.signed_by.clear();
  CHECK(signing_payload(reordered) == payload);

  auto differs = [&](auto change) {
    Manifest c = m;
    change(c);
    return signing_payload(c) != payload;
  };
  CHECK(differs([](Manifest& c) { c.version += ".1"; }));
  CHECK(differs([](Manifest& c) { c.files[1].sha256 = std::string(64, 'd'); }));
  CHECK(differs([](Manifest& c) { c.files[1].size += 1; }));
  CHECK(differs([](Manifest& c) { c.files[1].path = "model2.safetensors"; }));
  CHECK(differs([](Manifest& c) { c.files.pop_back(); }));
  CHECK(differs([](Manifest& c) { c.spec.memory_bytes = 1; }));
  CHECK(differs([](Manifest& c) { c.spec.device.gpu_count = 2; }));
  CHECK_FALSE(contains(payload, "created_at_ms"));
}
