#include "sampling/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "llmp/engine/structured_output.h"

namespace llmp::engine {

Result<void> SamplingParams::validate(size_t vocab_size) const {
  auto bad = [](const char* param, std::string msg) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' {}", param, msg));
  };
  if (!(temperature >= 0 && temperature <= 2)) return bad("temperature", "must be in [0, 2]");
  if (!(top_p > 0 && top_p <= 1)) return bad("top_p", "must be in (0, 1]");
  if (top_k < 0) return bad("top_k", "must be 0 (off) or positive");
  if (!(min_p >= 0 && min_p <= 1)) return bad("min_p", "must be in [0, 1]");
  if (!(repetition_penalty > 0 && repetition_penalty <= 10)) return bad("repetition_penalty", "must be in (0, 10]");
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) return bad("presence_penalty", "must be in [-2, 2]");
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) return bad("frequency_penalty", "must be in [-2, 2]");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) {
      return bad("logit_bias", fmt::format("has token id {} outside the vocabulary (0..{})", id, vocab_size - 1));
    }
    if (!(bias >= -100 && bias <= 100)) return bad("logit_bias", "values must be in [-100, 100]");
  }
  if (max_tokens < 1) return bad("max_tokens", "must be at least 1");
  if (min_tokens < 0 || min_tokens > max_tokens) return bad("min_tokens", "must be in [0, max_tokens]");
  if (stop.size() > 16) return bad("stop", "may hold at most 16 strings");
  for (const auto& s : stop) {
    if (s.empty()) return bad("stop", "strings must not be empty");
  }
  for (TokenId id : stop_token_ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) return bad("stop_token_ids", "has an id outside the vocabulary");
  }
  for (TokenId id : allowed_token_ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size) return bad("allowed_token_ids", "has an id outside the vocabulary");
  }
  for (const auto& word : bad_words) {
    if (word.empty()) return bad("bad_words", "must not hold an empty word");
    for (TokenId id : word) {
      if (id < 0 || static_cast<size_t>(id) >= vocab_size) return bad("bad_words", "has a token outside the vocabulary");
    }
  }
  if (n < 1 || n > 128) return bad("n", "must be in [1, 128]");
  if (top_logprobs < 0 || top_logprobs > 20) return bad("top_logprobs", "must be in [0, 20]");
  if (top_logprobs > 0 && !logprobs) return bad("top_logprobs", "needs logprobs to be true");
  if (prompt_logprobs < -1 || prompt_logprobs > 20) return bad("prompt_logprobs", "must be in [0, 20]");
  return ok();
}

Sampler::Sampler(const SamplingParams& params, uint64_t seed) : params_(params), rng_(seed) {}

void Sampler::observe_prompt(TokenId t) {
  if (params_.repetition_penalty != 1.0 && seen_set_.emplace(t, true).second) seen_.push_back(t);
}

void Sampler::observe_output(TokenId t) {
  const auto [it, inserted] = output_index_.emplace(t, output_ids_.size());
  if (inserted) {
    output_ids_.push_back(t);
    output_counts_.push_back(0);
  }
  ++output_counts_[it->second];
  if (params_.repetition_penalty != 1.0 && seen_set_.emplace(t, true).second) seen_.push_back(t);
}

