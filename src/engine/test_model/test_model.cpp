#include "llmp/engine/test_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "backend/cpu/half.h"
#include "backend/cpu/quant.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "llmp/core/json.h"
#include "test_model/vocab_builder.h"

namespace llmp::engine {
namespace {

// Per-tensor deterministic values: the same (seed, name) gives the same numbers whatever the
// file format, so the GGUF and HF versions of a spec hold the same model.
class TensorRng {
 public:
  TensorRng(uint64_t seed, std::string_view name) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    s_ = h | 1;
  }
  // Uniform in [-1, 1).
  float next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<float>(static_cast<double>(s_ >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  }

 private:
  uint64_t s_;
};

// What a tensor's values look like: matrices scaled to keep activations near unit size,
// norms near 1, biases small.
enum class Init { matrix, norm, bias, embedding };

struct TensorPlan {
  std::string hf_name, gguf_name;
  std::vector<int64_t> shape;
  Init init;
  // Llama's q and k are stored permuted in GGUF (adjacent-pair RoPE); heads to permute by.
  int64_t permute_heads = 0;
  bool quantizable = true;  // 2-D weights take the requested dtype; norms and biases stay f32
};

std::vector<float> values(const TensorPlan& p, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : p.shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  TensorRng rng(seed, p.hf_name);
  const float fan_in = static_cast<float>(p.shape.back());
  // Uniform(-a, a) has standard deviation a / √3.
  const float a = p.init == Init::matrix ? std::sqrt(3.0f / fan_in)
                  : p.init == Init::embedding ? 1.0f
                  : p.init == Init::norm ? 0.1f
                                         : 0.02f;
  for (auto& x : v) x = rng.next() * a + (p.init == Init::norm ? 1.0f : 0.0f);
  return v;
}

// llama.cpp's convert_hf_to_gguf permute(): within each head, rows (i, i + d/2) become
// (2i, 2i + 1).
std::vector<float> permute_rows(const std::vector<float>& w, int64_t n_heads, int64_t rows, int64_t cols) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / n_heads;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < hd / 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t src = h * hd + j * (hd / 2) + i, dst = h * hd + i * 2 + j;
        std::memcpy(&out[static_cast<size_t>(dst * cols)], &w[static_cast<size_t>(src * cols)], static_cast<size_t>(cols) * 4);
      }
    }
  }
  return out;
}

std::vector<TensorPlan> plan_decoder(const TestModelSpec& s) {
  std::vector<TensorPlan> t;
  const int64_t hd = s.hidden / s.heads;
  const int64_t q = s.heads * hd, kv = s.kv_heads * hd;
  const bool permute = s.arch != "qwen2";
  t.push_back({"model.embed_tokens.weight", "token_embd.weight", {s.vocab, s.hidden}, Init::embedding});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string h = fmt::format("model.layers.{}.", i), g = fmt::format("blk.{}.", i);
    t.push_back({h + "input_layernorm.weight", g + "attn_norm.weight", {s.hidden}, Init::norm, 0, false});
    t.push_back({h + "self_attn.q_proj.weight", g + "attn_q.weight", {q, s.hidden}, Init::matrix, permute ? s.heads : 0});
    t.push_back({h + "self_attn.k_proj.weight", g + "attn_k.weight", {kv, s.hidden}, Init::matrix, permute ? s.kv_heads : 0});
    t.push_back({h + "self_attn.v_proj.weight", g + "attn_v.weight", {kv, s.hidden}, Init::matrix});
    if (s.arch == "qwen2") {
      t.push_back({h + "self_attn.q_proj.bias", g + "attn_q.bias", {q}, Init::bias, 0, false});
      t.push_back({h + "self_attn.k_proj.bias", g + "attn_k.bias", {kv}, Init::bias, 0, false});
      t.push_back({h + "self_attn.v_proj.bias", g + "attn_v.bias", {kv}, Init::bias, 0, false});
    }
    t.push_back({h + "self_attn.o_proj.weight", g + "attn_output.weight", {s.hidden, q}, Init::matrix});
    t.push_back({h + "post_attention_layernorm.weight", g + "ffn_norm.weight", {s.hidden}, Init::norm, 0, false});
    t.push_back({h + "mlp.gate_proj.weight", g + "ffn_gate.weight", {s.ffn, s.hidden}, Init::matrix});
    t.push_back({h + "mlp.up_proj.weight", g + "ffn_up.weight", {s.ffn, s.hidden}, Init::matrix});
    t.push_back({h + "mlp.down_proj.weight", g + "ffn_down.weight", {s.hidden, s.ffn}, Init::matrix});
  }
  t.push_back({"model.norm.weight", "output_norm.weight", {s.hidden}, Init::norm, 0, false});
  if (!s.tied_embeddings) t.push_back({"lm_head.weight", "output.weight", {s.vocab, s.hidden}, Init::matrix});
  return t;
}

