#include "model/model_config.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "format/gguf.h"

namespace llmp::engine {

std::string_view to_string(Architecture a) {
  switch (a) {
    case Architecture::llama: return "llama";
    case Architecture::qwen2: return "qwen2";
    case Architecture::mistral: return "mistral";
    case Architecture::bert: return "bert";
  }
  return "?";
}

Result<void> ModelConfig::validate(std::string_view source) const {
  auto bad = [&](std::string what) { return error(StatusCode::invalid_argument, fmt::format("{}: {}", source, what)); };
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 24)) return bad(fmt::format("vocab size {} is out of range", vocab_size));
  if (hidden <= 0 || hidden > 65536) return bad(fmt::format("hidden size {} is out of range", hidden));
  if (n_layers <= 0 || n_layers > 1024) return bad(fmt::format("layer count {} is out of range", n_layers));
  if (n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0) {
    return bad(fmt::format("{} attention heads cannot be shared by {} key/value heads", n_heads, n_kv_heads));
  }
  if (head_dim <= 0 || head_dim > 1024 || (head_dim % 2) != 0) return bad(fmt::format("head_dim {} is invalid", head_dim));
  if (ffn <= 0 || ffn > (int64_t{1} << 20)) return bad(fmt::format("ffn size {} is out of range", ffn));
  if (context_length <= 0) return bad("context length must be positive");
  if (!(norm_eps > 0 && norm_eps < 1)) return bad(fmt::format("norm epsilon {} is out of range", norm_eps));
  if (!is_encoder() && !(rope_theta > 0)) return bad("rope theta must be positive");
  return ok();
}

namespace {

Result<Architecture> arch_from_name(std::string_view name, std::string_view source) {
  if (name == "llama") return Architecture::llama;
  if (name == "mistral") return Architecture::mistral;
  if (name == "qwen2") return Architecture::qwen2;
  if (name == "bert") return Architecture::bert;
  return error(StatusCode::unimplemented,
               fmt::format("{}: architecture '{}' is not supported (llama, mistral, qwen2, bert are)", source, name));
}

}  // namespace

Result<ModelConfig> config_from_gguf(const GgufFile& g) {
  ModelConfig c;
  auto arch_name = g.get_string("general.architecture");
  if (!arch_name) return error(arch_name.error());
  auto arch = arch_from_name(*arch_name, g.path());
  if (!arch) return error(arch.error());
  c.arch = *arch;
  const std::string a(*arch_name);
  if (auto name = g.get_string("general.name")) c.name = std::string(*name);

  auto get = [&](const std::string& key) { return g.get_int(a + "." + key); };
#define LLMP_READ_INT(field, key)          \
  do {                                     \
    auto v = get(key);                     \
    if (!v) return error(v.error());       \
    c.field = *v;                          \
  } while (0)
  LLMP_READ_INT(hidden, "embedding_length");
  LLMP_READ_INT(n_layers, "block_count");
  LLMP_READ_INT(n_heads, "attention.head_count");
  LLMP_READ_INT(ffn, "feed_forward_length");
  LLMP_READ_INT(context_length, "context_length");
#undef LLMP_READ_INT
  auto kv = g.get_int_or(a + ".attention.head_count_kv", c.n_heads);
  if (!kv) return error(kv.error());
  c.n_kv_heads = *kv;
  c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
  auto key_len = g.get_int_or(a + ".attention.key_length", c.head_dim);
  if (!key_len) return error(key_len.error());
  c.head_dim = *key_len;

  if (c.arch == Architecture::bert) {
    auto eps = g.get_float(a + ".attention.layer_norm_epsilon");
    if (!eps) return error(eps.error());
    c.norm_eps = *eps;
    auto pooling = g.get_int_or(a + ".pooling_type", 2);  // llama.cpp: 1 mean, 2 cls, 4 rank
    if (!pooling) return error(pooling.error());
    c.pooling = *pooling == 1 ? Pooling::mean : Pooling::cls;
    c.type_vocab_size = 2;
    c.normalize = *pooling != 4;
    if (*pooling == 4) c.n_labels = 1;
  } else {
    auto eps = g.get_float(a + ".attention.layer_norm_rms_epsilon");
    if (!eps) return error(eps.error());
    c.norm_eps = *eps;
    auto theta = g.get_float_or(a + ".rope.freq_base", 10000.0);
    if (!theta) return error(theta.error());
    c.rope_theta = *theta;
    // llama.cpp's converter stores Llama/Mistral q,k permuted for adjacent-pair RoPE; Qwen2
    // keeps the NeoX (rotate-half) layout.
    c.rope_layout = c.arch == Architecture::qwen2 ? RopeLayout::rotate_half : RopeLayout::interleaved;
    c.qkv_bias = c.arch == Architecture::qwen2;
    if (auto type = g.get_string(a + ".rope.scaling.type")) {
      c.rope_scaling.type = std::string(*type);
      auto factor = g.get_float_or(a + ".rope.scaling.factor", 1.0);
      if (!factor) return error(factor.error());
      c.rope_scaling.factor = *factor;
      auto orig = g.get_int_or(a + ".rope.scaling.original_context_length", c.context_length);
      if (!orig) return error(orig.error());
      c.rope_scaling.original_context = *orig;
    }
  }
  // vocab: the token list is the truth; the embedding table is checked against it later.
  if (auto tokens = g.find("tokenizer.ggml.tokens")) {
    if (const auto* list = std::get_if<std::vector<std::string_view>>(&tokens->value)) c.vocab_size = static_cast<int64_t>(list->size());
  }
  if (g.find(a + ".vocab_size")) {
    auto v = g.get_int(a + ".vocab_size");
    if (!v) return error(v.error());
    c.vocab_size = *v;
  }
  c.tied_embeddings = g.tensor("output.weight") == nullptr;
  if (auto r = c.validate(g.path()); !r) return error(r.error());
  return c;
}

