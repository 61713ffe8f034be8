#include "test_tokenizers.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/test_model.h"
#include "model/loaded_model.h"

namespace llmp::test {

namespace {

std::unique_ptr<engine::LoadedModel> load_test_model(const std::string& arch) {
  const std::string dir = make_temp_dir("grammar-model");
  engine::TestModelSpec spec;
  spec.arch = arch;
  spec.vocab = 512;
  spec.layers = 1;
  spec.out = dir + "/m.gguf";
  REQUIRE(engine::create_test_model(spec));
  auto loaded = engine::load_model(spec.out);
  REQUIRE(loaded);
  std::filesystem::remove_all(dir);  // the tokenizer is in memory; the weights are not used
  return std::move(*loaded);
}

}  // namespace

const engine::Tokenizer& small_tokenizer() {
  static std::unique_ptr<engine::LoadedModel> model = load_test_model("llama");
  return *model->tokenizer;
}

const engine::Tokenizer& sentencepiece_tokenizer() {
  static std::unique_ptr<engine::LoadedModel> model = load_test_model("mistral");
  return *model->tokenizer;
}

const engine::Tokenizer& llama3_tokenizer() {
  static std::unique_ptr<engine::Tokenizer> tokenizer = [] {
    const std::string dir = make_temp_dir("grammar-llama3");
    const std::string json_path = dir + "/tokenizer.json";
    // The reference script writes the package's vocabulary as a tokenizer.json (and encodes no
    // text files here).
    run_node_reference("llama3_reference.mjs '" + json_path + "'");
    const std::string json = read_file(json_path);
    std::filesystem::remove_all(dir);
    auto spec = engine::parse_tokenizer_json(json, R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})");
    REQUIRE(spec);
    auto made = engine::make_tokenizer(std::move(*spec));
    REQUIRE(made);
    return std::move(*made);
  }();
  return *tokenizer;
}

}  // namespace llmp::test
