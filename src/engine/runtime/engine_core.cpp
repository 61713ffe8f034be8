#include "runtime/engine_core.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "runtime/ngram_draft.h"

namespace llmp::engine {
namespace {

// The longest draft a step takes from a request's prediction when engine.speculative_tokens is
// off (0): on the 2-core CPU measured, a 4-token step costs 1.1-1.5x a 1-token one, 5 tokens
// 1.3-2.1x (bench/RESULTS.md, "Speculative decoding").
constexpr int64_t kPredictionDraftTokens = 3;

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{8} << 30;
}

// The longest suffix of `text` that is a proper prefix of a stop string: it must be held
// back, since the next token may complete the stop string.
size_t held_suffix(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& stop : stops) {
    for (size_t len = std::min(stop.size() - 1, text.size()); len > hold; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

Result<std::unique_ptr<EngineCore>> EngineCore::create(std::unique_ptr<LoadedModel> model, const EngineConfig& config) {
  auto core = std::make_unique<EngineCore>(std::move(model), config);
  if (!core->init_error_.ok()) return error(core->init_error_);
  return core;
}

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "?";
}

EngineCore::EngineCore(std::unique_ptr<LoadedModel> model, const EngineConfig& config)
    : model_(std::move(model)),
      limits_(config),
      pool_(config.threads > 0 ? config.threads : static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)))),
      blocks_(0, std::max<int64_t>(1, config.block_size)),
      seed_source_(std::random_device{}()) {
  const ModelConfig& c = model_->config;
  limits_.threads = pool_.size();
  const std::optional<KvType> kv_type = parse_kv_type(limits_.kv_cache_dtype);
  if (!kv_type) {
    init_error_ = Status(StatusCode::invalid_argument,
                         fmt::format("kv_cache_dtype \"{}\" is not one of \"f16\", \"bf16\"", limits_.kv_cache_dtype));
  }
  if (limits_.speculative_tokens > 0 && limits_.speculative_ngram_min > limits_.speculative_ngram_max) {
    init_error_ = Status(StatusCode::invalid_argument,
                         fmt::format("engine.speculative_ngram_min ({}) is above engine.speculative_ngram_max ({})",
                                     limits_.speculative_ngram_min, limits_.speculative_ngram_max));
  }
  if (c.is_encoder()) {
    encoder_ = std::make_unique<Encoder>(c, model_->weights, pool_);
    limits_.max_context = limits_.max_context > 0 ? std::min(limits_.max_context, c.context_length) : c.context_length;
    return;
  }
  // The KV budget decides how many blocks exist; the context and sequence limits follow.
  const int64_t bs = limits_.block_size;
  const int64_t per_block = KvStorage::bytes_per_block(c.n_layers, c.n_kv_heads, c.head_dim, bs);
  if (kv_type && limits_.device.starts_with("cuda")) {
    const int device = limits_.device.size() > 5 ? std::atoi(limits_.device.c_str() + 5) : 0;
    auto cuda = make_cuda_backend(*model_, device, bs, limits_.gpu_memory_fraction, *kv_type);
    if (cuda) backend_ = std::move(*cuda);
    else init_error_ = cuda.error();
  }
  if (!backend_ && init_error_.ok()) {
    int64_t budget = limits_.kv_cache_bytes;
    if (budget <= 0) budget = static_cast<int64_t>(static_cast<double>(physical_memory_bytes()) * limits_.kv_cache_fraction);
    auto cpu = make_cpu_backend(*model_, pool_, bs, budget, *kv_type);
    if (cpu) backend_ = std::move(*cpu);
    else init_error_ = cpu.error();
  }
  const int64_t n_blocks = backend_ ? backend_->kv_blocks() : 1;
  limits_.kv_cache_bytes = n_blocks * per_block;
  const int64_t capacity = n_blocks * bs;
  limits_.max_context = std::min(limits_.max_context > 0 ? limits_.max_context : c.context_length, capacity);
  if (limits_.max_seqs <= 0) limits_.max_seqs = std::clamp<int64_t>(n_blocks / 2, 1, 256);
  limits_.max_batch_tokens = std::max<int64_t>(limits_.max_batch_tokens, 1);
  blocks_ = BlockManager(n_blocks, bs);
  eos_ids_ = model_->generation.eos_ids;
}