std::vector<TensorPlan> plan_bert(const TestModelSpec& s) {
  std::vector<TensorPlan> t;
  const int64_t h = s.hidden;
  const std::string p = s.cross_encoder ? "bert." : "";
  t.push_back({p + "embeddings.word_embeddings.weight", "token_embd.weight", {s.vocab, h}, Init::embedding});
  t.push_back({p + "embeddings.position_embeddings.weight", "position_embd.weight", {s.context, h}, Init::embedding});
  t.push_back({p + "embeddings.token_type_embeddings.weight", "token_types.weight", {2, h}, Init::embedding});
  t.push_back({p + "embeddings.LayerNorm.weight", "token_embd_norm.weight", {h}, Init::norm, 0, false});
  t.push_back({p + "embeddings.LayerNorm.bias", "token_embd_norm.bias", {h}, Init::bias, 0, false});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string e = fmt::format("{}encoder.layer.{}.", p, i), g = fmt::format("blk.{}.", i);
    t.push_back({e + "attention.self.query.weight", g + "attn_q.weight", {h, h}, Init::matrix});
    t.push_back({e + "attention.self.query.bias", g + "attn_q.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "attention.self.key.weight", g + "attn_k.weight", {h, h}, Init::matrix});
    t.push_back({e + "attention.self.key.bias", g + "attn_k.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "attention.self.value.weight", g + "attn_v.weight", {h, h}, Init::matrix});
    t.push_back({e + "attention.self.value.bias", g + "attn_v.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "attention.output.dense.weight", g + "attn_output.weight", {h, h}, Init::matrix});
    t.push_back({e + "attention.output.dense.bias", g + "attn_output.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "attention.output.LayerNorm.weight", g + "attn_output_norm.weight", {h}, Init::norm, 0, false});
    t.push_back({e + "attention.output.LayerNorm.bias", g + "attn_output_norm.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "intermediate.dense.weight", g + "ffn_up.weight", {s.ffn, h}, Init::matrix});
    t.push_back({e + "intermediate.dense.bias", g + "ffn_up.bias", {s.ffn}, Init::bias, 0, false});
    t.push_back({e + "output.dense.weight", g + "ffn_down.weight", {h, s.ffn}, Init::matrix});
    t.push_back({e + "output.dense.bias", g + "ffn_down.bias", {h}, Init::bias, 0, false});
    t.push_back({e + "output.LayerNorm.weight", g + "layer_output_norm.weight", {h}, Init::norm, 0, false});
    t.push_back({e + "output.LayerNorm.bias", g + "layer_output_norm.bias", {h}, Init::bias, 0, false});
  }
  if (s.cross_encoder) {
    t.push_back({p + "pooler.dense.weight", "cls.weight", {h, h}, Init::matrix});
    t.push_back({p + "pooler.dense.bias", "cls.bias", {h}, Init::bias, 0, false});
    t.push_back({"classifier.weight", "cls.output.weight", {1, h}, Init::matrix});
    t.push_back({"classifier.bias", "cls.output.bias", {1}, Init::bias, 0, false});
  }
  return t;
}

// The dtype of a file's bulk weights: q4_k_m / q5_k_m are llama.cpp's mixtures of mostly Q4_K /
// Q5_K (see tensor_dtype).
std::optional<DType> file_dtype(const std::string& name) {
  if (name == "q4_k_m") return DType::q4_k;
  if (name == "q5_k_m") return DType::q5_k;
  return dtype_from_name(name);
}

// The dtype tensor `p` takes in a file of `dtype`. For q4_k_m and q5_k_m, as llama.cpp's
// quantiser (llama_tensor_get_type) for LLAMA_FTYPE_MOSTLY_Q4_K_M / Q5_K_M: Q6_K for the output
// matrix (the token embedding when it is tied) and for attn_v / ffn_down in the layers where it
// gives more bits; Q5_0 / Q5_1 / Q8_0 for those types where a row is no multiple of 256.
DType tensor_dtype(const TestModelSpec& s, const TensorPlan& p, DType dtype, bool has_output) {
  if (!p.quantizable) return DType::f32;
  if (s.dtype != "q4_k_m" && s.dtype != "q5_k_m") return dtype;
  const std::string& name = p.gguf_name;
  DType t = dtype;
  int layer = -1;
  char what[32] = {};
  if (name == "output.weight" || (!has_output && name == "token_embd.weight")) {
    t = DType::q6_k;
  } else if (std::sscanf(name.c_str(), "blk.%d.%31[a-z_]", &layer, what) == 2 &&
             (std::string(what) == "attn_v" || std::string(what) == "ffn_down")) {
    const int64_t n = s.layers;  // use_more_bits(i, n)
    if (layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2) t = DType::q6_k;
  }
  // Rows that are no whole number of 256-element super-blocks fall back as llama.cpp's do.
  if (p.shape.back() % 256 != 0) t = t == DType::q4_k ? DType::q5_0 : t == DType::q5_k ? DType::q5_1 : DType::q8_0;
  return t;
}

Result<void> validate(const TestModelSpec& s) {
  auto bad = [](std::string m) { return error(StatusCode::invalid_argument, std::move(m)); };
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "mistral" && s.arch != "bert") {
    return bad(fmt::format("--arch: '{}' is not llama, qwen2, mistral or bert", s.arch));
  }
  if (s.format != "gguf" && s.format != "hf") return bad(fmt::format("--format: '{}' is not gguf or hf", s.format));
  auto dtype = file_dtype(s.dtype);
  if (!dtype) return bad(fmt::format("--dtype: '{}' is not f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, q4_k_m or q5_k_m", s.dtype));
  if (s.format == "hf" && *dtype != DType::f32 && *dtype != DType::f16 && *dtype != DType::bf16) {
    return bad(fmt::format("--dtype {}: Hugging Face folders hold f32, f16 or bf16", s.dtype));
  }
  if (s.layers < 1 || s.layers > 256) return bad("--layers must be in [1, 256]");
  if (s.hidden < 8 || s.hidden > 16384) return bad("--hidden must be in [8, 16384]");
  if (s.heads < 1 || s.hidden % s.heads != 0) return bad("--heads must divide --hidden");
  if ((s.hidden / s.heads) % 2 != 0) return bad("--hidden / --heads (the head size) must be even");
  if (s.kv_heads < 1 || s.heads % s.kv_heads != 0) return bad("--kv-heads must divide --heads");
  if (s.ffn < 1 || s.ffn > 65536) return bad("--ffn must be in [1, 65536]");
  if (s.vocab < 64 || s.vocab > 262144) return bad("--vocab must be in [64, 262144]");
  if (s.context < 16 || s.context > 1 << 20) return bad("--context must be in [16, 1048576]");
  const bool mixture = s.dtype == "q4_k_m" || s.dtype == "q5_k_m";  // falls back to 32-element blocks
  const int64_t block = mixture ? 32 : dtype_info(*dtype).block_elems;
  if (s.hidden % block != 0 || s.ffn % block != 0) {
    return bad(fmt::format("--dtype {} needs --hidden and --ffn to be multiples of {}", s.dtype, block));
  }
  if (s.rope_scaling != "none" && s.rope_scaling != "llama3") return bad("--rope-scaling must be none or llama3");
  if (s.shards < 1 || s.shards > 64) return bad("--shards must be in [1, 64]");
  if (s.pooling != "mean" && s.pooling != "cls") return bad("--pooling must be mean or cls");
  if (s.out.empty()) return bad("--out is required");
  return ok();
}

// The values of one tensor in its target dtype, into `dst`.
void produce(const TensorPlan& p, DType dtype, bool gguf, uint64_t seed, uint8_t* dst) {
  std::vector<float> v = values(p, seed);
  if (gguf && p.permute_heads > 0) v = permute_rows(v, p.permute_heads, p.shape[0], p.shape.back());
  const int64_t cols = p.shape.back(), rows = static_cast<int64_t>(v.size()) / cols;
  for (int64_t r = 0; r < rows; ++r) quantize_row(dtype, v.data() + r * cols, dst + r * row_bytes(dtype, cols), cols);
}

Result<void> write_text(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return error(StatusCode::resource_exhausted, fmt::format("{}: cannot write", path.string()));
  return ok();
}

std::string tokenizer_json(const BuiltVocab& v) {
  const auto& spec = v.spec;
  std::string out;
  json::Writer w(out);
  w.begin_object().field("version", "1.0").key("truncation").null().key("padding").null();
  w.key("added_tokens").begin_array();
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    const TokenType t = spec.token_types[i];
    if (t != TokenType::control && t != TokenType::unknown && t != TokenType::user_defined) continue;
    w.begin_object()
        .field("id", static_cast<int64_t>(i))
        .field("content", spec.tokens[i])
        .field("single_word", false)
        .field("lstrip", false)
        .field("rstrip", false)
        .field("normalized", false)
        .field("special", t != TokenType::user_defined)
        .end_object();
  }
  w.end_array();
  auto vocab_object = [&] {
    w.key("vocab").begin_object();
    for (size_t i = 0; i < spec.tokens.size(); ++i) w.field(spec.tokens[i], static_cast<int64_t>(i));
    w.end_object();
  };
  if (spec.kind == TokenizerKind::byte_level_bpe) {
    w.key("normalizer").null();
    w.key("pre_tokenizer").begin_object().field("type", "Sequence").key("pretokenizers").begin_array();
    w.begin_object().field("type", "Split").key("pattern").begin_object().field("Regex", v.split_regex).end_object()
        .field("behavior", "Isolated").field("invert", false).end_object();
    w.begin_object().field("type", "ByteLevel").field("add_prefix_space", false).field("trim_offsets", true)
        .field("use_regex", false).end_object();
    w.end_array().end_object();
    w.key("post_processor").begin_object().field("type", "ByteLevel").field("add_prefix_space", true)
        .field("trim_offsets", false).field("use_regex", true).end_object();
    w.key("decoder").begin_object().field("type", "ByteLevel").field("add_prefix_space", true)
        .field("trim_offsets", true).field("use_regex", true).end_object();
    w.key("model").begin_object().field("type", "BPE").key("dropout").null().key("unk_token").null()
        .key("continuing_subword_prefix").null().key("end_of_word_suffix").null().field("fuse_unk", false)
        .field("byte_fallback", false).field("ignore_merges", v.gguf_pre == "llama-bpe");  // as Llama 3's own
    vocab_object();
    w.key("merges").begin_array();
    for (const auto& m : spec.merges) w.value(m);
    w.end_array().end_object();
  } else if (spec.kind == TokenizerKind::sentencepiece_bpe) {
    // The shape HF's LlamaTokenizerFast conversion gives: Replace(" ", "▁") + Prepend("▁").
    w.key("normalizer").begin_object().field("type", "Sequence").key("normalizers").begin_array();
    w.begin_object().field("type", "Prepend").field("prepend", "\xE2\x96\x81").end_object();
    w.begin_object().field("type", "Replace").key("pattern").begin_object().field("String", " ").end_object()
        .field("content", "\xE2\x96\x81").end_object();
    w.end_array().end_object();
    w.key("pre_tokenizer").null().key("post_processor").null();
    w.key("decoder").begin_object().field("type", "Sequence").key("decoders").begin_array();
    w.begin_object().field("type", "Replace").key("pattern").begin_object().field("String", "\xE2\x96\x81").end_object()
        .field("content", " ").end_object();
    w.begin_object().field("type", "ByteFallback").end_object();
    w.begin_object().field("type", "Fuse").end_object();
    w.begin_object().field("type", "Strip").field("content", " ").field("start", 1).field("stop", 0).end_object();
    w.end_array().end_object();
    w.key("model").begin_object().field("type", "BPE").key("dropout").null().field("unk_token", "<unk>")
        .key("continuing_subword_prefix").null().key("end_of_word_suffix").null().field("fuse_unk", true)
        .field("byte_fallback", true).field("ignore_merges", false);
    vocab_object();
    // Merges of a SentencePiece BPE, in score order: every normal piece that splits into two
    // known pieces, as HF's converter derives them.
    std::map<std::string, size_t> id;
    for (size_t i = 0; i < spec.tokens.size(); ++i) id[spec.tokens[i]] = i;
    std::vector<std::pair<float, std::string>> merges;
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      if (spec.token_types[i] != TokenType::normal) continue;
      const std::string& piece = spec.tokens[i];
      for (size_t cut = 1; cut < piece.size(); ++cut) {
        if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;
        auto a = id.find(piece.substr(0, cut)), b = id.find(piece.substr(cut));
        if (a != id.end() && b != id.end()) merges.emplace_back(-spec.scores[i], piece.substr(0, cut) + " " + piece.substr(cut));
      }
    }
    std::stable_sort(merges.begin(), merges.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    w.key("merges").begin_array();
    for (const auto& m : merges) w.value(m.second);
    w.end_array().end_object();
  } else {
    w.key("normalizer").begin_object().field("type", "BertNormalizer").field("clean_text", true)
        .field("handle_chinese_chars", true).key("strip_accents").null().field("lowercase", true).end_object();
    w.key("pre_tokenizer").begin_object().field("type", "BertPreTokenizer").end_object();
    w.key("post_processor").begin_object().field("type", "TemplateProcessing");
    w.key("single").begin_array();
    w.begin_object().key("SpecialToken").begin_object().field("id", "[CLS]").field("type_id", 0).end_object().end_object();
    w.begin_object().key("Sequence").begin_object().field("id", "A").field("type_id", 0).end_object().end_object();
    w.begin_object().key("SpecialToken").begin_object().field("id", "[SEP]").field("type_id", 0).end_object().end_object();
    w.end_array();
    w.key("pair").begin_array();
    w.begin_object().key("SpecialToken").begin_object().field("id", "[CLS]").field("type_id", 0).end_object().end_object();
    w.begin_object().key("Sequence").begin_object().field("id", "A").field("type_id", 0).end_object().end_object();
    w.begin_object().key("SpecialToken").begin_object().field("id", "[SEP]").field("type_id", 0).end_object().end_object();
    w.begin_object().key("Sequence").begin_object().field("id", "B").field("type_id", 1).end_object().end_object();
    w.begin_object().key("SpecialToken").begin_object().field("id", "[SEP]").field("type_id", 1).end_object().end_object();
    w.end_array();
    w.key("special_tokens").begin_object();
    for (const char* s : {"[CLS]", "[SEP]"}) {
      const auto it = std::find(spec.tokens.begin(), spec.tokens.end(), s);
      w.key(s).begin_object().field("id", s).key("ids").begin_array().value(static_cast<int64_t>(it - spec.tokens.begin()))
          .end_array().key("tokens").begin_array().value(s).end_array().end_object();
    }
    w.end_object().end_object();
    w.key("decoder").begin_object().field("type", "WordPiece").field("prefix", "##").field("cleanup", true).end_object();
    w.key("model").begin_object().field("type", "WordPiece").field("unk_token", "[UNK]")
        .field("continuing_subword_prefix", "##").field("max_input_chars_per_word", 100);
    vocab_object();
    w.end_object();
  }
  w.end_object();
  return out;
}

std::string tokenizer_config_json(const BuiltVocab& v) {
  const auto& s = v.spec;
  std::string out;
  json::Writer w(out);
  w.begin_object();
  auto token = [&](const char* key, std::optional<TokenId> id) {
    if (id) w.field(key, s.tokens[static_cast<size_t>(*id)]);
    else w.key(key).null();
  };
  if (s.kind == TokenizerKind::wordpiece) {
    w.field("do_lower_case", true).field("tokenizer_class", "BertTokenizer");
    token("cls_token", s.cls);
    token("sep_token", s.sep);
    token("unk_token", s.unk);
    token("pad_token", s.pad);
    token("mask_token", s.mask);
  } else {
    w.field("add_bos_token", s.add_bos).field("add_eos_token", s.add_eos);
    token("bos_token", s.bos);
    token("eos_token", s.eos);
    token("pad_token", s.pad);
    if (s.unk) token("unk_token", s.unk);
    w.field("chat_template", v.chat_template);
    w.field("tokenizer_class", "PreTrainedTokenizerFast");
  }
  w.field("model_max_length", int64_t{1} << 20).end_object();
  return out;
}

Result<void> write_hf(const TestModelSpec& s, const BuiltVocab& vocab, const std::vector<TensorPlan>& plan, DType dtype) {
  const std::filesystem::path dir(s.out);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error(StatusCode::permission_denied, fmt::format("{}: cannot create: {}", s.out, ec.message()));
  const int64_t hd = s.hidden / s.heads;

  std::string config;
  json::Writer w(config);
  w.begin_object();
  if (s.arch == "bert") {
    w.key("architectures").begin_array().value(s.cross_encoder ? "BertForSequenceClassification" : "BertModel").end_array();
    w.field("model_type", "bert").field("hidden_act", "gelu").field("layer_norm_eps", 1e-12)
        .field("type_vocab_size", 2).field("position_embedding_type", "absolute");
    if (s.cross_encoder) w.key("id2label").begin_object().field("0", "LABEL_0").end_object();
  } else {
    const char* arch = s.arch == "qwen2" ? "Qwen2ForCausalLM" : s.arch == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM";
    w.key("architectures").begin_array().value(arch).end_array();
    w.field("model_type", s.arch).field("hidden_act", "silu").field("rms_norm_eps", 1e-5).field("rope_theta", 500000.0)
        .field("num_key_value_heads", s.kv_heads).field("head_dim", hd).field("tie_word_embeddings", s.tied_embeddings)
        .field("attention_bias", false);
    if (vocab.spec.bos) w.field("bos_token_id", static_cast<int64_t>(*vocab.spec.bos));
    if (vocab.spec.eos) w.field("eos_token_id", static_cast<int64_t>(*vocab.spec.eos));
    if (s.rope_scaling == "llama3") {
      w.key("rope_scaling").begin_object().field("rope_type", "llama3").field("factor", 8.0)
          .field("low_freq_factor", 1.0).field("high_freq_factor", 4.0)
          .field("original_max_position_embeddings", static_cast<int64_t>(std::min<int64_t>(s.context, 8192) / 4)).end_object();
    }
  }
  w.field("vocab_size", s.vocab).field("hidden_size", s.hidden).field("num_hidden_layers", s.layers)
      .field("num_attention_heads", s.heads).field("intermediate_size", s.ffn).field("max_position_embeddings", s.context)
      .field("torch_dtype", dtype == DType::f32 ? "float32" : dtype == DType::f16 ? "float16" : "bfloat16")
      .field("_name_or_path", fmt::format("llmplatform-test-{}", s.arch)).end_object();
  LLMP_TRY_VOID(write_text(dir / "config.json", config));
  LLMP_TRY_VOID(write_text(dir / "tokenizer.json", tokenizer_json(vocab)));
  LLMP_TRY_VOID(write_text(dir / "tokenizer_config.json", tokenizer_config_json(vocab)));
  if (s.arch == "bert") {
    std::filesystem::create_directories(dir / "1_Pooling", ec);
    LLMP_TRY_VOID(write_text(dir / "1_Pooling" / "config.json",
                             fmt::format(R"({{"word_embedding_dimension": {}, "pooling_mode_cls_token": {}, "pooling_mode_mean_tokens": {}}})",
                                         s.hidden, s.pooling == "cls" ? "true" : "false", s.pooling == "mean" ? "true" : "false")));
  } else {
    std::string gen;
    json::Writer g(gen);
    g.begin_object();
    if (vocab.spec.bos) g.field("bos_token_id", static_cast<int64_t>(*vocab.spec.bos));
    g.key("eos_token_id").begin_array();
    for (TokenId id : vocab.spec.eog) g.value(static_cast<int64_t>(id));
    g.end_array().end_object();
    LLMP_TRY_VOID(write_text(dir / "generation_config.json", gen));
  }

  // Tensors split over shards in order; norms and biases keep f32 precision only when the
  // whole model is f32 (as HF checkpoints store everything in one dtype).
  std::vector<SafetensorsWriter> shards(static_cast<size_t>(s.shards));
  for (size_t i = 0; i < plan.size(); ++i) {
    const TensorPlan& p = plan[i];
    auto& shard = shards[i * shards.size() / plan.size()];
    shard.add_tensor(p.hf_name, dtype, p.shape, [&p, dtype, seed = s.seed](uint8_t* dst) { produce(p, dtype, false, seed, dst); });
  }
  if (s.shards == 1) return shards[0].write((dir / "model.safetensors").string());
  std::string index;
  json::Writer iw(index);
  iw.begin_object().key("metadata").begin_object().end_object().key("weight_map").begin_object();
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, shards.size());
    for (size_t i = 0; i < shards[k].size(); ++i) iw.field(shards[k].name(i), name);
    LLMP_TRY_VOID(shards[k].write((dir / name).string()));
  }
  iw.end_object().end_object();
  return write_text(dir / "model.safetensors.index.json", index);
}

// llama.cpp's LLAMA_FTYPE_MOSTLY_* for a file of `t` (the _M mixtures: `mixture`).
uint32_t gguf_file_type(DType t, bool mixture) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f16: return 1;
    case DType::q4_0: return 2;
    case DType::q8_0: return 7;
    case DType::q4_1: return 3;
    case DType::q5_0: return 8;
    case DType::q5_1: return 9;
    case DType::q2_k: return 10;                 // Q2_K
    case DType::q3_k: return 11;                 // Q3_K_S
    case DType::q4_k: return mixture ? 15 : 14;  // Q4_K_M / Q4_K_S
    case DType::q5_k: return mixture ? 17 : 16;  // Q5_K_M / Q5_K_S
    case DType::q6_k: return 18;
    case DType::iq4_nl: return 25;  // LLAMA_FTYPE_MOSTLY_IQ4_NL
    case DType::iq4_xs: return 30;  // LLAMA_FTYPE_MOSTLY_IQ4_XS
    case DType::bf16: return 32;
  }
  return 0;
}

Result<void> write_gguf(const TestModelSpec& s, const BuiltVocab& vocab, const std::vector<TensorPlan>& plan, DType dtype) {
  GgufWriter g;
  const bool bert = s.arch == "bert";
  const std::string a = bert ? "bert" : s.arch == "qwen2" ? "qwen2" : "llama";  // Mistral converts as llama
  g.add_metadata("general.architecture", a);
  g.add_metadata("general.name", fmt::format("llmplatform-test-{}", s.arch));
  g.add_metadata("general.file_type", gguf_file_type(dtype, s.dtype == "q4_k_m" || s.dtype == "q5_k_m"));
  g.add_metadata(a + ".context_length", static_cast<uint32_t>(s.context));
  g.add_metadata(a + ".embedding_length", static_cast<uint32_t>(s.hidden));
  g.add_metadata(a + ".block_count", static_cast<uint32_t>(s.layers));
  g.add_metadata(a + ".feed_forward_length", static_cast<uint32_t>(s.ffn));
  g.add_metadata(a + ".attention.head_count", static_cast<uint32_t>(s.heads));
  if (bert) {
    g.add_metadata(a + ".attention.layer_norm_epsilon", 1e-12f);
    g.add_metadata(a + ".attention.causal", false);
    g.add_metadata(a + ".pooling_type", static_cast<uint32_t>(s.cross_encoder ? 4 : s.pooling == "mean" ? 1 : 2));
  } else {
    g.add_metadata(a + ".attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
    g.add_metadata(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    g.add_metadata(a + ".rope.freq_base", 500000.0f);
    g.add_metadata(a + ".rope.dimension_count", static_cast<uint32_t>(s.hidden / s.heads));
    g.add_metadata(a + ".vocab_size", static_cast<uint32_t>(s.vocab));
  }
  const auto& spec = vocab.spec;
  std::vector<std::string> tokens = spec.tokens;
  if (bert) {
    // llama.cpp's BERT vocabularies carry a phantom space instead of "##".
    for (auto& t : tokens) {
      if (t.starts_with("##")) t = t.substr(2);
      else if (!(t.size() >= 2 && t.front() == '[' && t.back() == ']')) t = "\xE2\x96\x81" + t;
    }
  }
  g.add_metadata("tokenizer.ggml.model", std::string(spec.kind == TokenizerKind::byte_level_bpe ? "gpt2"
                                                     : spec.kind == TokenizerKind::sentencepiece_bpe ? "llama" : "bert"));
  if (spec.kind == TokenizerKind::byte_level_bpe) g.add_metadata("tokenizer.ggml.pre", vocab.gguf_pre);
  g.add_metadata("tokenizer.ggml.tokens", tokens);
  std::vector<int32_t> types;
  for (auto t : spec.token_types) types.push_back(static_cast<int32_t>(t));
  g.add_metadata("tokenizer.ggml.token_type", types);
  if (!spec.scores.empty()) g.add_metadata("tokenizer.ggml.scores", spec.scores);
  if (!spec.merges.empty()) g.add_metadata("tokenizer.ggml.merges", spec.merges);
  auto id = [&](const char* key, std::optional<TokenId> v) {
    if (v) g.add_metadata(key, static_cast<uint32_t>(*v));
  };
  id("tokenizer.ggml.bos_token_id", spec.bos);
  id("tokenizer.ggml.eos_token_id", spec.eos);
  id("tokenizer.ggml.unknown_token_id", spec.unk);
  id("tokenizer.ggml.padding_token_id", spec.pad);
  id("tokenizer.ggml.seperator_token_id", spec.sep);
  id("tokenizer.ggml.cls_token_id", spec.cls);
  id("tokenizer.ggml.mask_token_id", spec.mask);
  if (s.arch == "llama") {
    const auto eot = std::find(spec.tokens.begin(), spec.tokens.end(), "<|eot_id|>");
    if (eot != spec.tokens.end()) g.add_metadata("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(eot - spec.tokens.begin()));
  }
  g.add_metadata("tokenizer.ggml.add_bos_token", spec.add_bos);
  g.add_metadata("tokenizer.ggml.add_eos_token", spec.add_eos);
  if (spec.kind == TokenizerKind::sentencepiece_bpe) g.add_metadata("tokenizer.ggml.add_space_prefix", true);
  if (!vocab.chat_template.empty()) g.add_metadata("tokenizer.chat_template", vocab.chat_template);

  const bool has_output = std::any_of(plan.begin(), plan.end(), [](const TensorPlan& p) { return p.gguf_name == "output.weight"; });
  for (const auto& p : plan) {
    const DType t = tensor_dtype(s, p, dtype, has_output);
    g.add_tensor(p.gguf_name, t, p.shape, [&p, t, seed = s.seed](uint8_t* dst) { produce(p, t, true, seed, dst); });
  }
  if (s.rope_scaling == "llama3" && !bert) {
    // As llama.cpp's converter: per-frequency divisors of Llama 3.1's scaling.
    const int64_t hd = s.hidden / s.heads;
    const double base = 500000.0, factor = 8.0, low = 1.0, high = 4.0;
    const double old_ctx = static_cast<double>(std::min<int64_t>(s.context, 8192) / 4);
    std::vector<float> factors;
    for (int64_t i = 0; i < hd; i += 2) {
      const double freq = 1.0 / std::pow(base, static_cast<double>(i) / static_cast<double>(hd));
      const double wavelen = 2 * M_PI / freq;
      if (wavelen < old_ctx / high) factors.push_back(1.0f);
      else if (wavelen > old_ctx / low) factors.push_back(static_cast<float>(factor));
      else {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        factors.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
      }
    }
    g.add_tensor("rope_freqs.weight", DType::f32, {hd / 2},
                 [factors](uint8_t* dst) { std::memcpy(dst, factors.data(), factors.size() * 4); });
  }
  const std::filesystem::path out(s.out);
  if (out.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(out.parent_path(), ec);
  }
  return g.write(s.out);
}

}  // namespace

Result<void> create_test_model(const TestModelSpec& s) {
  LLMP_TRY_VOID(validate(s));
  const DType dtype = *file_dtype(s.dtype);
  const VocabStyle style = s.arch == "llama" ? VocabStyle::llama3
                           : s.arch == "qwen2" ? VocabStyle::qwen2
                           : s.arch == "mistral" ? VocabStyle::mistral
                                                 : VocabStyle::bert;
  const int64_t n_added = static_cast<int64_t>(s.added_tokens.size());
  auto vocab = build_vocab(style, s.vocab - n_added);
  if (!vocab) return error(vocab.error());
  for (const auto& text : s.added_tokens) {
    if (text.empty() || std::find(vocab->spec.tokens.begin(), vocab->spec.tokens.end(), text) != vocab->spec.tokens.end()) {
      return error(StatusCode::invalid_argument, fmt::format("--added-token '{}' is empty or already in the vocabulary", text));
    }
    vocab->spec.tokens.push_back(text);
    vocab->spec.token_types.push_back(TokenType::user_defined);
    if (!vocab->spec.scores.empty()) vocab->spec.scores.push_back(0);
  }
  const auto plan = s.arch == "bert" ? plan_bert(s) : plan_decoder(s);
  return s.format == "hf" ? write_hf(s, *vocab, plan, dtype) : write_gguf(s, *vocab, plan, dtype);
}

Result<TestModelSpec> parse_test_model_args(int argc, char** argv) {
  TestModelSpec s;
  std::map<std::string, std::function<Result<void>(const std::string&)>> flags;
  auto int_flag = [&](int64_t* target) {
    return [target](const std::string& v) -> Result<void> {
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') return error(StatusCode::invalid_argument, fmt::format("'{}' is not an integer", v));
      *target = x;
      return ok();
    };
  };
  auto str_flag = [](std::string* target) {
    return [target](const std::string& v) -> Result<void> {
      *target = v;
      return ok();
    };
  };
  flags["--arch"] = str_flag(&s.arch);
  flags["--format"] = str_flag(&s.format);
  flags["--dtype"] = str_flag(&s.dtype);
  flags["--layers"] = int_flag(&s.layers);
  flags["--hidden"] = int_flag(&s.hidden);
  flags["--heads"] = int_flag(&s.heads);
  flags["--kv-heads"] = int_flag(&s.kv_heads);
  flags["--ffn"] = int_flag(&s.ffn);
  flags["--vocab"] = int_flag(&s.vocab);
  flags["--context"] = int_flag(&s.context);
  flags["--rope-scaling"] = str_flag(&s.rope_scaling);
  flags["--shards"] = int_flag(&s.shards);
  flags["--pooling"] = str_flag(&s.pooling);
  flags["--out"] = str_flag(&s.out);
  flags["--added-token"] = [&s](const std::string& v) -> Result<void> {
    s.added_tokens.push_back(v);
    return ok();
  };
  int64_t seed = 1;
  flags["--seed"] = int_flag(&seed);
  bool kv_given = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--tied-embeddings") {
      s.tied_embeddings = true;
      continue;
    }
    if (arg == "--cross-encoder") {
      s.cross_encoder = true;
      continue;
    }
    std::string value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return error(StatusCode::invalid_argument, fmt::format("{} needs a value", arg));
    }
    auto it = flags.find(arg);
    if (it == flags.end()) return error(StatusCode::invalid_argument, fmt::format("unknown argument '{}'", arg));
    if (auto r = it->second(value); !r) return error(r.error().code(), fmt::format("{}: {}", arg, r.error().message()));
    kv_given |= arg == "--kv-heads";
  }
  s.seed = static_cast<uint64_t>(seed);
  if (!kv_given && (s.arch == "bert" || s.heads % s.kv_heads != 0)) s.kv_heads = s.heads;
  return s;
}

}  // namespace llmp::engine
