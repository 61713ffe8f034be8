#include "model/encoder.h"

#include <cmath>

#include "backend/cpu/ops.h"
#include "backend/cpu/quant.h"
#include "model/decoder.h"

namespace llmp::engine {

Encoder::Encoder(const ModelConfig& config, const ModelWeights& weights, ThreadPool& pool)
    : config_(config), weights_(weights), pool_(pool) {
  for (const auto& l : weights.layers) {
    layers_.push_back({to_f32(*l.bq), to_f32(*l.bk), to_f32(*l.bv), to_f32(*l.bo), to_f32(*l.attn_norm),
                       to_f32(*l.attn_norm_b), to_f32(*l.b_up), to_f32(*l.b_down), to_f32(*l.ffn_norm),
                       to_f32(*l.ffn_norm_b)});
  }
  embd_norm_ = to_f32(*weights.embd_norm);
  embd_norm_b_ = to_f32(*weights.embd_norm_b);
  if (weights.pooler_b) pooler_b_ = to_f32(*weights.pooler_b);
  if (weights.classifier_b) classifier_b_ = to_f32(*weights.classifier_b);
}

void Encoder::hidden_states(std::span<const TokenId> tokens, std::span<const int32_t> type_ids, std::vector<float>& out) {
  const auto& c = config_;
  const int64_t n = static_cast<int64_t>(tokens.size()), h = c.hidden, hd = c.head_dim, nh = c.n_heads;
  const float eps = static_cast<float>(c.norm_eps);
  x_.resize(static_cast<size_t>(n * h));
  q_.resize(x_.size());
  k_.resize(x_.size());
  v_.resize(x_.size());
  attn_.resize(x_.size());
  tmp_.resize(x_.size());
  up_.resize(static_cast<size_t>(n * c.ffn));

  std::vector<float> row(static_cast<size_t>(h));
  for (int64_t t = 0; t < n; ++t) {
    float* xt = tmp_.data() + t * h;
    dequantize_row(weights_.tok_embd->dtype, weights_.tok_embd->row(tokens[t]), xt, h);
    dequantize_row(weights_.pos_embd->dtype, weights_.pos_embd->row(t), row.data(), h);
    add_inplace(xt, row.data(), h);
    const int32_t type = type_ids.empty() ? 0 : type_ids[t];
    dequantize_row(weights_.type_embd->dtype, weights_.type_embd->row(type), row.data(), h);
    add_inplace(xt, row.data(), h);
  }
  layer_norm(tmp_.data(), embd_norm_.data(), embd_norm_b_.data(), x_.data(), n, h, eps);

  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerWeights& w = weights_.layers[l];
    const LayerParams& p = layers_[l];
    matmul(*w.wq, p.bq.data(), x_.data(), n, q_.data(), h, pool_, scratch_);
    matmul(*w.wk, p.bk.data(), x_.data(), n, k_.data(), h, pool_, scratch_);
    matmul(*w.wv, p.bv.data(), x_.data(), n, v_.data(), h, pool_, scratch_);
    // Bidirectional attention over the whole sequence, per (token, head).
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    pool_.parallel_for(n * nh, 1, [&](int64_t b, int64_t e) {
      std::vector<float> scores(static_cast<size_t>(n));
      for (int64_t i = b; i < e; ++i) {
        const int64_t t = i / nh, head = i % nh;
        const float* q = q_.data() + t * h + head * hd;
        for (int64_t s = 0; s < n; ++s) {
          const float* k = k_.data() + s * h + head * hd;
          float dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
          scores[static_cast<size_t>(s)] = dot * scale;
        }
        softmax(scores.data(), n);
        float* o = attn_.data() + t * h + head * hd;
        for (int64_t d = 0; d < hd; ++d) o[d] = 0;
        for (int64_t s = 0; s < n; ++s) {
          const float* v = v_.data() + s * h + head * hd;
          for (int64_t d = 0; d < hd; ++d) o[d] += scores[static_cast<size_t>(s)] * v[d];
        }
      }
    });
    matmul(*w.wo, p.bo.data(), attn_.data(), n, tmp_.data(), h, pool_, scratch_);
    add_inplace(tmp_.data(), x_.data(), n * h);
    layer_norm(tmp_.data(), p.attn_norm.data(), p.attn_norm_b.data(), x_.data(), n, h, eps);
    matmul(*w.w_up, p.b_up.data(), x_.data(), n, up_.data(), c.ffn, pool_, scratch_);
    gelu(up_.data(), n * c.ffn);
    matmul(*w.w_down, p.b_down.data(), up_.data(), n, tmp_.data(), h, pool_, scratch_);
    add_inplace(tmp_.data(), x_.data(), n * h);
    layer_norm(tmp_.data(), p.ffn_norm.data(), p.ffn_norm_b.data(), x_.data(), n, h, eps);
  }
  out.assign(x_.begin(), x_.begin() + n * h);
}

std::vector<float> Encoder::embed(std::span<const TokenId> tokens) {
  const int64_t h = config_.hidden, n = static_cast<int64_t>(tokens.size());
  std::vector<float> states;
  hidden_states(tokens, {}, states);
  std::vector<float> pooled(static_cast<size_t>(h), 0.0f);
  if (config_.pooling == Pooling::mean) {
    for (int64_t t = 0; t < n; ++t) add_inplace(pooled.data(), states.data() + t * h, h);
    for (auto& v : pooled) v /= static_cast<float>(n);
  } else {
    std::copy(states.begin(), states.begin() + h, pooled.begin());
  }
  if (config_.normalize) {
    double ss = 0;
    for (float v : pooled) ss += static_cast<double>(v) * v;
    const float inv = 1.0f / std::max(1e-12f, static_cast<float>(std::sqrt(ss)));
    for (auto& v : pooled) v *= inv;
  }
  return pooled;
}

std::vector<float> Encoder::classify(std::span<const TokenId> tokens, std::span<const int32_t> type_ids) {
  const int64_t h = config_.hidden;
  std::vector<float> states;
  hidden_states(tokens, type_ids, states);
  // BERT's pooler: tanh(W · h_[CLS] + b); then the classifier.
  std::vector<float> pooled(static_cast<size_t>(h));
  matmul(*weights_.pooler, pooler_b_.data(), states.data(), 1, pooled.data(), h, pool_, scratch_);
  for (auto& v : pooled) v = std::tanh(v);
  std::vector<float> logits(static_cast<size_t>(config_.n_labels));
  matmul(*weights_.classifier, classifier_b_.data(), pooled.data(), 1, logits.data(), config_.n_labels, pool_, scratch_);
  return logits;
}

}  // namespace llmp::engine
