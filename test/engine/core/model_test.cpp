// Test models are written in both layouts, load back, describe themselves, and refuse to
// load when damaged.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "decode_runner.h"
#include "llmp/engine/model_info.h"
#include "llmp/engine/test_model.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::engine;

namespace {

std::string make(const test::TempDir& dir, TestModelSpec spec, const std::string& name) {
  spec.out = dir / name;
  auto r = create_test_model(spec);
  INFO((r ? std::string() : r.error().message()));
  REQUIRE(r);
  return spec.out;
}

}  // namespace

TEST_CASE("test models of every architecture load in both layouts") {
  test::TempDir dir;
  for (const char* arch : {"llama", "qwen2", "mistral", "bert"}) {
    for (const char* format : {"gguf", "hf"}) {
      INFO(arch << " " << format);
      TestModelSpec spec;
      spec.arch = arch;
      spec.format = format;
      spec.vocab = 600;
      const std::string path = make(dir, spec, std::string(arch) + "-" + format + (spec.format == "gguf" ? ".gguf" : ""));
      auto m = load_model(path);
      INFO((m ? std::string() : m.error().message()));
      REQUIRE(m);
      CHECK((*m)->config.hidden == 64);
      CHECK((*m)->config.vocab_size == 600);
      CHECK((*m)->tokenizer->vocab_size() == 600);
      if (std::string(arch) != "bert") CHECK_FALSE((*m)->chat_template.empty());
      auto text = describe_model(path);
      REQUIRE(text);
      CHECK_THAT(*text, Catch::Contains("architecture"));
      CHECK_THAT(*text, Catch::Contains("tensors:"));
    }
  }
}

TEST_CASE("sharded safetensors folders load") {
  test::TempDir dir;
  TestModelSpec spec;
  spec.format = "hf";
  spec.shards = 3;
  const std::string path = make(dir, spec, "sharded");
  CHECK(std::filesystem::exists(path + "/model.safetensors.index.json"));
  CHECK(std::filesystem::exists(path + "/model-00003-of-00003.safetensors"));
  REQUIRE(load_model(path));
}

TEST_CASE("a truncated model file is an error naming the tensor") {
  test::TempDir dir;
  TestModelSpec spec;
  const std::string path = make(dir, spec, "m.gguf");
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 100);
  auto m = load_model(path);
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message(), Catch::Contains("tensor '") && Catch::Contains("past the end"));
}

TEST_CASE("a weight whose shape disagrees with the config is named") {
  test::TempDir dir;
  TestModelSpec spec;
  spec.format = "hf";
  const std::string path = make(dir, spec, "m");
  std::string config;
  {
    std::ifstream in(path + "/config.json");
    config.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t at = config.find("\"intermediate_size\":128");
  REQUIRE(at != std::string::npos);
  config.replace(at, 23, "\"intermediate_size\":256");
  std::ofstream(path + "/config.json") << config;
  auto m = load_model(path);
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message(), Catch::Contains("model.layers.0.mlp.gate_proj.weight' has shape [128, 64], the config implies [256, 64]"));
}

TEST_CASE("bad create-test specs name the flag") {
  test::TempDir dir;
  TestModelSpec spec;
  spec.out = dir / "x.gguf";
  spec.hidden = 65;
  auto r = create_test_model(spec);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("--heads must divide --hidden"));
  spec.hidden = 64;
  spec.format = "hf";
  spec.dtype = "q4_0";
  r = create_test_model(spec);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("--dtype q4_0"));
}