Result<void> EngineCore::validate(const GenerationRequest& request) const {
  if (encoder_) {
    return error(StatusCode::invalid_argument, "this model is an encoder: it embeds or scores text, it does not generate");
  }
  const SamplingParams& sp = request.sampling;
  LLMP_TRY_VOID(sp.validate(model_->tokenizer->vocab_size()));
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  if (prompt == 0) return error(StatusCode::invalid_argument, "the prompt is empty");
  for (TokenId t : request.prompt) {
    if (t < 0 || t >= model_->config.vocab_size) {
      return error(StatusCode::invalid_argument, fmt::format("prompt token {} is outside the vocabulary", t));
    }
  }
  for (TokenId t : sp.prediction) {  // drafted tokens go through the forward pass
    if (t < 0 || t >= model_->config.vocab_size) {
      return error(StatusCode::invalid_argument, fmt::format("prediction token {} is outside the vocabulary", t));
    }
  }
  if (prompt + sp.max_tokens > limits_.max_context) {
    return error(StatusCode::out_of_range,
                 fmt::format("this model's maximum context length is {} tokens; the request asks for {} ({} in the "
                             "prompt, {} to generate)",
                             limits_.max_context, prompt + sp.max_tokens, prompt, sp.max_tokens));
  }
  return ok();
}

void EngineCore::cancel_all() {
  for (auto* list : {&running_, &waiting_}) {
    for (auto& s : *list) {
      if (!s->finished) finish(*s, FinishReason::cancelled, "", TokenEvent{});
    }
  }
  remove_finished();
}

Result<void> EngineCore::add(GenerationRequest request) {
  LLMP_TRY_VOID(validate(request));
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  auto state = std::make_shared<RequestState>();
  state->request = std::move(request);
  state->arrival = std::chrono::steady_clock::now();
  state->unfinished = state->request.sampling.n;
  const uint64_t order = next_order_++;
  for (int i = 0; i < state->request.sampling.n; ++i) {
    auto s = std::make_unique<Sequence>();
    s->request = state;
    s->choice = i;
    s->tokens = state->request.prompt;
    s->prompt_len = prompt;
    s->order = order;
    const SamplingParams& p = state->request.sampling;
    // Choice i of a seeded request uses seed + i: reproducible, and distinct per choice.
    const uint64_t seed = p.seed ? *p.seed + static_cast<uint64_t>(i) : seed_source_();
    s->sampler = std::make_unique<Sampler>(p, seed);
    if (p.grammar) {
      if (!vocabulary_index_) vocabulary_index_ = index_vocabulary(*model_->tokenizer);
      s->grammar = make_matcher(p.grammar, vocabulary_index_);
    }
    if (!p.allowed_token_ids.empty()) {
      s->allowed_ids.assign(token_mask_words(static_cast<size_t>(model_->config.vocab_size)), 0);
      for (const TokenId id : p.allowed_token_ids) s->allowed_ids[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
    }
    for (TokenId t : s->tokens) s->sampler->observe_prompt(t);
    s->detokenizer = std::make_unique<IncrementalDetokenizer>(*model_->tokenizer, p.skip_special_tokens);
    waiting_.push_back(std::move(s));
  }
  return ok();
}

void EngineCore::cancel(const std::string& id) {
  for (auto* list : {&running_, &waiting_}) {
    for (auto& s : *list) {
      if (!s->finished && s->request->request.id == id) finish(*s, FinishReason::cancelled, "", TokenEvent{});
    }
  }
  remove_finished();
}

bool EngineCore::ensure_blocks(Sequence& s, int64_t n_positions) {
  const int64_t need = (n_positions + blocks_.block_size() - 1) / blocks_.block_size();
  while (static_cast<int64_t>(s.blocks.size()) < need) {
    auto b = blocks_.allocate();
    if (!b) return false;
    s.blocks.push_back(*b);
  }
  // Copy-on-write: the block the next token lands in must be ours alone.
  if (s.n_computed < n_positions) {
    const int64_t idx = s.n_computed / blocks_.block_size();
    const int32_t b = s.blocks[static_cast<size_t>(idx)];
    if (blocks_.ref_count(b) > 1) {
      auto copy = blocks_.allocate();
      if (!copy) return false;
      backend_->copy_block(b, *copy);
      blocks_.release(b);
      s.blocks[static_cast<size_t>(idx)] = *copy;
    }
  }
  return true;
}

void EngineCore::preempt(Sequence& s) {
  blocks_.release_all(s.blocks);
  s.blocks.clear();
  s.n_computed = 0;
  s.n_registered = 0;
  s.last_hash = 0;
  ++preemptions_;
  s.running = false;
  for (auto it = running_.begin(); it != running_.end(); ++it) {
    if (it->get() == &s) {
      // Back to the front of the queue: it keeps its place by arrival order.
      waiting_.push_front(std::move(*it));
      running_.erase(it);
      return;
    }
  }
}

Sequence* EngineCore::pick_victim() {
  // The lowest priority (largest number), then the latest to arrive.
  Sequence* victim = nullptr;
  for (auto& s : running_) {
    if (s->finished) continue;
    if (!victim || s->request->request.priority > victim->request->request.priority ||
        (s->request->request.priority == victim->request->request.priority && s->order > victim->order)) {
      victim = s.get();
    }
  }
  return victim;
}

std::list<std::unique_ptr<Sequence>>::iterator EngineCore::next_waiting() {
  // Priority first; among equals, the tenant served least lately; then arrival.
  auto best = waiting_.end();
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    const Sequence& s = **it;
    if (s.finished) continue;
    if (s.choice > 0 && !s.request->leader_prefilled) continue;  // shares the leader's prompt blocks
    if (best == waiting_.end()) {
      best = it;
      continue;
    }
    const Sequence& b = **best;
    const int ps = s.request->request.priority, pb = b.request->request.priority;
    if (ps != pb) {
      if (ps < pb) best = it;
      continue;
    }
    const double ts = tenant_served_[s.request->request.tenant], tb = tenant_served_[b.request->request.tenant];
    if (ts != tb) {
      if (ts < tb) best = it;
      continue;
    }
    if (s.order < b.order || (s.order == b.order && s.choice < b.choice)) best = it;
  }
  return best;
}

