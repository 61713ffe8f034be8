#include "model/decoder.h"

#include <algorithm>

#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {

std::vector<float> to_f32(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.dtype, t.row(r), out.data() + r * t.cols(), t.cols());
  return out;
}

Decoder::Decoder(const ModelConfig& config, const ModelWeights& weights, ThreadPool& pool)
    : config_(config), weights_(weights), pool_(pool) {
  for (const auto& l : weights.layers) {
    LayerParams p;
    p.attn_norm = to_f32(*l.attn_norm);
    p.ffn_norm = to_f32(*l.ffn_norm);
    if (l.bq) {
      for (const Tensor* b : {l.bq, l.bk, l.bv}) {
        const auto v = to_f32(*b);
        p.qkv_bias.insert(p.qkv_bias.end(), v.begin(), v.end());
      }
    }
    p.qkv = FusedLinear({l.wq, l.wk, l.wv}, &pool);
    p.gate_up = FusedLinear({l.w_gate, l.w_up}, &pool);
    p.wo = prepare_linear(l.wo, &pool);
    p.w_down = prepare_linear(l.w_down, &pool);
    layers_.push_back(std::move(p));
  }
  output_norm_ = to_f32(*weights.output_norm);
  output_ = prepare_linear(weights.output, &pool);
  std::vector<float> factors;
  if (weights.rope_freqs) factors = to_f32(*weights.rope_freqs);
  rope_freqs_ = rope_frequencies(config, factors.empty() ? nullptr : factors.data());
  if (config.rope_scaling.type == "linear") rope_pos_scale_ = static_cast<float>(1.0 / config.rope_scaling.factor);
}

void Decoder::forward(std::span<const SequenceChunk> batch, KvStorage& kv, std::vector<float>& logits) {
  const auto& c = config_;
  const int64_t hidden = c.hidden, hd = c.head_dim;
  const int64_t q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;

  // Flatten: token t of the batch belongs to sequence seq_of[t] at position pos_of[t].
  std::vector<int64_t> seq_of, pos_of;
  std::vector<int64_t> logit_rows;  // batch token indices whose logits are wanted
  int64_t max_ctx = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& chunk = batch[s];
    for (size_t i = 0; i < chunk.tokens.size(); ++i) {
      const bool wanted = chunk.all_logits || (!chunk.no_logits && i + 1 == chunk.tokens.size());
      if (wanted) logit_rows.push_back(static_cast<int64_t>(seq_of.size()));
      seq_of.push_back(static_cast<int64_t>(s));
      pos_of.push_back(chunk.start_pos + static_cast<int64_t>(i));
    }
    max_ctx = std::max<int64_t>(max_ctx, chunk.start_pos + static_cast<int64_t>(chunk.tokens.size()));
  }
  const int64_t n = static_cast<int64_t>(seq_of.size());
  if (n == 0) {
    logits.clear();
    return;
  }
  auto fit = [](std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size));
  };
  const int64_t qkv_w = q_dim + 2 * kv_dim;
  fit(x_, n * hidden);
  fit(xn_, n * hidden);
  fit(qkv_, n * qkv_w);
  fit(attn_, n * q_dim);
  fit(gate_up_, n * 2 * c.ffn);
  fit(act_, n * c.ffn);

  // Embeddings.
  {
    int64_t t = 0;
    for (const auto& chunk : batch) {
      for (TokenId id : chunk.tokens) {
        dequantize_row(weights_.tok_embd->dtype, weights_.tok_embd->row(id), x_.data() + t * hidden, hidden);
        ++t;
      }
    }
  }

  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerParams& p = layers_[static_cast<size_t>(l)];
    pool_.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      rms_norm(x_.data() + b * hidden, p.attn_norm.data(), xn_.data() + b * hidden, e - b, hidden, static_cast<float>(c.norm_eps));
    });
    // q, k, v of every token: [n, q_dim | kv_dim | kv_dim].
    p.qkv.run(xn_.data(), n, qkv_.data(), p.qkv_bias.empty() ? nullptr : p.qkv_bias.data(), pool_, scratch_);
    auto q_of = [&](int64_t t) { return qkv_.data() + t * qkv_w; };
    auto k_of = [&](int64_t t) { return qkv_.data() + t * qkv_w + q_dim; };
    auto v_of = [&](int64_t t) { return qkv_.data() + t * qkv_w + q_dim + kv_dim; };

    // RoPE, then the new keys and values into the cache.
    pool_.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        for (int64_t h = 0; h < c.n_heads; ++h) {
          rope_apply(q_of(t) + h * hd, hd, pos_of[t], rope_freqs_.data(), c.rope_layout, rope_pos_scale_);
        }
        for (int64_t h = 0; h < c.n_kv_heads; ++h) {
          rope_apply(k_of(t) + h * hd, hd, pos_of[t], rope_freqs_.data(), c.rope_layout, rope_pos_scale_);
        }
        const auto& chunk = batch[static_cast<size_t>(seq_of[t])];
        kv_store(kv, l, chunk.blocks.data(), pos_of[t], k_of(t), v_of(t), c.n_kv_heads, hd);
      }
    });

    // Causal attention: token t sees positions [0, pos_of[t]] of its own sequence.
    pool_.parallel_for(n * c.n_heads, 1, [&](int64_t b, int64_t e) {
      // Each range runs on one thread; give it its own scores row.
      thread_local std::vector<float> scores;
      if (static_cast<int64_t>(scores.size()) < max_ctx) scores.resize(static_cast<size_t>(max_ctx));
      for (int64_t i = b; i < e; ++i) {
        const int64_t t = i / c.n_heads, h = i % c.n_heads;
        const auto& chunk = batch[static_cast<size_t>(seq_of[t])];
        attend_one_head(q_of(t) + h * hd, kv, l, h / group, chunk.blocks.data(), pos_of[t] + 1, hd,
                        attn_.data() + t * q_dim + h * hd, scores.data());
      }
    });
    matmul(p.wo, nullptr, attn_.data(), n, xn_.data(), hidden, pool_, scratch_);
    add_inplace(x_.data(), xn_.data(), n * hidden);

    pool_.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      rms_norm(x_.data() + b * hidden, p.ffn_norm.data(), xn_.data() + b * hidden, e - b, hidden, static_cast<float>(c.norm_eps));
    });
    // gate and up in one pass: [n, ffn | ffn]; then silu(gate) · up, contiguous for w_down.
    p.gate_up.run(xn_.data(), n, gate_up_.data(), nullptr, pool_, scratch_);
    pool_.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* act = act_.data() + t * c.ffn;
        const float* gu = gate_up_.data() + t * 2 * c.ffn;
        std::copy(gu, gu + c.ffn, act);
        silu_mul(act, gu + c.ffn, c.ffn);
      }
    });
    matmul(p.w_down, nullptr, act_.data(), n, xn_.data(), hidden, pool_, scratch_);
    add_inplace(x_.data(), xn_.data(), n * hidden);
  }

  // Final norm and the vocabulary projection, only for the rows asked for.
  const int64_t n_out = static_cast<int64_t>(logit_rows.size());
  if (n_out == 0) {
    logits.clear();
    return;
  }
  for (int64_t i = 0; i < n_out; ++i) {
    rms_norm(x_.data() + logit_rows[i] * hidden, output_norm_.data(), xn_.data() + i * hidden, 1, hidden,
             static_cast<float>(c.norm_eps));
  }
  logits.resize(static_cast<size_t>(n_out * c.vocab_size));
  matmul(output_, nullptr, xn_.data(), n_out, logits.data(), c.vocab_size, pool_, scratch_);
}

}  // namespace llmp::engine
