#pragma once
// The single-threaded heart of the engine: sequences, the continuous-batching scheduler, the
// forward pass over the batch, sampling and output events. The Engine runs it on its loop
// thread; tests drive it step by step to force preemption and cancellation at chosen points.
//
// Each step: running sequences get their next token (or their next prefill chunk) first,
// preempting the lowest-priority, latest-admitted running sequence when KV blocks run out;
// then waiting sequences are admitted by priority, tenant fair share and arrival while the
// token budget, the sequence limit and free blocks allow, starting from their longest cached
// prefix. A preempted sequence keeps its tokens and sampler and is recomputed later, so its
// output continues without a token lost or repeated.

#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "backend/decoder_backend.h"
#include "kv_cache/block_manager.h"
#include "kv_cache/kv_storage.h"
#include "llmp/engine/engine.h"
#include "llmp/engine/structured_output.h"
#include "model/decoder.h"
#include "model/encoder.h"
#include "model/loaded_model.h"
#include "sampling/sampler.h"

namespace llmp::engine {

struct RequestState;

struct Sequence {
  std::shared_ptr<RequestState> request;
  int choice = 0;
  std::vector<TokenId> tokens;   // prompt, then generated tokens
  int64_t prompt_len = 0;
  int64_t n_computed = 0;        // tokens whose K/V are in `blocks`
  std::vector<int32_t> blocks;
  int64_t n_registered = 0;      // leading full blocks registered in the prefix cache
  uint64_t last_hash = 0;        // chained hash of block n_registered - 1
  int64_t cached_tokens = -1;    // prompt tokens found in the prefix cache at first admission
  int64_t generated = 0;
  double engine_seconds = 0;     // its share of the forward passes it was in (Usage::engine_seconds)
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<GrammarMatcher> grammar;  // structured output: where the document stands
  std::vector<uint64_t> allowed;            // the tokens it may sample this step; empty: any
  std::vector<uint64_t> allowed_ids;        // allowed_token_ids as a bitset; empty: any
  bool nothing_allowed = false;             // this step's `allowed` came out empty
  std::vector<TokenId> verify;    // a drafting step's input: the last token, then the draft
  int64_t draft_limit = -1;      // the next draft's length at most: one past the last accepted run (-1: none yet)
  int64_t prediction_pos = 0;          // the output's place in the prediction: its next token ...
  bool prediction_synced = true;       // ... while the output's last tokens stand just before it
  int64_t prediction_accepted = 0;  // output tokens that followed the prediction (Usage)
  int64_t prediction_rejected = 0;  // drafted prediction tokens the sampler did not take
  std::unique_ptr<IncrementalDetokenizer> detokenizer;
  std::string held_text;         // text that may be the start of a stop string
  uint64_t order = 0;            // arrival order (ties broken by choice)
  double queue_seconds = -1;     // arrival to first scheduling, reported with the first token
  std::chrono::steady_clock::time_point scheduled_at;   // first scheduled: prefill starts
  std::chrono::steady_clock::time_point first_token_at;
  std::chrono::steady_clock::time_point last_token_at;  // for the inter-token latency
  std::vector<TokenLogprob> prompt_logprobs;  // collected during prefill when asked for
  bool prompt_logprobs_done = false;
  bool running = false;          // in running_ (else in waiting_)
  bool finished = false;
};

struct RequestState {
  GenerationRequest request;
  std::chrono::steady_clock::time_point arrival;
  int unfinished = 0;
  bool leader_prefilled = false;  // siblings (n > 1) wait so they share the leader's blocks
};

class EngineCore {
 public:
  //! Creates the backend `config.device` asks for ("auto": a GPU if one is usable, else the
  //! CPU). Errors: a device that cannot be used, a model that does not fit it.
  static Result<std::unique_ptr<EngineCore>> create(std::unique_ptr<LoadedModel> model, const EngineConfig& config);
  EngineCore(std::unique_ptr<LoadedModel> model, const EngineConfig& config);