void EngineCore::register_full_blocks(Sequence& s) {
  const int64_t bs = blocks_.block_size();
  while ((s.n_registered + 1) * bs <= s.n_computed) {
    const auto block_tokens = std::span<const TokenId>(s.tokens).subspan(static_cast<size_t>(s.n_registered * bs), static_cast<size_t>(bs));
    s.last_hash = blocks_.register_full(s.blocks[static_cast<size_t>(s.n_registered)], s.last_hash, block_tokens);
    ++s.n_registered;
  }
}

void EngineCore::release_unused_blocks(Sequence& s) {
  const auto need = static_cast<size_t>((static_cast<int64_t>(s.tokens.size()) + blocks_.block_size() - 1) / blocks_.block_size());
  while (s.blocks.size() > need) {
    blocks_.release(s.blocks.back());
    s.blocks.pop_back();
  }
}

void EngineCore::add_draft(Planned& p, int64_t budget) {
  Sequence& s = *p.seq;
  const SamplingParams& sp = s.request->request.sampling;
  const auto size = static_cast<int64_t>(s.tokens.size());
  // A decode step only: the prompt is in, and one sampled token waits for its K/V.
  if (p.n_tokens != 1 || s.n_computed + 1 != size || s.n_computed < s.prompt_len) return;
  const std::vector<TokenId>& prediction = sp.prediction;
  const int64_t most = prediction.empty() ? limits_.speculative_tokens : std::max(limits_.speculative_tokens, kPredictionDraftTokens);
  // A draft of k tokens can add k + 1 to the output: within max_tokens and the context. Its
  // length follows how much of the last one held: a step's cost grows with its tokens (on a
  // 2-core CPU a 2-token step costs what a 1-token one does, 4 tokens 1.1-1.5x), so a sequence
  // whose drafts fail drafts one token at a time and one whose drafts hold grows back to the limit.
  const int64_t limit = s.draft_limit >= 0 ? s.draft_limit : most;
  const int64_t room =
      std::min({limit, most, budget, sp.max_tokens - s.generated - 1, limits_.max_context - size});
  if (room <= 0) return;
  // The prediction first: where the output follows it, or else where its last tokens stand in it.
  std::vector<TokenId> draft;
  if (!prediction.empty()) {
    if (!s.prediction_synced) {
      if (const auto at = find_in_prediction(prediction, s.tokens, s.prediction_pos, limits_.speculative_ngram_min,
                                             limits_.speculative_ngram_max)) {
        s.prediction_pos = *at;
        s.prediction_synced = true;
      }
    }
    const auto left = static_cast<int64_t>(prediction.size()) - s.prediction_pos;
    if (s.prediction_synced && left > 0) {
      const auto from = prediction.begin() + s.prediction_pos;
      draft.assign(from, from + std::min(room, left));
      p.from_prediction = true;
    }
  }
  if (draft.empty() && limits_.speculative_tokens > 0) {
    draft = ngram_draft(s.tokens, limits_.speculative_ngram_min, limits_.speculative_ngram_max, room);
  }
  if (draft.empty()) return;
  const auto k = static_cast<int64_t>(draft.size());
  // Positions n_computed .. n_computed + k; without free blocks for them, no draft this step.
  if (!ensure_blocks(s, size + k)) {
    release_unused_blocks(s);
    return;
  }
  s.verify.assign(s.tokens.end() - 1, s.tokens.end());
  s.verify.insert(s.verify.end(), draft.begin(), draft.end());
  p.draft = k;
  p.n_tokens += k;
}