TokenLogprob Sampler::logprobs_of(std::span<const float> logits, TokenId token, int top) {
  float max = -std::numeric_limits<float>::infinity();
  for (float l : logits) max = std::max(max, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  TokenLogprob out;
  out.token = token;
  out.logprob = logits[static_cast<size_t>(token)] - log_z;
  if (top > 0) {
    std::vector<std::pair<float, TokenId>> all(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) all[i] = {logits[i], static_cast<TokenId>(i)};
    const size_t k = std::min<size_t>(static_cast<size_t>(top), all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<long>(k), all.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (size_t i = 0; i < k; ++i) out.top.emplace_back(all[i].second, all[i].first - log_z);
  }
  return out;
}

TokenId Sampler::sample(std::span<float> logits, TokenLogprob* logprob, bool suppress_eos, std::span<const TokenId> eos_ids,
                        std::span<const uint64_t> allowed) {
  const auto& p = params_;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // Logprobs describe the model, not the sampling parameters: taken from the raw logits after
  // sampling (the chosen token is known then), so keep a copy only when asked.
  std::vector<float> raw;
  if (logprob && p.logprobs) raw.assign(logits.begin(), logits.end());

  if (!allowed.empty()) apply_token_mask(logits, allowed);
  for (const auto& [id, bias] : p.logit_bias) logits[static_cast<size_t>(id)] += bias;
  if (p.repetition_penalty != 1.0) {
    const float rp = static_cast<float>(p.repetition_penalty);
    for (TokenId id : seen_) {
      float& l = logits[static_cast<size_t>(id)];
      l = l > 0 ? l / rp : l * rp;
    }
  }
  if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    for (size_t i = 0; i < output_ids_.size(); ++i) {
      logits[static_cast<size_t>(output_ids_[i])] -= static_cast<float>(p.presence_penalty + p.frequency_penalty * output_counts_[i]);
    }
  }
  if (suppress_eos) {
    for (TokenId id : eos_ids) logits[static_cast<size_t>(id)] = neg_inf;
  }

  TokenId chosen;
  if (p.greedy()) {
    chosen = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  } else {
    const float inv_t = static_cast<float>(1.0 / p.temperature);
    float max = neg_inf;
    for (float l : logits) max = std::max(max, l);
    // Candidates in vocabulary order with their unnormalised probabilities; min_p drops
    // those below min_p · p(max) at once (p_i / p_max = exp((l_i - l_max) / T)).
    const float min_ratio = p.min_p > 0 ? static_cast<float>(p.min_p) : 0.0f;
    candidates_.clear();
    for (size_t i = 0; i < logits.size(); ++i) {
      const float w = std::exp((logits[i] - max) * inv_t);
      if (w > 0 && w >= min_ratio) candidates_.emplace_back(w, static_cast<TokenId>(i));
    }
    // The kept set is every candidate at or above one weight threshold (see the header).
    float threshold = 0;
    if (p.top_k > 0 && static_cast<size_t>(p.top_k) < candidates_.size()) {
      weights_.clear();
      for (const auto& c : candidates_) weights_.push_back(c.first);
      const auto kth = weights_.begin() + (p.top_k - 1);
      std::nth_element(weights_.begin(), kth, weights_.end(), std::greater<>());
      threshold = *kth;
    }
    if (p.top_p < 1.0) {
      weights_.clear();
      for (const auto& c : candidates_) {
        if (c.first >= threshold) weights_.push_back(c.first);
      }
      double total = 0;
      for (float w : weights_) total += w;
      // Sort only as far as needed: most distributions put top_p of their mass in a few tokens.
      size_t sorted = 0;
      double cumulative = 0;
      for (size_t window = 64;; window *= 4) {
        const size_t upto = std::min(window, weights_.size());
        std::partial_sort(weights_.begin() + static_cast<long>(sorted), weights_.begin() + static_cast<long>(upto),
                          weights_.end(), std::greater<>());
        bool found = false;
        for (size_t i = sorted; i < upto; ++i) {
          cumulative += weights_[i];
          if (cumulative >= p.top_p * total) {
            threshold = std::max(threshold, weights_[i]);
            found = true;
            break;
          }
        }
        sorted = upto;
        if (found || upto == weights_.size()) break;
      }
    }
    double total = 0;
    for (const auto& c : candidates_) {
      if (c.first >= threshold) total += c.first;
    }
    // One uniform draw per token from this sequence's own stream: reproducible per seed.
    const double u = next_uniform() * total;
    double acc = 0;
    chosen = 0;  // no candidate at all: every logit is -inf (a mask that allows nothing)
    for (const auto& c : candidates_) {
      if (c.first < threshold) continue;
      acc += c.first;
      chosen = c.second;
      if (acc > u) break;
    }
  }
  if (logprob && p.logprobs) *logprob = logprobs_of(raw, chosen, p.top_logprobs);
  return chosen;
}

}  // namespace llmp::engine
