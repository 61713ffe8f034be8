// Engine figures on /metrics, per served model. Counters come from each engine's last step
// (EngineStats) and latencies from its lock-free histograms (EngineTimings), so a scrape never
// waits on an engine. In OpenMetrics a latency bucket carries, as its exemplar, the trace of the
// latest traced call counted in it.

#include <fmt/format.h>

#include "llmp/api/routes.h"
#include "llmp/core/metrics.h"
#include "llmp/engine/structured_output.h"

namespace llmp::api {
namespace {

using ModelList = std::vector<std::shared_ptr<ServedModel>>;

// Latency histograms, finishes by reason and load time (vLLM's request metrics, our names).
void add_timing_families(std::string& out, const ModelList& all, metrics::Format format) {
  struct Family {
    const char* name;
    const char* help;
    const metrics::Histogram engine::EngineTimings::*member;
  };
  const Family families[] = {
      {"llmp_request_queue_seconds", "Arrival to first scheduling, per sequence.", &engine::EngineTimings::queue},
      {"llmp_time_to_first_token_seconds", "Arrival to first generated token, per sequence.",
       &engine::EngineTimings::time_to_first_token},
      {"llmp_inter_token_latency_seconds", "Time between consecutive tokens of a sequence.",
       &engine::EngineTimings::inter_token},
      {"llmp_request_duration_seconds", "Arrival to finish, per sequence.", &engine::EngineTimings::end_to_end},
      {"llmp_request_prefill_seconds", "First scheduled to first token (prompt computation), per sequence.",
       &engine::EngineTimings::prefill},
      {"llmp_request_decode_seconds", "First token to finish, per sequence.", &engine::EngineTimings::decode},
  };
  auto label_of = [](const auto& m) {
    std::string label;
    metrics::append_label_value(label, m->id);
    return label;
  };
  for (const auto& f : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", f.name, f.help, f.name);
    for (const auto& m : all) {
      if (m->engine->model().is_encoder) continue;
      metrics::append_histogram(out, f.name, "model=\"" + label_of(m) + "\"", m->engine->timings().*f.member, format);
    }
  }
  out += "# HELP llmp_requests_finished_total Sequences finished, by reason (stop, length, cancelled, error).\n"
         "# TYPE llmp_requests_finished_total counter\n";
  for (const auto& m : all) {
    if (m->engine->model().is_encoder) continue;
    for (auto reason : {engine::FinishReason::stop, engine::FinishReason::length, engine::FinishReason::cancelled,
                        engine::FinishReason::error}) {
      out += fmt::format("llmp_requests_finished_total{{model=\"{}\",reason=\"{}\"}} {}\n", label_of(m),
                         engine::to_string(reason), m->engine->timings().finished[static_cast<int>(reason)].value());
    }
  }
  out += "# HELP llmp_grammar_mask_bytes Token masks cached for structured output, all grammars together "
         "(engine.grammar_mask_cache_mb bounds it).\n"
         "# TYPE llmp_grammar_mask_bytes gauge\n";
  out += fmt::format("llmp_grammar_mask_bytes {}\n", engine::grammar_mask_bytes());
  out += "# HELP llmp_model_load_seconds Time to load the model: read and check the weights, place them, size the KV cache.\n"
         "# TYPE llmp_model_load_seconds gauge\n";
  for (const auto& m : all) out += fmt::format("llmp_model_load_seconds{{model=\"{}\"}} {}\n", label_of(m), m->engine->model().load_seconds);
}

}  // namespace

void add_engine_metrics(metrics::Registry& registry, const ServedModels& models) {
  // With the format: for OpenMetrics the latency buckets carry the exemplars that traced calls
  // attached (api::CallLog).
  registry.add_collector([&models](std::string& out, metrics::Format format) {
    const auto all = models.list();
    struct Family {
      const char* name;
      const char* type;
      const char* help;
    };
    const Family families[] = {
        {"llmp_engine_requests_running", "gauge", "Sequences being computed."},
        {"llmp_engine_requests_waiting", "gauge", "Sequences waiting to be scheduled (incl. preempted)."},
        {"llmp_kv_cache_blocks", "gauge", "KV cache blocks by state (used, free)."},
        {"llmp_kv_cache_usage_ratio", "gauge", "Fraction of KV cache blocks in use."},
        {"llmp_prefix_cache_queries_total", "counter", "Full prompt blocks looked up in the prefix cache."},
        {"llmp_prefix_cache_hits_total", "counter", "Prompt blocks found in the prefix cache."},
        {"llmp_kv_cache_evictions_total", "counter", "Cached KV blocks evicted to make room."},
        {"llmp_engine_preemptions_total", "counter", "Sequences preempted (recomputed later) when KV blocks ran out."},
        {"llmp_prompt_tokens_total", "counter", "Prompt tokens computed (prefix-cache hits excluded)."},
        {"llmp_generation_tokens_total", "counter", "Tokens generated."},
        {"llmp_engine_steps_total", "counter", "Scheduler steps run."},
        {"llmp_engine_busy_seconds_total", "counter", "Time spent in scheduler steps."},
        {"llmp_spec_decode_draft_tokens_total", "counter", "Tokens drafted by prompt lookup and checked (speculative decoding)."},
        {"llmp_spec_decode_accepted_tokens_total", "counter", "Drafted tokens the sampler agreed with, kept without a step of their own."},
    };
    for (const auto& f : families) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
      for (const auto& m : all) {
        if (m->engine->model().is_encoder) continue;
        const auto st = m->engine->stats();
        std::string label;
        metrics::append_label_value(label, m->id);
        const std::string name = f.name;
        auto line = [&](double v, std::string_view extra = {}) {
          out += fmt::format("{}{{model=\"{}\"{}}} {}\n", name, label, extra, v);
        };
        if (name == "llmp_engine_requests_running") line(static_cast<double>(st.running));
        else if (name == "llmp_engine_requests_waiting") line(static_cast<double>(st.waiting));
        else if (name == "llmp_kv_cache_blocks") {
          line(static_cast<double>(st.kv_blocks_used), ",state=\"used\"");
          line(static_cast<double>(st.kv_blocks_total - st.kv_blocks_used), ",state=\"free\"");
        } else if (name == "llmp_kv_cache_usage_ratio") {
          line(st.kv_blocks_total > 0 ? static_cast<double>(st.kv_blocks_used) / static_cast<double>(st.kv_blocks_total) : 0.0);
        } else if (name == "llmp_prefix_cache_queries_total") line(static_cast<double>(st.prefix_queries));
        else if (name == "llmp_prefix_cache_hits_total") line(static_cast<double>(st.prefix_hits));
        else if (name == "llmp_kv_cache_evictions_total") line(static_cast<double>(st.evictions));
        else if (name == "llmp_engine_preemptions_total") line(static_cast<double>(st.preemptions));
        else if (name == "llmp_prompt_tokens_total") line(static_cast<double>(st.prompt_tokens));
        else if (name == "llmp_generation_tokens_total") line(static_cast<double>(st.generation_tokens));
        else if (name == "llmp_engine_steps_total") line(static_cast<double>(st.steps));
        else if (name == "llmp_engine_busy_seconds_total") line(st.busy_seconds);
        else if (name == "llmp_spec_decode_draft_tokens_total") line(static_cast<double>(st.draft_tokens));
        else if (name == "llmp_spec_decode_accepted_tokens_total") line(static_cast<double>(st.accepted_draft_tokens));
      }
    }
    add_timing_families(out, all, format);
  });
}

}  // namespace llmp::api