void EngineCore::verify_draft(const Planned& p, std::span<float> rows) {
  Sequence& s = *p.seq;
  const int64_t draft = p.draft;
  const auto vocab = static_cast<size_t>(model_->config.vocab_size);
  // rows[j] follows s.verify[j], computed at position n_computed + j. The K/V of verify[0] (the
  // token sampled last step) is now in; that of drafted token j + 1 holds only if the sampler,
  // given the same row a one-token step would have, picks that token.
  ++s.n_computed;
  int64_t accepted = 0;
  for (int64_t j = 0; j <= draft; ++j) {
    const int64_t before = s.generated;
    sample_and_apply(s, rows.subspan(static_cast<size_t>(j) * vocab, vocab));
    const bool agrees = j < draft && s.generated > before && s.tokens.back() == s.verify[static_cast<size_t>(j + 1)];
    if (agrees) ++accepted;
    if (s.finished || !agrees) break;
    ++s.n_computed;
  }
  draft_tokens_ += draft;
  accepted_draft_tokens_ += accepted;
  if (p.from_prediction) s.prediction_rejected += draft - accepted;
  s.draft_limit = accepted + 1;
  if (s.finished) return;
  register_full_blocks(s);
  release_unused_blocks(s);
}

void EngineCore::sample_and_apply(Sequence& s, std::span<float> row) {
  const SamplingParams& sp = s.request->request.sampling;
  if (!fill_allowed(s)) return fail_nothing_allowed(s);
  TokenLogprob lp;
  const TokenId token = s.sampler->sample(row, sp.logprobs ? &lp : nullptr, s.generated < sp.min_tokens, eos_ids_, s.allowed);
  s.sampler->observe_output(token);
  ++generation_tokens_;
  on_token(s, token, sp.logprobs ? std::optional<TokenLogprob>(std::move(lp)) : std::nullopt);
}

void EngineCore::fail_nothing_allowed(Sequence& s) {
  TokenEvent failed;
  failed.error = Status(StatusCode::invalid_argument, "allowed_token_ids, bad_words and the output's grammar leave no token to sample");
  finish(s, FinishReason::error, "", std::move(failed));
}

