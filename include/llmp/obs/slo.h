#pragma once
// Service level objectives over finished inference calls, and the multiwindow, multi-burn-rate
// rules that page on them (the Google SRE workbook's, ch. 5): an SLO's burn rate over a window
// is its error ratio there over its error budget (1 - objective); a rule fires while the burn
// rate exceeds its factor over both its long and its short window, the short one making the
// alert resolve soon after the burning stops.
//
// SLOs come from the `alerts.slos` setting, one compact spec per entry:
//   "chat-availability: availability 0.995 model=chat"
//   "chat-latency: latency 0.99 ttft<=800ms model=chat tenant=acme operation=chat"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/obs/call_record.h"

namespace llmp::obs {

enum class SloKind { availability, latency };

//! Which duration a latency SLO bounds.
enum class LatencyField { latency, ttft };

struct SloSpec {
  std::string name;
  SloKind kind = SloKind::availability;
  double objective = 0.99;  // in (0, 1): the share of counted calls that must be good
  LatencyField field = LatencyField::latency;
  double threshold_ms = 0;  // latency SLOs: good when the field is at most this
  // Scope; empty: any.
  std::string model;      // the model asked for (an alias when routed)
  std::string tenant;
  std::string operation;  // "chat" | "completion" | "embeddings" | "rerank"

  //! The spec in the form parse_slo_spec reads.
  std::string to_string() const;
};

//! Parses one spec: `NAME: availability OBJECTIVE [FILTER...]` or
//! `NAME: latency OBJECTIVE (latency|ttft)<=N(ms|s) [FILTER...]`. OBJECTIVE is 0.995, 99.5%,
//! p=0.995 or objective=0.995; a FILTER is model=, tenant=, operation= or route= (an inference
//! path such as /v1/chat/completions, taken as its operation). Errors say what is wrong.
Result<SloSpec> parse_slo_spec(std::string_view text);

//! Parses every entry; an error names the setting and the entry ("alerts.slos[2] \"...\": ...").
//! Names must be unique.
Result<std::vector<SloSpec>> parse_slo_specs(const std::vector<std::string>& entries,
                                             std::string_view setting = "alerts.slos");

//! Whether `call` counts toward `slo`: in its scope, and for a latency SLO answered without
//! error (status < 400) and, for ttft, with a first token.
bool slo_counts(const SloSpec& slo, const CallRecord& call);

//! Whether a counted call is good: availability, its status is under 500 (a 429 from our own
//! limits is good: the platform did what it was told); latency, the field is within threshold.
bool slo_good(const SloSpec& slo, const CallRecord& call);

//! One multiwindow burn-rate rule. Windows are in (unscaled) minutes.
struct BurnRateRule {
  std::string_view name;      // "fast_burn" | "slow_burn" | "budget_burn"
  std::string_view severity;  // "page" | "ticket"
  int64_t long_minutes;
  int64_t short_minutes;
  double factor;
};

//! 1h & 5m at 14.4x and 6h & 30m at 6x page; 3d & 6h at 1x opens a ticket.
inline constexpr BurnRateRule kBurnRateRules[] = {
    {"fast_burn", "page", 60, 5, 14.4},
    {"slow_burn", "page", 360, 30, 6.0},
    {"budget_burn", "ticket", 4320, 360, 1.0},
};

//! Every window the rules use, shortest first.
inline constexpr int64_t kSloWindowMinutes[] = {5, 30, 60, 360, 4320};

//! "5m", "30m", "1h", "6h", "3d".
std::string window_name(int64_t minutes);

//! error ratio / (1 - objective); 0 when nothing was counted.
double burn_rate(int64_t good, int64_t total, double objective);

}  // namespace llmp::obs