  const LoadedModel& model() const { return *model_; }
  //! "cpu", "cuda:0", or "encoder".
  std::string backend_name() const { return backend_ ? backend_->name() : "cpu"; }
  const EngineConfig& limits() const { return limits_; }

  //! Checks a request against the model and limits. Reads only what never changes after
  //! construction: safe from any thread.
  Result<void> validate(const GenerationRequest& request) const;
  //! Validates and queues. Errors leave nothing queued.
  Result<void> add(GenerationRequest request);
  //! Cancels everything (shutdown).
  void cancel_all();
  //! Finishes every sequence of `id` (final events with FinishReason::cancelled).
  void cancel(const std::string& id);

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  //! One scheduler step: plan, forward, sample, emit.
  void step();

  EngineStats stats() const;
  const EngineTimings& timings() const { return timings_; }
  int64_t free_blocks() const { return blocks_.available(); }
  //! Every sequence still held (tests check nothing leaks).
  int64_t live_sequences() const { return static_cast<int64_t>(running_.size() + waiting_.size()); }

  Result<std::vector<float>> embed(const std::vector<TokenId>& tokens);
  Result<float> score(const std::vector<TokenId>& tokens, const std::vector<int32_t>& type_ids);

 private:
  struct Planned {
    Sequence* seq;
    int64_t n_tokens;   // computed this step, from seq->n_computed
    int64_t draft = 0;  // of them, drafted tokens to verify (seq->verify holds all n_tokens)
    bool from_prediction = false;  // the draft is the request's prediction's (else prompt lookup's)
  };

  bool ensure_blocks(Sequence& s, int64_t n_positions);
  void preempt(Sequence& s);
  Sequence* pick_victim();
  std::list<std::unique_ptr<Sequence>>::iterator next_waiting();
  void register_full_blocks(Sequence& s);
  //! Gives back the blocks past those `s`'s tokens need (a rejected draft's).
  void release_unused_blocks(Sequence& s);
  //! Speculative decoding: whether decode step `p` (one token, blocks placed) can take a
  //! draft, and if so puts it in s.verify with blocks for it; never preempts for one.
  void add_draft(Planned& p, int64_t budget);
  //! Samples a drafting step's rows in order, keeping drafted tokens while the sampler picks them.
  void verify_draft(const Planned& p, std::span<float> rows);
  //! Samples `s`'s next token from its logits row on the host and applies it.
  void sample_and_apply(Sequence& s, std::span<float> row);
  //! Ends `s` with the error of a step where nothing may be sampled.
  void fail_nothing_allowed(Sequence& s);
  void on_token(Sequence& s, TokenId token, std::optional<TokenLogprob> logprob);
  //! The tokens `s` may sample next, into s.allowed (left empty when any may be): its
  //! grammar's mask, narrowed to allowed_token_ids, less the tokens that would complete a bad
  //! word. False when that leaves none.
  bool fill_allowed(Sequence& s) const;
  void finish(Sequence& s, FinishReason reason, std::string stop_reason, TokenEvent&& event);
  void emit(Sequence& s, TokenEvent&& event);
  void remove_finished();

  std::unique_ptr<LoadedModel> model_;
  EngineConfig limits_;
  ThreadPool pool_;
  std::unique_ptr<DecoderBackend> backend_;
  std::unique_ptr<Encoder> encoder_;
  BlockManager blocks_;
  std::vector<TokenId> eos_ids_;
  std::shared_ptr<const TokenVocabularyIndex> vocabulary_index_;  // built at the first grammar

  std::list<std::unique_ptr<Sequence>> running_;  // admission order
  std::list<std::unique_ptr<Sequence>> waiting_;
  std::map<std::string, double> tenant_served_;   // tokens served per tenant, decayed
  uint64_t next_order_ = 0;
  std::mt19937_64 seed_source_;

  Status init_error_;
  int64_t preemptions_ = 0, prompt_tokens_ = 0, generation_tokens_ = 0, steps_ = 0;
  int64_t draft_tokens_ = 0, accepted_draft_tokens_ = 0;
  double busy_seconds_ = 0;
  EngineTimings timings_;
};

}  // namespace llmp::engine