void EngineCore::step() {
  const auto started = std::chrono::steady_clock::now();
  std::vector<Planned> plan;
  int64_t budget = limits_.max_batch_tokens;

  // 1. Running sequences: their next token, or the next chunk of an unfinished prefill. A
  // snapshot, since preemption moves sequences out of running_.
  std::vector<Sequence*> order;
  for (auto& s : running_) order.push_back(s.get());
  // Drafting (engine.speculative_tokens, or a request's prediction) pays while the batch is small
  // (decode reads every weight for few tokens); the device sampler takes one row per sequence,
  // so drafts stay with host sampling.
  const bool drafting =
      !backend_->samples_on_device() && static_cast<int64_t>(running_.size()) <= limits_.speculative_max_batch;
  for (Sequence* sp : order) {
    if (budget <= 0) break;
    Sequence& s = *sp;
    if (s.finished || !s.running) continue;
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(s.tokens.size()) - s.n_computed, budget);
    if (n <= 0) continue;
    bool placed = ensure_blocks(s, s.n_computed + n);
    while (!placed) {
      Sequence* victim = pick_victim();
      // Drop whatever was already planned for the victim this step.
      std::erase_if(plan, [&](const Planned& p) {
        if (p.seq == victim) budget += p.n_tokens;
        return p.seq == victim;
      });
      const bool self = victim == &s;
      preempt(*victim);
      if (self) break;
      placed = ensure_blocks(s, s.n_computed + n);
    }
    if (!placed) continue;
    plan.push_back({&s, n});
    budget -= n;
    if (drafting) {
      add_draft(plan.back(), budget);
      budget -= plan.back().draft;
    }
  }

  // 2. Waiting sequences, while budget, the sequence limit and blocks allow.
  while (budget > 0 && static_cast<int64_t>(running_.size()) < limits_.max_seqs) {
    auto it = next_waiting();
    if (it == waiting_.end()) break;
    Sequence& s = **it;
    std::vector<int32_t> matched;
    // Prompt logprobs need the logits of every prompt position: no prefix cache then.
    const bool wants_prompt_logprobs = s.request->request.sampling.prompt_logprobs >= 0 && !s.prompt_logprobs_done;
    if (s.blocks.empty()) {
      if (!wants_prompt_logprobs) matched = blocks_.match_prefix(s.tokens);
      s.blocks = matched;
      s.n_computed = static_cast<int64_t>(matched.size()) * blocks_.block_size();
      s.n_registered = static_cast<int64_t>(matched.size());
      s.last_hash = 0;
      for (int64_t b = 0; b < s.n_registered; ++b) {
        s.last_hash = BlockManager::chain_hash(
            s.last_hash, std::span<const TokenId>(s.tokens).subspan(static_cast<size_t>(b * blocks_.block_size()),
                                                                   static_cast<size_t>(blocks_.block_size())));
      }
      if (s.cached_tokens < 0) s.cached_tokens = std::min(s.n_computed, s.prompt_len);
    }
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(s.tokens.size()) - s.n_computed, budget);
    if (!ensure_blocks(s, s.n_computed + n)) {
      // Not now: give back what this attempt took and wait for blocks to free up.
      blocks_.release_all(s.blocks);
      s.blocks.clear();
      s.n_computed = 0;
      s.n_registered = 0;
      break;
    }
    s.running = true;
    running_.push_back(std::move(*it));
    waiting_.erase(it);
    plan.push_back({running_.back().get(), n});
    budget -= n;
  }
  if (plan.empty()) {
    remove_finished();
    return;
  }

  // 3. One forward pass over the whole batch.
  std::vector<SequenceChunk> chunks;
  chunks.reserve(plan.size());
  for (const auto& p : plan) {
    Sequence& s = *p.seq;
    if (p.draft > 0) {
      // A row per token: each drafted token is checked against the row before it.
      chunks.push_back({s.verify, s.n_computed, s.blocks, true, false});
      continue;
    }
    const bool completes = s.n_computed + p.n_tokens == static_cast<int64_t>(s.tokens.size());
    const bool prompt_rows = s.request->request.sampling.prompt_logprobs >= 0 && !s.prompt_logprobs_done &&
                             s.n_computed < s.prompt_len;
    chunks.push_back({std::span<const TokenId>(s.tokens).subspan(static_cast<size_t>(s.n_computed), static_cast<size_t>(p.n_tokens)),
                      s.n_computed, s.blocks, prompt_rows, !completes && !prompt_rows});
    if (s.queue_seconds < 0) {
      s.queue_seconds = std::chrono::duration<double>(started - s.request->arrival).count();
      s.scheduled_at = started;
      timings_.queue.observe(s.queue_seconds);
    }
  }
  // Sampling on the device when the backend can and no chunk needs whole logits rows (prompt
  // logprobs): the host draws each sequence's uniform and hands over its penalty state and
  // grammar mask; only ids and logprobs come back.
  const bool device_sampling =
      backend_->samples_on_device() && std::none_of(chunks.begin(), chunks.end(), [](const SequenceChunk& c) { return c.all_logits; });
  std::span<float> logits;
  std::vector<TokenId> sampled_ids;
  std::vector<TokenLogprob> sampled_logprobs;
  if (device_sampling) {
    std::vector<RowSampling> rows;
    for (size_t i = 0; i < plan.size(); ++i) {
      if (chunks[i].no_logits) continue;
      Sequence& s = *plan[i].seq;
      const SamplingParams& sp = s.request->request.sampling;
      s.nothing_allowed = !fill_allowed(s);
      RowSampling r;
      r.params = &sp;
      r.uniform = sp.greedy() ? 0.0 : s.sampler->next_uniform();
      r.seen = s.sampler->seen_tokens();
      r.output_tokens = s.sampler->output_tokens();
      r.output_counts = s.sampler->output_counts();
      r.allowed = s.allowed;
      r.suppress_eos = s.generated < sp.min_tokens;
      rows.push_back(r);
    }
    sampled_ids.resize(rows.size());
    sampled_logprobs.resize(rows.size());
    backend_->forward_sampled(chunks, rows, eos_ids_, sampled_ids, sampled_logprobs);
  } else {
    logits = backend_->forward(chunks);
  }

  // Each sequence's share of the forward pass, by the tokens it put in.
  {
    const double forward_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int64_t step_tokens = 0;
    for (const auto& p : plan) step_tokens += p.n_tokens;
    for (const auto& p : plan) {
      if (step_tokens > 0) p.seq->engine_seconds += forward_seconds * static_cast<double>(p.n_tokens) / static_cast<double>(step_tokens);
    }
  }

  // 4. Bookkeeping and sampling for sequences whose every token is now computed.
  const int64_t vocab = model_->config.vocab_size;
  size_t logit_row = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    Sequence& s = *plan[i].seq;
    if (const int64_t draft = plan[i].draft; draft > 0) {
      tenant_served_[s.request->request.tenant] += static_cast<double>(plan[i].n_tokens);
      const auto rows = static_cast<size_t>(draft + 1);
      verify_draft(plan[i], logits.subspan(logit_row * static_cast<size_t>(vocab), rows * static_cast<size_t>(vocab)));
      logit_row += rows;
      continue;
    }
    const bool prefill = s.n_computed < s.prompt_len;
    s.n_computed += plan[i].n_tokens;
    if (prefill) prompt_tokens_ += std::min(plan[i].n_tokens, s.prompt_len - (s.n_computed - plan[i].n_tokens));
    tenant_served_[s.request->request.tenant] += static_cast<double>(plan[i].n_tokens);
    register_full_blocks(s);
    if (chunks[i].no_logits) continue;
    if (chunks[i].all_logits) {
      // Row j predicts the token at position start + j + 1: a prompt token's logprob.
      const int64_t start = s.n_computed - plan[i].n_tokens;
      const int top = s.request->request.sampling.prompt_logprobs;
      for (int64_t j = 0; j + 1 < plan[i].n_tokens; ++j) {
        const std::span<const float> r(logits.data() + (logit_row + static_cast<size_t>(j)) * static_cast<size_t>(vocab),
                                       static_cast<size_t>(vocab));
        s.prompt_logprobs.push_back(Sampler::logprobs_of(r, s.tokens[static_cast<size_t>(start + j + 1)], top));
      }
      logit_row += static_cast<size_t>(plan[i].n_tokens - 1);
      if (s.n_computed < static_cast<int64_t>(s.tokens.size())) {
        // A middle chunk: its last row predicts the first token of the next chunk.
        const std::span<const float> r(logits.data() + logit_row * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
        s.prompt_logprobs.push_back(Sampler::logprobs_of(r, s.tokens[static_cast<size_t>(s.n_computed)], top));
        ++logit_row;
        continue;
      }
      s.prompt_logprobs_done = true;
    }
    const size_t row_index = logit_row++;
    if (s.finished) continue;
    if (s.choice == 0) s.request->leader_prefilled = true;
    if (!device_sampling) {
      sample_and_apply(s, logits.subspan(row_index * static_cast<size_t>(vocab), static_cast<size_t>(vocab)));
      continue;
    }
    if (s.nothing_allowed) {
      fail_nothing_allowed(s);
      continue;
    }
    const SamplingParams& sp = s.request->request.sampling;
    TokenLogprob lp;
    const TokenId token = sampled_ids[row_index];
    if (sp.logprobs) lp = std::move(sampled_logprobs[row_index]);
    s.sampler->observe_output(token);
    ++generation_tokens_;
    on_token(s, token, sp.logprobs ? std::optional<TokenLogprob>(std::move(lp)) : std::nullopt);
  }
  // Decay fair-share counters so old usage fades (a half-life of ~100 steps).
  for (auto& [tenant, served] : tenant_served_) served *= 0.993;
  remove_finished();
  ++steps_;
  busy_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void EngineCore::on_token(Sequence& s, TokenId token, std::optional<TokenLogprob> logprob) {
  const SamplingParams& sp = s.request->request.sampling;
  ++s.generated;
  s.tokens.push_back(token);
  if (s.prediction_synced && !sp.prediction.empty()) {
    // Still following the prediction, or off it until a later match (add_draft).
    const auto at = static_cast<size_t>(s.prediction_pos);
    if (at < sp.prediction.size() && sp.prediction[at] == token) {
      ++s.prediction_pos;
      ++s.prediction_accepted;
    } else {
      s.prediction_synced = false;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  TokenEvent ev;
  if (s.generated == 1) {
    ev.time_to_first_token_seconds = std::chrono::duration<double>(now - s.request->arrival).count();
    timings_.time_to_first_token.observe(ev.time_to_first_token_seconds);
    timings_.prefill.observe(std::chrono::duration<double>(now - s.scheduled_at).count());
    s.first_token_at = now;
  } else {
    ev.inter_token_seconds = std::chrono::duration<double>(now - s.last_token_at).count();
    timings_.inter_token.observe(ev.inter_token_seconds);
  }
  s.last_token_at = now;
  ev.tokens.push_back(token);
  if (logprob) ev.logprobs.push_back(std::move(*logprob));
  if (s.generated == 1) {
    ev.queue_seconds = s.queue_seconds;
    ev.prompt_logprobs = std::move(s.prompt_logprobs);
  }
  if (s.grammar) {
    // What the mask allowed is always accepted; anything else is a bug to report, not hide.
    if (auto accepted = s.grammar->accept(token); !accepted) {
      TokenEvent failed;
      failed.error = accepted.error();
      return finish(s, FinishReason::error, "", std::move(failed));
    }
  }
  const bool is_eos = std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end();
  if (is_eos && !sp.ignore_eos && s.generated > sp.min_tokens) {
    return finish(s, FinishReason::stop, "eos", std::move(ev));
  }
  if (std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), token) != sp.stop_token_ids.end()) {
    ev.stop_token = token;
    return finish(s, FinishReason::stop, "stop_token", std::move(ev));
  }
  std::string text = std::move(s.held_text);
  text += s.detokenizer->push(token);
  s.held_text.clear();
  // The earliest stop string wins; everything after it (and it, unless asked for) is dropped.
  size_t stop_at = std::string::npos;
  std::string matched;
  for (const auto& stop : sp.stop) {
    const size_t at = text.find(stop);
    if (at != std::string::npos && at < stop_at) {
      stop_at = at;
      matched = stop;
    }
  }
  if (stop_at != std::string::npos) {
    ev.text = text.substr(0, stop_at + (sp.include_stop_in_output ? matched.size() : 0));
    return finish(s, FinishReason::stop, matched, std::move(ev));
  }
  if (s.grammar && s.grammar->is_complete()) {
    // The document is whole: only end of generation could follow.
    ev.text = std::move(text);
    return finish(s, FinishReason::stop, "eos", std::move(ev));
  }
  const size_t hold = held_suffix(text, sp.stop);
  s.held_text = text.substr(text.size() - hold);
  ev.text = text.substr(0, text.size() - hold);
  if (s.generated >= sp.max_tokens || static_cast<int64_t>(s.tokens.size()) >= limits_.max_context) {
    return finish(s, FinishReason::length, "", std::move(ev));
  }
  emit(s, std::move(ev));
}

