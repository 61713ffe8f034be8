#include "llmp/engine/model_facts.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/model_config.h"

namespace llmp::engine {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return error(StatusCode::not_found, fmt::format("{}: cannot open", p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parameters, bytes and the dominant dtype (by element count) of a set of tensors.
void add_tensors(const std::vector<Tensor>& tensors, ModelFacts& facts, std::map<std::string, uint64_t>& by_dtype) {
  for (const auto& t : tensors) {
    const auto n = static_cast<uint64_t>(t.numel());
    facts.parameters += n;
    facts.weight_bytes += t.bytes;
    by_dtype[std::string(dtype_info(t.dtype).name)] += n;
  }
}

void finish(ModelFacts& facts, const std::map<std::string, uint64_t>& by_dtype, const ModelConfig* config) {
  uint64_t most = 0;
  for (const auto& [name, n] : by_dtype) {
    if (n > most) {
      most = n;
      facts.dtype = name;
    }
  }
  if (config == nullptr) return;
  facts.architecture = std::string(to_string(config->arch));
  facts.context_length = config->context_length;
  facts.hidden = config->hidden;
  facts.layers = config->n_layers;
  facts.vocab_size = config->vocab_size;
  // As KvStorage lays it out: K and V, 16 bits each (f16 or bf16), [n_kv_heads, head_dim] per layer and position.
  if (!config->is_encoder()) {
    facts.kv_bytes_per_token = static_cast<uint64_t>(2 * config->n_layers * config->n_kv_heads * config->head_dim) * 2;
  }
}

Result<ModelFacts> gguf_facts(const std::string& path) {
  auto gguf = GgufFile::open(path);
  if (!gguf) return error(gguf.error());
  auto config = config_from_gguf(**gguf);
  if (!config) return error(config.error());
  ModelFacts facts;
  facts.format = "gguf";
  std::map<std::string, uint64_t> by_dtype;
  add_tensors((*gguf)->tensors(), facts, by_dtype);
  finish(facts, by_dtype, &*config);
  return facts;
}

// The shards a folder's weights live in: those model.safetensors.index.json names, else every
// *.safetensors file in the folder.
Result<std::vector<fs::path>> shard_paths(const fs::path& dir) {
  std::vector<fs::path> out;
  const fs::path index = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index, ec)) {
    auto text = read_text(index);
    if (!text) return error(text.error());
    simdjson::dom::parser parser;
    simdjson::padded_string padded(*text);
    simdjson::dom::object weight_map;
    if (parser.parse(padded)["weight_map"].get(weight_map) != simdjson::SUCCESS) {
      return error(StatusCode::data_loss, fmt::format("{}: no weight_map object", index.string()));
    }
    for (auto [tensor, file] : weight_map) {
      std::string_view f;
      if (file.get(f) != simdjson::SUCCESS || f.empty() || f.find('/') != std::string_view::npos) {
        return error(StatusCode::data_loss,
                     fmt::format("{}: weight_map entry for '{}' is not a file name", index.string(), tensor));
      }
      if (std::find(out.begin(), out.end(), dir / f) == out.end()) out.push_back(dir / f);
    }
    return out;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".safetensors") out.push_back(entry.path());
  }
  if (ec) return error(StatusCode::invalid_argument, fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  if (out.empty()) return error(StatusCode::invalid_argument, fmt::format("{}: no .safetensors files", dir.string()));
  return out;
}

Result<ModelFacts> folder_facts(const fs::path& dir) {
  auto config_text = read_text(dir / "config.json");
  if (!config_text) {
    return error(StatusCode::invalid_argument, fmt::format("{}: no config.json: not a model folder", dir.string()));
  }
  std::string pooling;
  if (auto p = read_text(dir / "1_Pooling" / "config.json")) pooling = std::move(*p);
  auto config = config_from_hf(*config_text, pooling, (dir / "config.json").string());
  if (!config) return error(config.error());
  auto shards = shard_paths(dir);
  if (!shards) return error(shards.error());
  ModelFacts facts;
  facts.format = "safetensors";
  std::map<std::string, uint64_t> by_dtype;
  for (const auto& shard : *shards) {
    auto file = SafetensorsFile::open(shard.string());
    if (!file) return error(file.error());
    add_tensors((*file)->tensors(), facts, by_dtype);
  }
  finish(facts, by_dtype, &*config);
  return facts;
}

Result<ModelFacts> safetensors_facts(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  if (!file) return error(file.error());
  ModelFacts facts;
  facts.format = "safetensors";
  std::map<std::string, uint64_t> by_dtype;
  add_tensors((*file)->tensors(), facts, by_dtype);
  finish(facts, by_dtype, nullptr);
  return facts;
}

}  // namespace

Result<ModelFacts> model_facts(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return folder_facts(path);
  if (!fs::exists(path, ec)) return error(StatusCode::not_found, fmt::format("{}: no such file or folder", path));
  if (fs::path(path).extension() == ".safetensors") return safetensors_facts(path);
  return gguf_facts(path);
}

}  // namespace llmp::engine
