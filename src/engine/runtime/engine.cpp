// The Engine: an EngineCore on its own loop thread. Callers hand requests, cancellations and
// encoder work to the loop through an inbox; the loop alone touches the core.
#include "llmp/engine/engine.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "runtime/engine_core.h"

namespace llmp::engine {

struct Engine::Impl {
  std::unique_ptr<EngineCore> core;
  ModelSummary summary;
  const Tokenizer* tokenizer = nullptr;

  std::mutex mu;
  std::condition_variable wake;
  std::deque<std::function<void()>> inbox;  // run on the loop thread, in order
  bool stopping = false;
  std::atomic<int64_t> unfinished{0};  // requests submitted and not yet finished
  mutable std::mutex stats_mu;
  EngineStats last_stats;
  std::thread loop;

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu);
      inbox.push_back(std::move(fn));
    }
    wake.notify_one();
  }

  void run() {
    for (;;) {
      std::deque<std::function<void()>> work;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !inbox.empty() || core->has_work(); });
        if (stopping) break;
        work.swap(inbox);
      }
      for (auto& fn : work) fn();
      if (core->has_work()) core->step();
      std::lock_guard lock(stats_mu);
      last_stats = core->stats();
    }
    // Whatever is still queued ends as cancelled, so no caller waits forever.
    std::deque<std::function<void()>> rest;
    {
      std::lock_guard lock(mu);
      rest.swap(inbox);
    }
    for (auto& fn : rest) fn();
    core->cancel_all();
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->loop.joinable()) impl_->loop.join();
}

Result<std::unique_ptr<Engine>> Engine::load(const std::string& path, const EngineConfig& config) {
  const auto load_started = std::chrono::steady_clock::now();
  auto model = load_model(path);
  if (!model) return error(model.error());
  auto impl = std::make_unique<Impl>();
  const LoadedModel& m = **model;
  impl->summary.path = m.path;
  impl->summary.name = m.config.name;
  impl->summary.architecture = std::string(to_string(m.config.arch));
  impl->summary.format = m.format;
  impl->summary.vocab_size = m.config.vocab_size;
  impl->summary.context_length = m.config.context_length;
  impl->summary.hidden = m.config.hidden;
  impl->summary.is_encoder = m.config.is_encoder();
  impl->summary.n_labels = m.config.n_labels;
  impl->summary.chat_template = m.chat_template;
  impl->summary.eos_ids = m.generation.eos_ids;
  impl->summary.weight_bytes = static_cast<int64_t>(m.weights.total_bytes);
  auto core = EngineCore::create(std::move(*model), config);
  if (!core) return error(core.error().with_context(path));
  impl->core = std::move(*core);
  impl->tokenizer = impl->core->model().tokenizer.get();
  impl->last_stats = impl->core->stats();
  impl->summary.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count();
  Impl* raw = impl.get();
  impl->loop = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const ModelSummary& Engine::model() const { return impl_->summary; }
const Tokenizer& Engine::tokenizer() const { return *impl_->tokenizer; }
const EngineConfig& Engine::limits() const { return impl_->core->limits(); }

Result<void> Engine::submit(GenerationRequest request) {
  // Validated on the caller's thread (it reads only immutable state), so a caller never waits
  // for a forward pass to learn that its request is bad.
  LLMP_TRY_VOID(impl_->core->validate(request));
  const EngineConfig& limits = impl_->core->limits();
  if (limits.max_waiting > 0) {
    const int64_t capacity = limits.max_seqs + limits.max_waiting;
    if (impl_->unfinished.fetch_add(1) >= capacity) {
      impl_->unfinished.fetch_sub(1);
      return error(StatusCode::unavailable,
                   fmt::format("the model is at capacity ({} requests running or queued); retry shortly", capacity));
    }
  } else {
    impl_->unfinished.fetch_add(1);
  }
  // The count drops when the last of the request's n completions has finished (engine thread).
  auto remaining = std::make_shared<int>(request.sampling.n);
  request.on_event = [impl = impl_.get(), remaining, sink = std::move(request.on_event)](TokenEvent&& ev) {
    const bool last = ev.finish && (ev.finish == FinishReason::error || --*remaining == 0);
    if (sink) sink(std::move(ev));
    if (last) impl->unfinished.fetch_sub(1);
  };
  impl_->post([this, req = std::move(request)]() mutable {
    EventSink sink = req.on_event;
    if (auto r = impl_->core->add(std::move(req)); !r) {
      // Unreachable after validate(); report it rather than drop the request silently.
      TokenEvent ev;
      ev.finish = FinishReason::error;
      ev.error = r.error();
      if (sink) sink(std::move(ev));
    }
  });
  return ok();
}

void Engine::cancel(const std::string& id) {
  impl_->post([this, id] { impl_->core->cancel(id); });
}

Result<std::vector<float>> Engine::embed(std::vector<TokenId> tokens) {
  auto promise = std::make_shared<std::promise<Result<std::vector<float>>>>();
  auto result = promise->get_future();
  impl_->post([this, promise, tokens = std::move(tokens)] { promise->set_value(impl_->core->embed(tokens)); });
  return result.get();
}

Result<float> Engine::score(std::vector<TokenId> tokens, std::vector<int32_t> type_ids) {
  auto promise = std::make_shared<std::promise<Result<float>>>();
  auto result = promise->get_future();
  impl_->post([this, promise, tokens = std::move(tokens), type_ids = std::move(type_ids)] {
    promise->set_value(impl_->core->score(tokens, type_ids));
  });
  return result.get();
}

const EngineTimings& Engine::timings() const { return impl_->core->timings(); }

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->last_stats;
}

}  // namespace llmp::engine