bool EngineCore::fill_allowed(Sequence& s) const {
  const SamplingParams& sp = s.request->request.sampling;
  if (!s.grammar && s.allowed_ids.empty() && sp.bad_words.empty()) {
    s.allowed.clear();
    return true;
  }
  const auto vocab = static_cast<size_t>(model_->config.vocab_size);
  if (s.grammar) {
    s.allowed.assign(token_mask_words(vocab), 0);
    s.grammar->fill_mask(s.allowed);
    for (size_t i = 0; i < s.allowed_ids.size(); ++i) s.allowed[i] &= s.allowed_ids[i];
  } else if (!s.allowed_ids.empty()) {
    s.allowed = s.allowed_ids;
  } else {
    s.allowed.assign(token_mask_words(vocab), ~uint64_t{0});
    if (vocab % 64 != 0) s.allowed.back() = (uint64_t{1} << (vocab % 64)) - 1;
  }
  // A bad word's last token is barred where the output ends with the rest of it.
  const std::span<const TokenId> output = std::span<const TokenId>(s.tokens).subspan(static_cast<size_t>(s.prompt_len));
  for (const auto& word : sp.bad_words) {
    const size_t before = word.size() - 1;
    if (before > output.size() || !std::equal(word.begin(), word.end() - 1, output.end() - static_cast<std::ptrdiff_t>(before))) {
      continue;
    }
    const auto last = static_cast<size_t>(word.back());
    s.allowed[last / 64] &= ~(uint64_t{1} << (last % 64));
  }
  return std::any_of(s.allowed.begin(), s.allowed.end(), [](uint64_t w) { return w != 0; });
}

