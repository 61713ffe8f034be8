// Engine figures on /metrics, per served model. Counters come from each engine's last step
// (EngineStats), so a scrape never waits on an engine.

#include <fmt/format.h>

#include "llmp/api/routes.h"
#include "llmp/core/metrics.h"

namespace llmp::api {

void add_engine_metrics(metrics::Registry& registry, const ServedModels& models) {
  registry.add_collector([&models](std::string& out) {
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
      }
    }
  });
}

}  // namespace llmp::api
