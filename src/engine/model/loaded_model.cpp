#include "model/loaded_model.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "format/gguf.h"
#include "format/safetensors.h"

namespace llmp::engine {
namespace {

Result<std::string> read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return error(StatusCode::not_found, fmt::format("{}: cannot open", p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_text_or_empty(const std::filesystem::path& p) {
  auto t = read_text(p);
  return t ? *t : std::string();
}

class GgufTensors final : public TensorSource {
 public:
  explicit GgufTensors(const GgufFile& f) : f_(f) {}
  const Tensor* find(const std::string& name) const override { return f_.tensor(name); }
  std::string describe() const override { return f_.path(); }

 private:
  const GgufFile& f_;
};

class SafetensorsTensors final : public TensorSource {
 public:
  SafetensorsTensors(std::vector<std::unique_ptr<SafetensorsFile>> files, std::string folder)
      : files_(std::move(files)), folder_(std::move(folder)) {
    for (const auto& f : files_) {
      for (const auto& t : f->tensors()) index_[t.name] = &t;
    }
  }
  const Tensor* find(const std::string& name) const override {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }
  std::string describe() const override { return folder_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::string folder_;
  std::map<std::string, const Tensor*> index_;
};

std::optional<TokenId> optional_id(const GgufFile& g, std::string_view key, int64_t vocab) {
  auto v = g.get_int(key);
  if (!v || *v < 0 || *v >= vocab) return std::nullopt;
  return static_cast<TokenId>(*v);
}

}  // namespace

Result<TokenizerSpec> tokenizer_spec_from_gguf(const GgufFile& g) {
  TokenizerSpec spec;
  auto model = g.get_string("tokenizer.ggml.model");
  if (!model) return error(model.error());
  auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return error(tokens.error());
  const int64_t vocab = static_cast<int64_t>(tokens->size());
  if (*model == "gpt2") {
    spec.kind = TokenizerKind::byte_level_bpe;
    auto merges = g.get_string_array("tokenizer.ggml.merges");
    if (!merges) return error(merges.error());
    spec.merges.assign(merges->begin(), merges->end());
    if (auto pre = g.get_string("tokenizer.ggml.pre")) spec.pre_tokenizer = std::string(*pre);
    // llama.cpp looks whole words up in the vocabulary before merging for these families, as
    // their tokenizer.json says with "ignore_merges": true.
    for (const char* name : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "tekken"}) {
      if (spec.pre_tokenizer == name) spec.ignore_merges = true;
    }
  } else if (*model == "llama") {
    spec.kind = TokenizerKind::sentencepiece_bpe;
    auto scores = g.get_float_array("tokenizer.ggml.scores");
    if (!scores) return error(scores.error());
    if (static_cast<int64_t>(scores->size()) != vocab) {
      return error(StatusCode::data_loss, fmt::format("{}: tokenizer.ggml.scores has {} entries for {} tokens", g.path(),
                                                      scores->size(), vocab));
    }
    spec.scores.assign(scores->begin(), scores->end());
  } else if (*model == "bert") {
    spec.kind = TokenizerKind::wordpiece;
    spec.lowercase = true;
    spec.strip_accents = true;
  } else {
    return error(StatusCode::unimplemented, fmt::format("{}: tokenizer model '{}' is not supported", g.path(), *model));
  }
  spec.tokens.reserve(tokens->size());
  for (auto t : *tokens) {
    std::string piece(t);
    if (spec.kind == TokenizerKind::wordpiece) {
      // llama.cpp stores BERT vocabularies with a phantom space ("▁word") instead of
      // WordPiece's continuation prefix ("##piece"): turn them back.
      static const std::string kPhantom = "\xE2\x96\x81";
      if (piece.starts_with(kPhantom)) piece = piece.substr(kPhantom.size());
      else if (!(piece.size() >= 2 && piece.front() == '[' && piece.back() == ']')) piece = "##" + piece;
    }
    spec.tokens.push_back(std::move(piece));
  }
  if (g.find("tokenizer.ggml.token_type")) {
    auto types = g.get_int_array("tokenizer.ggml.token_type");
    if (!types) return error(types.error());
    if (static_cast<int64_t>(types->size()) != vocab) {
      return error(StatusCode::data_loss, fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens",
                                                      g.path(), types->size(), vocab));
    }
    for (int64_t t : *types) spec.token_types.push_back(static_cast<TokenType>(t));
  } else {
    spec.token_types.assign(spec.tokens.size(), TokenType::normal);
  }
  spec.bos = optional_id(g, "tokenizer.ggml.bos_token_id", vocab);
  spec.eos = optional_id(g, "tokenizer.ggml.eos_token_id", vocab);
  spec.unk = optional_id(g, "tokenizer.ggml.unknown_token_id", vocab);
  spec.pad = optional_id(g, "tokenizer.ggml.padding_token_id", vocab);
  spec.sep = optional_id(g, "tokenizer.ggml.seperator_token_id", vocab);
  if (!spec.sep) spec.sep = optional_id(g, "tokenizer.ggml.separator_token_id", vocab);
  spec.cls = optional_id(g, "tokenizer.ggml.cls_token_id", vocab);
  spec.mask = optional_id(g, "tokenizer.ggml.mask_token_id", vocab);
  if (spec.kind == TokenizerKind::wordpiece) {
    if (!spec.cls) spec.cls = spec.bos;
    if (!spec.sep) spec.sep = spec.eos;
  }
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (auto id = optional_id(g, key, vocab)) {
      if (std::find(spec.eog.begin(), spec.eog.end(), *id) == spec.eog.end()) spec.eog.push_back(*id);
    }
  }
  auto add_bos = g.get_bool_or("tokenizer.ggml.add_bos_token", spec.kind != TokenizerKind::byte_level_bpe);
  auto add_eos = g.get_bool_or("tokenizer.ggml.add_eos_token", false);
  auto space = g.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  for (const Result<bool>* flag : {&add_bos, &add_eos, &space}) {
    if (!*flag) return error(flag->error());
  }
  spec.add_bos = *add_bos && spec.bos.has_value();
  spec.add_eos = *add_eos && spec.eos.has_value();
  spec.add_space_prefix = *space;
  return spec;
}

namespace {

Result<std::unique_ptr<LoadedModel>> load_gguf(const std::string& path) {
  auto gguf = GgufFile::open(path);
  if (!gguf) return error(gguf.error());
  auto model = std::make_unique<LoadedModel>();
  model->path = path;
  model->format = "gguf";
  auto config = config_from_gguf(**gguf);
  if (!config) return error(config.error());
  model->config = *config;
  auto weights = bind_weights(model->config, GgufTensors(**gguf), true);
  if (!weights) return error(weights.error());
  model->weights = std::move(*weights);
  auto spec = tokenizer_spec_from_gguf(**gguf);
  if (!spec) return error(spec.error());
  auto tokenizer = make_tokenizer(std::move(*spec));
  // The tokenizer's own messages start with "tokenizer: ".
  if (!tokenizer) return error(tokenizer.error().with_context(path));
  model->tokenizer = std::move(*tokenizer);
  if (static_cast<int64_t>(model->tokenizer->vocab_size()) > model->config.vocab_size) {
    return error(StatusCode::data_loss, fmt::format("{}: the tokenizer has {} tokens, the embedding table {}", path,
                                                    model->tokenizer->vocab_size(), model->config.vocab_size));
  }
  if (auto tmpl = (*gguf)->get_string("tokenizer.chat_template")) model->chat_template = std::string(*tmpl);
  model->generation.eos_ids = model->tokenizer->spec().eog;
  model->all_tensors = (*gguf)->tensors();
  model->file_bytes = static_cast<int64_t>((*gguf)->file()->size());
  model->files.push_back((*gguf)->file());
  model->source = std::shared_ptr<GgufFile>(std::move(*gguf));
  return model;
}

Result<std::unique_ptr<LoadedModel>> load_hf(const std::filesystem::path& dir) {
  const std::string folder = dir.string();
  auto config_text = read_text(dir / "config.json");
  if (!config_text) return error(StatusCode::invalid_argument, fmt::format("{}: no config.json: not a model folder", folder));
  auto model = std::make_unique<LoadedModel>();
  model->path = folder;
  model->format = "hf";
  auto config = config_from_hf(*config_text, read_text_or_empty(dir / "1_Pooling" / "config.json"),
                               (dir / "config.json").string());
  if (!config) return error(config.error());
  model->config = *config;

  // One model.safetensors, or shards listed by model.safetensors.index.json.
  std::vector<std::string> shard_names;
  if (std::filesystem::exists(dir / "model.safetensors.index.json")) {
    auto index_text = read_text(dir / "model.safetensors.index.json");
    if (!index_text) return error(index_text.error());
    simdjson::dom::parser parser;
    simdjson::padded_string padded(*index_text);
    simdjson::dom::object weight_map;
    if (parser.parse(padded)["weight_map"].get(weight_map) != simdjson::SUCCESS) {
      return error(StatusCode::data_loss, fmt::format("{}/model.safetensors.index.json: no weight_map object", folder));
    }
    for (auto [tensor, file] : weight_map) {
      std::string_view f;
      if (file.get(f) != simdjson::SUCCESS || f.find('/') != std::string_view::npos) {
        return error(StatusCode::data_loss, fmt::format("{}: weight_map entry for '{}' is not a file name", folder, tensor));
      }
      if (std::find(shard_names.begin(), shard_names.end(), f) == shard_names.end()) shard_names.emplace_back(f);
    }
  } else {
    shard_names.push_back("model.safetensors");
  }
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  for (const auto& name : shard_names) {
    auto shard = SafetensorsFile::open((dir / name).string());
    if (!shard) return error(shard.error());
    model->file_bytes += static_cast<int64_t>((*shard)->file()->size());
    model->files.push_back((*shard)->file());
    for (const auto& t : (*shard)->tensors()) model->all_tensors.push_back(t);
    shards.push_back(std::move(*shard));
  }
  auto tensors = std::make_shared<SafetensorsTensors>(std::move(shards), folder);
  auto weights = bind_weights(model->config, *tensors, false);
  if (!weights) return error(weights.error());
  model->weights = std::move(*weights);
  model->source = tensors;

  auto tok_json = read_text(dir / "tokenizer.json");
  if (!tok_json) return error(StatusCode::invalid_argument, fmt::format("{}: no tokenizer.json", folder));
  const std::string tok_config = read_text_or_empty(dir / "tokenizer_config.json");
  auto spec = parse_tokenizer_json(*tok_json, tok_config);
  if (!spec) return error(spec.error().with_context(fmt::format("{}/tokenizer.json", folder)));
  auto tokenizer = make_tokenizer(std::move(*spec));
  if (!tokenizer) return error(tokenizer.error().with_context(fmt::format("{}/tokenizer.json", folder)));
  model->tokenizer = std::move(*tokenizer);

  // The chat template: tokenizer_config.json's chat_template (a string, or a list of named
  // templates), or chat_template.jinja beside it.
  if (!tok_config.empty()) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(tok_config);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root) == simdjson::SUCCESS) {
      std::string_view tmpl;
      simdjson::dom::array named;
      if (root["chat_template"].get(tmpl) == simdjson::SUCCESS) {
        model->chat_template = std::string(tmpl);
      } else if (root["chat_template"].get(named) == simdjson::SUCCESS) {
        for (auto entry : named) {
          std::string_view name, text;
          if (entry["name"].get(name) == simdjson::SUCCESS && entry["template"].get(text) == simdjson::SUCCESS &&
              (name == "default" || model->chat_template.empty())) {
            model->chat_template = std::string(text);
          }
        }
      }
    }
  }
  if (model->chat_template.empty()) model->chat_template = read_text_or_empty(dir / "chat_template.jinja");

  model->generation.eos_ids = model->tokenizer->spec().eog;
  if (auto gen_text = read_text(dir / "generation_config.json")) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(*gen_text);
    simdjson::dom::element gen;
    if (parser.parse(padded).get(gen) == simdjson::SUCCESS) {
      int64_t one;
      simdjson::dom::array many;
      std::vector<TokenId> eos;
      if (gen["eos_token_id"].get(one) == simdjson::SUCCESS) {
        eos.push_back(static_cast<TokenId>(one));
      } else if (gen["eos_token_id"].get(many) == simdjson::SUCCESS) {
        for (auto id : many) {
          if (id.get(one) == simdjson::SUCCESS) eos.push_back(static_cast<TokenId>(one));
        }
      }
      for (TokenId id : eos) {
        if (std::find(model->generation.eos_ids.begin(), model->generation.eos_ids.end(), id) ==
            model->generation.eos_ids.end()) {
          model->generation.eos_ids.push_back(id);
        }
      }
      double d;
      if (gen["temperature"].get(d) == simdjson::SUCCESS) model->generation.temperature = d;
      if (gen["top_p"].get(d) == simdjson::SUCCESS) model->generation.top_p = d;
      if (gen["top_k"].get(one) == simdjson::SUCCESS) model->generation.top_k = one;
    }
  }
  return model;
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load_hf(path);
  if (!std::filesystem::exists(path, ec)) return error(StatusCode::not_found, fmt::format("{}: no such file or folder", path));
  return load_gguf(path);
}

}  // namespace llmp::engine