void EngineCore::finish(Sequence& s, FinishReason reason, std::string stop_reason, TokenEvent&& ev) {
  if (s.finished) return;
  s.finished = true;
  const auto now = std::chrono::steady_clock::now();
  ev.end_to_end_seconds = std::chrono::duration<double>(now - s.request->arrival).count();
  timings_.end_to_end.observe(ev.end_to_end_seconds);
  if (s.generated > 0) timings_.decode.observe(std::chrono::duration<double>(now - s.first_token_at).count());
  timings_.finished[static_cast<int>(reason)].inc();
  if (reason != FinishReason::stop || stop_reason == "eos" || stop_reason == "stop_token") {
    // Nothing more can match a stop string: release what was held back.
    ev.text += s.held_text;
    ev.text += s.detokenizer->finish();
  }
  s.held_text.clear();
  ev.finish = reason;
  ev.stop_reason = std::move(stop_reason);
  ev.usage.prompt_tokens = s.prompt_len;
  ev.usage.completion_tokens = s.generated;
  ev.usage.cached_tokens = std::max<int64_t>(0, s.cached_tokens);
  ev.usage.engine_seconds = s.engine_seconds;
  ev.usage.accepted_prediction_tokens = s.prediction_accepted;
  ev.usage.rejected_prediction_tokens = s.prediction_rejected;
  blocks_.release_all(s.blocks);
  s.blocks.clear();
  --s.request->unfinished;
  emit(s, std::move(ev));
}

