#pragma once
// Drives the decoder for one sequence the simplest way (its own blocks, in order), for tests
// that compare logits and greedy tokens with references.

#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "model/decoder.h"
#include "model/loaded_model.h"

namespace llmp::test {
using namespace llmp::engine;

class DecodeRunner {
 public:
  explicit DecodeRunner(std::unique_ptr<LoadedModel> model, int threads = 2, int64_t block_size = 16,
                        int64_t max_tokens = 512, KvType kv_type = KvType::f16)
      : model_(std::move(model)), pool_(threads), decoder_(model_->config, model_->weights, pool_) {
    const auto& c = model_->config;
    const int64_t n_blocks = (max_tokens + block_size - 1) / block_size;
    kv_ = std::make_unique<KvStorage>(*KvStorage::create(c.n_layers, c.n_kv_heads, c.head_dim, block_size, n_blocks, kv_type));
    // Blocks in reverse order: positions must go through the table, not assume adjacency.
    blocks_.resize(static_cast<size_t>(n_blocks));
    std::iota(blocks_.rbegin(), blocks_.rend(), 0);
  }

  const LoadedModel& model() const { return *model_; }

  //! Logits for every position of `tokens`, fed in chunks of `chunk` tokens (0: all at once).
  std::vector<std::vector<float>> prefill(const std::vector<TokenId>& tokens, size_t chunk = 0) {
    std::vector<std::vector<float>> rows;
    if (chunk == 0) chunk = tokens.size();
    std::vector<float> logits;
    for (size_t at = 0; at < tokens.size(); at += chunk) {
      const size_t len = std::min(chunk, tokens.size() - at);
      SequenceChunk c{std::span<const TokenId>(tokens.data() + at, len), static_cast<int64_t>(at), blocks_, true};
      decoder_.forward(std::span<const SequenceChunk>(&c, 1), *kv_, logits);
      const size_t vocab = static_cast<size_t>(model_->config.vocab_size);
      for (size_t r = 0; r < len; ++r) rows.emplace_back(logits.begin() + r * vocab, logits.begin() + (r + 1) * vocab);
    }
    return rows;
  }

  //! Prefills `prompt`, then decodes `n` tokens greedily one step at a time.
  std::vector<TokenId> greedy(const std::vector<TokenId>& prompt, int n) {
    auto rows = prefill(prompt);
    std::vector<TokenId> out;
    std::vector<float> last = rows.back();
    std::vector<float> logits;
    int64_t pos = static_cast<int64_t>(prompt.size());
    for (int i = 0; i < n; ++i) {
      const TokenId next = static_cast<TokenId>(std::max_element(last.begin(), last.end()) - last.begin());
      out.push_back(next);
      SequenceChunk c{std::span<const TokenId>(&out.back(), 1), pos++, blocks_, false};
      decoder_.forward(std::span<const SequenceChunk>(&c, 1), *kv_, logits);
      last = logits;
    }
    return out;
  }

 private:
  std::unique_ptr<LoadedModel> model_;
  ThreadPool pool_;
  Decoder decoder_;
  std::unique_ptr<KvStorage> kv_;
  std::vector<int32_t> blocks_;
};

}  // namespace llmp::test
