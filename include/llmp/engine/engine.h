#pragma once
// The engine's public face: load a model, submit a request (tokens + sampling parameters +
// priority/tenant), receive a stream of token events, cancel. Thread-safe; one loop thread
// per model owns all mutable state (sequences, KV blocks) and runs continuous batching.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llmp/core/metrics.h"
#include "llmp/core/status.h"
#include "llmp/engine/sampling.h"
#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

enum class FinishReason { stop, length, cancelled, error };
std::string_view to_string(FinishReason r);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache
  //! Forward-pass time (GPU or CPU) attributed to this completion: of every step it took part
  //! in, the share its tokens had of the step's tokens. Summed over calls it is the engine's
  //! busy time, so it prices local inference per device-hour.
  double engine_seconds = 0;
  //! Of the request's prediction (OpenAI's counts): output tokens that followed it, and its
  //! tokens computed as drafts but not taken.
  int64_t accepted_prediction_tokens = 0, rejected_prediction_tokens = 0;
};

//! What one completion of a request produced since its last event. Delivered on the engine
//! thread: a sink must return quickly (post the event elsewhere) and never block.
struct TokenEvent {
  int choice = 0;                       // which of the request's n completions
  std::vector<TokenId> tokens;          // tokens generated since the last event
  std::string text;                     // their text: whole UTF-8 characters, stop strings removed
  std::vector<TokenLogprob> logprobs;   // one per token when logprobs were asked for
  //! On the first event when prompt_logprobs was asked for: the prompt's tokens 1..n-1 (the
  //! first has no preceding context).
  std::vector<TokenLogprob> prompt_logprobs;
  std::optional<FinishReason> finish;   // set on a completion's last event
  std::string stop_reason;              // the stop string or "eos" / "stop_token" when finish == stop
  TokenId stop_token = -1;              // the stop_token_ids entry that ended it ("stop_token")
  Usage usage;                          // totals for this completion, on its last event
  Status error;                         // when finish == error
  double queue_seconds = 0;             // on the first event: arrival to first scheduling
  //! This completion's latencies as EngineTimings counted them (-1: none in this event), so that
  //! whoever knows the request's trace can attach it to those histograms as an exemplar.
  double time_to_first_token_seconds = -1;  // on the event of the first token
  double inter_token_seconds = -1;          // on each later token's event: the gap before it
  double end_to_end_seconds = -1;           // on the last event: arrival to finish
};

using EventSink = std::function<void(TokenEvent&&)>;

struct GenerationRequest {
  std::string id;
  std::vector<TokenId> prompt;
  SamplingParams sampling;
  int priority = 0;     // lower runs first
  std::string tenant;   // requests of one tenant share its fair share of the engine
  EventSink on_event;
};

struct EngineConfig {
  std::string device = "cpu";       // "cpu" or "cuda:N" (the caller resolves "auto")
  double gpu_memory_fraction = 0.9; // of a GPU's free memory after the weights, for KV blocks
  int threads = 0;                  // compute threads (0: one per core)
  int64_t kv_cache_bytes = 0;       // KV budget (0: from kv_cache_fraction of memory)
  std::string kv_cache_dtype = "f16";  // "f16" or "bf16": what K and V are stored as
  double kv_cache_fraction = 0.25;  // of physical memory, when kv_cache_bytes is 0
  int64_t block_size = 16;          // tokens per KV block
  int64_t max_seqs = 0;             // running sequences at most (0: derived from the budget)
  int64_t max_batch_tokens = 512;   // tokens computed per step at most (prefill chunks + decodes)
  int64_t max_context = 0;          // per sequence (0: the model's, capped by the budget)
  int64_t max_waiting = 256;        // requests queued beyond max_seqs; more are refused (0: no limit)
  // Speculative decoding by prompt lookup (runtime/ngram_draft.h): up to speculative_tokens
  // drafted tokens checked per step while at most speculative_max_batch sequences run.
  int64_t speculative_tokens = 0;   // 0: off
  int64_t speculative_ngram_min = 2, speculative_ngram_max = 4;
  int64_t speculative_max_batch = 1;
};

struct EngineStats {
  int64_t running = 0, waiting = 0;
  int64_t kv_blocks_total = 0, kv_blocks_used = 0;
  int64_t prefix_queries = 0, prefix_hits = 0, evictions = 0;
  int64_t preemptions = 0;
  int64_t prompt_tokens = 0, generation_tokens = 0;  // computed so far
  int64_t steps = 0;
  double busy_seconds = 0;
  int64_t draft_tokens = 0, accepted_draft_tokens = 0;  // speculative decoding
};

//! Request latencies (seconds) and outcomes since load, per sequence (each of n choices counts),
//! written by the engine loop and read lock-free by /metrics.
struct EngineTimings {
  metrics::Histogram queue{metrics::latency_buckets()};                // arrival → first scheduled
  metrics::Histogram time_to_first_token{metrics::latency_buckets()};  // arrival → first token
  metrics::Histogram inter_token{metrics::latency_buckets()};          // between a sequence's tokens
  metrics::Histogram end_to_end{metrics::latency_buckets()};           // arrival → finish
  metrics::Histogram prefill{metrics::latency_buckets()};              // first scheduled → first token
  metrics::Histogram decode{metrics::latency_buckets()};               // first token → finish
  metrics::Counter finished[4];                                        // by FinishReason
};

struct ModelSummary {
  std::string path, name, architecture, format;
  int64_t vocab_size = 0, context_length = 0, hidden = 0;
  bool is_encoder = false;
  int64_t n_labels = 0;             // cross-encoders
  std::string chat_template;
  std::vector<TokenId> eos_ids;
  int64_t weight_bytes = 0;
  double load_seconds = 0;  // reading, checking and placing the weights, sizing the KV cache
};

class Engine {
 public:
  //! Loads the model, sizes the KV cache and starts the loop thread.
  static Result<std::unique_ptr<Engine>> load(const std::string& path, const EngineConfig& config);
  ~Engine();

  const ModelSummary& model() const;
  const Tokenizer& tokenizer() const;
  //! The limits derived at load (max context, max sequences, KV blocks), for the start log.
  const EngineConfig& limits() const;

  //! Queues a request. Errors (returned at once, nothing queued): invalid sampling
  //! parameters, a prompt that can never fit (context or KV budget), an encoder model;
  //! unavailable when max_seqs + max_waiting requests are already unfinished.
  Result<void> submit(GenerationRequest request);
  //! Cancels a request: its sequences stop and free their blocks within one step. No more
  //! events are delivered for it after its final (cancelled) one.
  void cancel(const std::string& id);

  //! Encoder models: the pooled embedding of `tokens`, computed on the loop thread.
  Result<std::vector<float>> embed(std::vector<TokenId> tokens);
  //! Cross-encoders: the score (first logit) of a tokenised [CLS] a [SEP] b [SEP] pair.
  Result<float> score(std::vector<TokenId> tokens, std::vector<int32_t> type_ids);

  EngineStats stats() const;
  const EngineTimings& timings() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmp::engine