void EngineCore::emit(Sequence& s, TokenEvent&& ev) {
  ev.choice = s.choice;
  if (s.request->request.on_event) s.request->request.on_event(std::move(ev));
}

void EngineCore::remove_finished() {
  std::erase_if(running_, [](const auto& s) { return s->finished; });
  std::erase_if(waiting_, [](const auto& s) { return s->finished; });
}

EngineStats EngineCore::stats() const {
  EngineStats st;
  st.running = static_cast<int64_t>(running_.size());
  st.waiting = static_cast<int64_t>(waiting_.size());
  const auto b = blocks_.stats();
  st.kv_blocks_total = b.blocks_total;
  st.kv_blocks_used = b.blocks_used;
  st.prefix_queries = b.prefix_queries;
  st.prefix_hits = b.prefix_hits;
  st.evictions = b.evictions;
  st.preemptions = preemptions_;
  st.prompt_tokens = prompt_tokens_;
  st.generation_tokens = generation_tokens_;
  st.steps = steps_;
  st.busy_seconds = busy_seconds_;
  st.draft_tokens = draft_tokens_;
  st.accepted_draft_tokens = accepted_draft_tokens_;
  return st;
}

Result<std::vector<float>> EngineCore::embed(const std::vector<TokenId>& tokens) {
  if (!encoder_) return error(StatusCode::invalid_argument, "this model generates text; it has no embeddings endpoint");
  if (tokens.empty()) return error(StatusCode::invalid_argument, "the input is empty");
  if (static_cast<int64_t>(tokens.size()) > limits_.max_context) {
    return error(StatusCode::out_of_range, fmt::format("this model's maximum context length is {} tokens; the input has {}",
                                                       limits_.max_context, tokens.size()));
  }
  return encoder_->embed(tokens);
}

Result<float> EngineCore::score(const std::vector<TokenId>& tokens, const std::vector<int32_t>& type_ids) {
  if (!encoder_ || model_->config.n_labels == 0) {
    return error(StatusCode::invalid_argument, "this model is not a reranker (a cross-encoder)");
  }
  if (static_cast<int64_t>(tokens.size()) > limits_.max_context) {
    return error(StatusCode::out_of_range, fmt::format("this model's maximum context length is {} tokens; the pair has {}",
                                                       limits_.max_context, tokens.size()));
  }
  return encoder_->classify(tokens, type_ids).front();
}

}  // namespace llmp::engine
