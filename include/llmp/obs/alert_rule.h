#pragma once
// Threshold rules on any metric of the process's Prometheus registry, read from the
// `alerts.rules` setting, one per entry:
//   "kv-full: llmp_kv_cache_usage_ratio{model=\"chat\"} > 0.95 for 5m"
//   "http-5xx: rate(llmp_http_requests_total{code=\"503\"}[5m]) > 1 for 2m severity=page"
// A selector's value is the sum of the samples whose name is the metric's and whose labels
// include the selector's; rate() is the per-second increase of that sum over its window, from
// the samples taken at each evaluation (a decrease counts as a restart from zero). No matching
// sample: no value, and the rule does not fire.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::obs {

enum class CompareOp { gt, ge, lt, le, eq, ne };

std::string_view to_string(CompareOp op);

struct ThresholdRule {
  std::string name;
  std::string metric;
  std::vector<std::pair<std::string, std::string>> labels;  // must all match
  bool rate = false;
  int64_t rate_window_s = 0;  // with rate: the window, unscaled seconds
  CompareOp op = CompareOp::gt;
  double value = 0;
  int64_t for_s = 0;  // the condition must hold this long (unscaled seconds) before firing
  std::string severity = "warning";

  //! The selector as PromQL (`metric{l="v"}` or `rate(metric{l="v"}[300s])`), summed.
  std::string expr() const;
};

//! Parses `NAME: SELECTOR OP VALUE [for DURATION] [severity=S]`; SELECTOR is `metric{...}` or
//! `rate(metric{...}[DURATION])`; OP one of > >= < <= == !=; DURATION like 90s, 5m, 1h.
Result<ThresholdRule> parse_threshold_rule(std::string_view text);

//! Every entry, errors naming the setting and the entry; names must be unique.
Result<std::vector<ThresholdRule>> parse_threshold_rules(const std::vector<std::string>& entries,
                                                         std::string_view setting = "alerts.rules");

//! "90s", "5m", "1h", "3d" → seconds; nullopt when it is not one.
std::optional<int64_t> parse_duration_seconds(std::string_view text);

//! The sum of the samples in Prometheus text `exposition` named `metric` whose labels include
//! every one of `labels`; nullopt when none matches.
std::optional<double> sample_sum(std::string_view exposition, std::string_view metric,
                                 const std::vector<std::pair<std::string, std::string>>& labels);

bool compare(double lhs, CompareOp op, double rhs);

//! Turns a counter's sums, taken at evaluation times, into a per-second rate over a window.
class RateWindow {
 public:
  //! Adds the sum read at `now_ms`; drops what the window no longer needs.
  void add(int64_t now_ms, double value, int64_t window_ms);
  //! The per-second increase over the window; nullopt before two samples.
  std::optional<double> rate() const;

 private:
  std::deque<std::pair<int64_t, double>> samples_;
};

}  // namespace llmp::obs