namespace {

// Typed reads from config.json with errors that name the key.
struct JsonConfig {
  simdjson::dom::object obj;
  std::string_view source;

  Result<int64_t> integer(std::string_view key) const {
    int64_t v;
    auto e = obj[key].get(v);
    if (e == simdjson::NO_SUCH_FIELD) return error(StatusCode::not_found, fmt::format("{}: '{}' is missing", source, key));
    if (e) return error(StatusCode::invalid_argument, fmt::format("{}: '{}' must be an integer", source, key));
    return v;
  }
  Result<int64_t> integer_or(std::string_view key, int64_t fallback) const {
    if (obj[key].error() == simdjson::NO_SUCH_FIELD || obj[key].is_null()) return fallback;
    return integer(key);
  }
  Result<double> number_or(std::string_view key, double fallback) const {
    auto f = obj[key];
    if (f.error() == simdjson::NO_SUCH_FIELD || f.is_null()) return fallback;
    double d;
    if (f.get(d) == simdjson::SUCCESS) return d;
    int64_t i;
    if (f.get(i) == simdjson::SUCCESS) return static_cast<double>(i);
    return error(StatusCode::invalid_argument, fmt::format("{}: '{}' must be a number", source, key));
  }
  bool boolean_or(std::string_view key, bool fallback) const {
    bool b;
    return obj[key].get(b) == simdjson::SUCCESS ? b : fallback;
  }
  std::string string_or(std::string_view key, std::string_view fallback) const {
    std::string_view s;
    return obj[key].get(s) == simdjson::SUCCESS ? std::string(s) : std::string(fallback);
  }
};

}  // namespace

Result<ModelConfig> config_from_hf(std::string_view config_json, std::string_view pooling_json, std::string_view source) {
  simdjson::dom::parser parser;
  simdjson::padded_string text(config_json);
  simdjson::dom::object obj;
  if (parser.parse(text).get(obj) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("{}: not a JSON object", source));
  }
  JsonConfig j{obj, source};
  ModelConfig c;
  std::string model_type = j.string_or("model_type", "");
  if (model_type.empty()) return error(StatusCode::invalid_argument, fmt::format("{}: 'model_type' is missing", source));
  auto arch = arch_from_name(model_type, source);
  if (!arch) return error(arch.error());
  c.arch = *arch;
  c.name = j.string_or("_name_or_path", "");

#define LLMP_HF_INT(field, key)              \
  do {                                       \
    auto v = j.integer(key);                 \
    if (!v) return error(v.error());         \
    c.field = *v;                            \
  } while (0)
  LLMP_HF_INT(vocab_size, "vocab_size");
  LLMP_HF_INT(hidden, "hidden_size");
  LLMP_HF_INT(n_layers, "num_hidden_layers");
  LLMP_HF_INT(n_heads, "num_attention_heads");
  LLMP_HF_INT(ffn, "intermediate_size");
  LLMP_HF_INT(context_length, "max_position_embeddings");
