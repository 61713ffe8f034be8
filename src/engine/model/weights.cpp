#include "model/weights.h"

#include <fmt/format.h>

#include <algorithm>

namespace llmp::engine {
namespace {

class Binder {
 public:
  Binder(const TensorSource& src, ModelWeights& w) : src_(src), w_(w) {}

  //! A required tensor with exactly `shape`.
  Result<const Tensor*> need(const std::string& name, std::vector<int64_t> shape) {
    const Tensor* t = src_.find(name);
    if (!t) return error(StatusCode::invalid_argument, fmt::format("{}: tensor '{}' is missing", src_.describe(), name));
    return check(t, std::move(shape));
  }
  //! An optional tensor; checked when present.
  Result<const Tensor*> maybe(const std::string& name, std::vector<int64_t> shape) {
    const Tensor* t = src_.find(name);
    if (!t) return static_cast<const Tensor*>(nullptr);
    return check(t, std::move(shape));
  }

 private:
  Result<const Tensor*> check(const Tensor* t, std::vector<int64_t> shape) {
    // 1-D tensors may be stored as [n] or [1, n].
    std::vector<int64_t> got = t->shape;
    while (got.size() > shape.size() && got.front() == 1) got.erase(got.begin());
    if (got != shape) {
      Tensor expected;
      expected.shape = shape;
      return error(StatusCode::invalid_argument,
                   fmt::format("{}: tensor '{}' has shape {}, the config implies {}", src_.describe(), t->name,
                               t->shape_string(), expected.shape_string()));
    }
    if (std::find(seen_.begin(), seen_.end(), t) == seen_.end()) {
      seen_.push_back(t);
      w_.total_bytes += t->bytes;
    }
    return t;
  }
  const TensorSource& src_;
  ModelWeights& w_;
  std::vector<const Tensor*> seen_;
};

#define LLMP_BIND(target, expr)              \
  do {                                       \
    auto bound_ = (expr);                    \
    if (!bound_) return error(bound_.error()); \
    target = *bound_;                        \
  } while (0)

Result<ModelWeights> bind_decoder(const ModelConfig& c, const TensorSource& src, bool gguf) {
  ModelWeights w;
  Binder b(src, w);
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  LLMP_BIND(w.tok_embd, b.need(gguf ? "token_embd.weight" : "model.embed_tokens.weight", {c.vocab_size, c.hidden}));
  LLMP_BIND(w.output_norm, b.need(gguf ? "output_norm.weight" : "model.norm.weight", {c.hidden}));
  if (c.tied_embeddings) {
    w.output = w.tok_embd;
  } else {
    LLMP_BIND(w.output, b.need(gguf ? "output.weight" : "lm_head.weight", {c.vocab_size, c.hidden}));
  }
  if (gguf) LLMP_BIND(w.rope_freqs, b.maybe("rope_freqs.weight", {c.head_dim / 2}));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights l;
    const std::string p = gguf ? fmt::format("blk.{}.", i) : fmt::format("model.layers.{}.", i);
    auto name = [&](const char* g, const char* h) { return p + (gguf ? g : h); };
    LLMP_BIND(l.attn_norm, b.need(name("attn_norm.weight", "input_layernorm.weight"), {c.hidden}));
    LLMP_BIND(l.wq, b.need(name("attn_q.weight", "self_attn.q_proj.weight"), {q_dim, c.hidden}));
    LLMP_BIND(l.wk, b.need(name("attn_k.weight", "self_attn.k_proj.weight"), {kv_dim, c.hidden}));
    LLMP_BIND(l.wv, b.need(name("attn_v.weight", "self_attn.v_proj.weight"), {kv_dim, c.hidden}));
    LLMP_BIND(l.wo, b.need(name("attn_output.weight", "self_attn.o_proj.weight"), {c.hidden, q_dim}));
    if (c.qkv_bias) {
      LLMP_BIND(l.bq, b.need(name("attn_q.bias", "self_attn.q_proj.bias"), {q_dim}));
      LLMP_BIND(l.bk, b.need(name("attn_k.bias", "self_attn.k_proj.bias"), {kv_dim}));
      LLMP_BIND(l.bv, b.need(name("attn_v.bias", "self_attn.v_proj.bias"), {kv_dim}));
    }
    LLMP_BIND(l.ffn_norm, b.need(name("ffn_norm.weight", "post_attention_layernorm.weight"), {c.hidden}));
    LLMP_BIND(l.w_gate, b.need(name("ffn_gate.weight", "mlp.gate_proj.weight"), {c.ffn, c.hidden}));
    LLMP_BIND(l.w_up, b.need(name("ffn_up.weight", "mlp.up_proj.weight"), {c.ffn, c.hidden}));
    LLMP_BIND(l.w_down, b.need(name("ffn_down.weight", "mlp.down_proj.weight"), {c.hidden, c.ffn}));
    w.layers.push_back(l);
  }
  return w;
}

Result<ModelWeights> bind_bert(const ModelConfig& c, const TensorSource& src, bool gguf) {
  ModelWeights w;
  Binder b(src, w);
  const int64_t h = c.hidden;
  // HF sequence classifiers prefix the encoder with "bert."; plain encoders do not.
  std::string hp = (!gguf && src.find("bert.embeddings.word_embeddings.weight")) ? "bert." : "";
  if (gguf) {
    LLMP_BIND(w.tok_embd, b.need("token_embd.weight", {c.vocab_size, h}));
    LLMP_BIND(w.pos_embd, b.need("position_embd.weight", {c.context_length, h}));
    LLMP_BIND(w.type_embd, b.need("token_types.weight", {c.type_vocab_size, h}));
    LLMP_BIND(w.embd_norm, b.need("token_embd_norm.weight", {h}));
    LLMP_BIND(w.embd_norm_b, b.need("token_embd_norm.bias", {h}));
  } else {
    LLMP_BIND(w.tok_embd, b.need(hp + "embeddings.word_embeddings.weight", {c.vocab_size, h}));
    LLMP_BIND(w.pos_embd, b.need(hp + "embeddings.position_embeddings.weight", {c.context_length, h}));
    LLMP_BIND(w.type_embd, b.need(hp + "embeddings.token_type_embeddings.weight", {c.type_vocab_size, h}));
    LLMP_BIND(w.embd_norm, b.need(hp + "embeddings.LayerNorm.weight", {h}));
    LLMP_BIND(w.embd_norm_b, b.need(hp + "embeddings.LayerNorm.bias", {h}));
  }
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights l;
    if (gguf) {
      const std::string p = fmt::format("blk.{}.", i);
      LLMP_BIND(l.wq, b.need(p + "attn_q.weight", {h, h}));
      LLMP_BIND(l.bq, b.need(p + "attn_q.bias", {h}));
      LLMP_BIND(l.wk, b.need(p + "attn_k.weight", {h, h}));
      LLMP_BIND(l.bk, b.need(p + "attn_k.bias", {h}));
      LLMP_BIND(l.wv, b.need(p + "attn_v.weight", {h, h}));
      LLMP_BIND(l.bv, b.need(p + "attn_v.bias", {h}));
      LLMP_BIND(l.wo, b.need(p + "attn_output.weight", {h, h}));
      LLMP_BIND(l.bo, b.need(p + "attn_output.bias", {h}));
      LLMP_BIND(l.attn_norm, b.need(p + "attn_output_norm.weight", {h}));
      LLMP_BIND(l.attn_norm_b, b.need(p + "attn_output_norm.bias", {h}));
      LLMP_BIND(l.w_up, b.need(p + "ffn_up.weight", {c.ffn, h}));
      LLMP_BIND(l.b_up, b.need(p + "ffn_up.bias", {c.ffn}));
      LLMP_BIND(l.w_down, b.need(p + "ffn_down.weight", {h, c.ffn}));
      LLMP_BIND(l.b_down, b.need(p + "ffn_down.bias", {h}));
      LLMP_BIND(l.ffn_norm, b.need(p + "layer_output_norm.weight", {h}));
      LLMP_BIND(l.ffn_norm_b, b.need(p + "layer_output_norm.bias", {h}));
    } else {
      const std::string p = fmt::format("{}encoder.layer.{}.", hp, i);
      LLMP_BIND(l.wq, b.need(p + "attention.self.query.weight", {h, h}));
      LLMP_BIND(l.bq, b.need(p + "attention.self.query.bias", {h}));
      LLMP_BIND(l.wk, b.need(p + "attention.self.key.weight", {h, h}));
      LLMP_BIND(l.bk, b.need(p + "attention.self.key.bias", {h}));
      LLMP_BIND(l.wv, b.need(p + "attention.self.value.weight", {h, h}));
      LLMP_BIND(l.bv, b.need(p + "attention.self.value.bias", {h}));
      LLMP_BIND(l.wo, b.need(p + "attention.output.dense.weight", {h, h}));
      LLMP_BIND(l.bo, b.need(p + "attention.output.dense.bias", {h}));
      LLMP_BIND(l.attn_norm, b.need(p + "attention.output.LayerNorm.weight", {h}));
      LLMP_BIND(l.attn_norm_b, b.need(p + "attention.output.LayerNorm.bias", {h}));
      LLMP_BIND(l.w_up, b.need(p + "intermediate.dense.weight", {c.ffn, h}));
      LLMP_BIND(l.b_up, b.need(p + "intermediate.dense.bias", {c.ffn}));
      LLMP_BIND(l.w_down, b.need(p + "output.dense.weight", {h, c.ffn}));
      LLMP_BIND(l.b_down, b.need(p + "output.dense.bias", {h}));
      LLMP_BIND(l.ffn_norm, b.need(p + "output.LayerNorm.weight", {h}));
      LLMP_BIND(l.ffn_norm_b, b.need(p + "output.LayerNorm.bias", {h}));
    }
    w.layers.push_back(l);
  }
  if (c.n_labels > 0) {
    if (gguf) {
      LLMP_BIND(w.pooler, b.need("cls.weight", {h, h}));
      LLMP_BIND(w.pooler_b, b.need("cls.bias", {h}));
      LLMP_BIND(w.classifier, b.need("cls.output.weight", {c.n_labels, h}));
      LLMP_BIND(w.classifier_b, b.need("cls.output.bias", {c.n_labels}));
    } else {
      LLMP_BIND(w.pooler, b.need(hp + "pooler.dense.weight", {h, h}));
      LLMP_BIND(w.pooler_b, b.need(hp + "pooler.dense.bias", {h}));
      LLMP_BIND(w.classifier, b.need("classifier.weight", {c.n_labels, h}));
      LLMP_BIND(w.classifier_b, b.need("classifier.bias", {c.n_labels}));
    }
  }
  return w;
}

#undef LLMP_BIND

}  // namespace

Result<ModelWeights> bind_weights(const ModelConfig& config, const TensorSource& source, bool gguf_names) {
  if (config.arch == Architecture::bert) return bind_bert(config, source, gguf_names);
  return bind_decoder(config, source, gguf_names);
}

}  // namespace llmp::engine