#undef LLMP_HF_INT
  auto kv = j.integer_or("num_key_value_heads", c.n_heads);
  if (!kv) return error(kv.error());
  c.n_kv_heads = *kv;
  auto head_dim = j.integer_or("head_dim", c.n_heads > 0 ? c.hidden / c.n_heads : 0);
  if (!head_dim) return error(head_dim.error());
  c.head_dim = *head_dim;

  if (c.arch == Architecture::bert) {
    auto eps = j.number_or("layer_norm_eps", 1e-12);
    if (!eps) return error(eps.error());
    c.norm_eps = *eps;
    auto types = j.integer_or("type_vocab_size", 2);
    if (!types) return error(types.error());
    c.type_vocab_size = *types;
    const std::string act = j.string_or("hidden_act", "gelu");
    if (act != "gelu") return error(StatusCode::unimplemented, fmt::format("{}: hidden_act '{}' is not supported", source, act));
    // A sequence classifier (cross-encoder) names itself in "architectures".
    simdjson::dom::array archs;
    if (obj["architectures"].get(archs) == simdjson::SUCCESS) {
      for (auto a : archs) {
        std::string_view s;
        if (a.get(s) == simdjson::SUCCESS && s == "BertForSequenceClassification") {
          simdjson::dom::object id2label;
          c.n_labels = obj["id2label"].get(id2label) == simdjson::SUCCESS ? static_cast<int64_t>(id2label.size()) : 1;
          if (c.n_labels == 0) c.n_labels = 1;
        }
      }
    }
    c.pooling = Pooling::cls;
    c.normalize = c.n_labels == 0;
    if (!pooling_json.empty()) {
      simdjson::dom::parser pp;
      simdjson::padded_string ptext(pooling_json);
      simdjson::dom::object pobj;
      if (pp.parse(ptext).get(pobj) == simdjson::SUCCESS) {
        bool mean = false, cls = false;
        if (pobj["pooling_mode_mean_tokens"].get(mean) != simdjson::SUCCESS) mean = false;
        if (pobj["pooling_mode_cls_token"].get(cls) != simdjson::SUCCESS) cls = false;
        if (mean) c.pooling = Pooling::mean;
        else if (cls) c.pooling = Pooling::cls;
      }
    }
  } else {
    auto eps = j.number_or("rms_norm_eps", 1e-6);
    if (!eps) return error(eps.error());
    c.norm_eps = *eps;
    auto theta = j.number_or("rope_theta", 10000.0);
    if (!theta) return error(theta.error());
    c.rope_theta = *theta;
    c.rope_layout = RopeLayout::rotate_half;
    c.tied_embeddings = j.boolean_or("tie_word_embeddings", false);
    c.qkv_bias = c.arch == Architecture::qwen2 ? true : j.boolean_or("attention_bias", false);
    const std::string act = j.string_or("hidden_act", "silu");
    if (act != "silu") return error(StatusCode::unimplemented, fmt::format("{}: hidden_act '{}' is not supported", source, act));
    simdjson::dom::object scaling;
    if (obj["rope_scaling"].get(scaling) == simdjson::SUCCESS) {
      JsonConfig s{scaling, source};
      std::string type = s.string_or("rope_type", s.string_or("type", "none"));
      if (type != "llama3" && type != "linear" && type != "default") {
        return error(StatusCode::unimplemented, fmt::format("{}: rope_scaling type '{}' is not supported", source, type));
      }
      c.rope_scaling.type = type == "default" ? "none" : type;
      auto factor = s.number_or("factor", 1.0);
      auto low = s.number_or("low_freq_factor", 1.0);
      auto high = s.number_or("high_freq_factor", 4.0);
      auto orig = s.integer_or("original_max_position_embeddings", 8192);
      if (!factor || !low || !high || !orig) return error(StatusCode::invalid_argument, fmt::format("{}: bad rope_scaling", source));
      c.rope_scaling.factor = *factor;
      c.rope_scaling.low_freq_factor = *low;
      c.rope_scaling.high_freq_factor = *high;
      c.rope_scaling.original_context = *orig;
    }
  }
  if (auto r = c.validate(source); !r) return error(r.error());
  return c;
}

}  // namespace llmp::engine
