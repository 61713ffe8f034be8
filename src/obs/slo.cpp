#include "llmp/obs/slo.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

namespace llmp::obs {
namespace {

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  return v;
}

// 0.995, 99.5%, p=0.995, objective=0.995.
std::optional<double> parse_objective(std::string_view text) {
  if (text.starts_with("p=")) text.remove_prefix(2);
  else if (text.starts_with("objective=")) text.remove_prefix(10);
  bool percent = false;
  if (text.ends_with('%')) {
    percent = true;
    text.remove_suffix(1);
  }
  auto v = parse_number(text);
  if (!v) return std::nullopt;
  return percent ? *v / 100 : *v;
}

// 800ms, 1.5s.
std::optional<double> parse_ms(std::string_view text) {
  double unit = 1;
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with('s')) {
    text.remove_suffix(1);
    unit = 1000;
  } else {
    return std::nullopt;
  }
  auto v = parse_number(text);
  if (!v || *v <= 0) return std::nullopt;
  return *v * unit;
}

std::optional<std::string> operation_of_route(std::string_view route) {
  if (route == "/v1/chat/completions") return "chat";
  if (route == "/v1/completions") return "completion";
  if (route == "/v1/embeddings") return "embeddings";
  if (route == "/v1/rerank") return "rerank";
  return std::nullopt;
}

bool valid_slo_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string SloSpec::to_string() const {
  std::string out = fmt::format("{}: {} {}", name, kind == SloKind::availability ? "availability" : "latency",
                                objective);
  if (kind == SloKind::latency) {
    out += fmt::format(" {}<={}ms", field == LatencyField::ttft ? "ttft" : "latency", threshold_ms);
  }
  if (!model.empty()) out += " model=" + model;
  if (!tenant.empty()) out += " tenant=" + tenant;
  if (!operation.empty()) out += " operation=" + operation;
  return out;
}

Result<SloSpec> parse_slo_spec(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return error(StatusCode::invalid_argument, "expected \"NAME: availability|latency OBJECTIVE ...\"");
  }
  SloSpec slo;
  const auto name_words = words(text.substr(0, colon));
  if (name_words.size() != 1 || !valid_slo_name(name_words[0])) {
    return error(StatusCode::invalid_argument,
                 "the name (before ':') must be 1-128 letters, digits, '-', '_' or '.'");
  }
  slo.name = std::string(name_words[0]);
  const auto w = words(text.substr(colon + 1));
  if (w.empty() || (w[0] != "availability" && w[0] != "latency")) {
    return error(StatusCode::invalid_argument, "the kind after the name must be \"availability\" or \"latency\"");
  }
  slo.kind = w[0] == "availability" ? SloKind::availability : SloKind::latency;
  if (w.size() < 2) return error(StatusCode::invalid_argument, "the objective is missing (e.g. 0.995 or 99.5%)");
  auto objective = parse_objective(w[1]);
  if (!objective || *objective <= 0 || *objective >= 1) {
    return error(StatusCode::invalid_argument,
                 fmt::format("objective '{}' must be a ratio in (0, 1) such as 0.995, or a percentage such as 99.5%",
                             w[1]));
  }
  slo.objective = *objective;
  size_t i = 2;
  if (slo.kind == SloKind::latency) {
    if (w.size() <= i) {
      return error(StatusCode::invalid_argument, "a latency SLO needs its threshold: latency<=N(ms|s) or ttft<=N(ms|s)");
    }
    const std::string_view t = w[i++];
    const size_t le = t.find("<=");
    const std::string_view field = le == std::string_view::npos ? t : t.substr(0, le);
    if (le == std::string_view::npos || (field != "latency" && field != "ttft")) {
      return error(StatusCode::invalid_argument,
                   fmt::format("threshold '{}' must read latency<=N(ms|s) or ttft<=N(ms|s)", t));
    }
    auto ms = parse_ms(t.substr(le + 2));
    if (!ms) {
      return error(StatusCode::invalid_argument,
                   fmt::format("threshold '{}': the duration must be a positive number of ms or s (800ms, 1.5s)", t));
    }
    slo.field = field == "ttft" ? LatencyField::ttft : LatencyField::latency;
    slo.threshold_ms = *ms;
  }
  for (; i < w.size(); ++i) {
    const std::string_view f = w[i];
    const size_t eq = f.find('=');
    const std::string_view key = eq == std::string_view::npos ? f : f.substr(0, eq);
    const std::string value = eq == std::string_view::npos ? "" : std::string(f.substr(eq + 1));
    if (eq == std::string_view::npos || value.empty()) {
      return error(StatusCode::invalid_argument,
                   fmt::format("'{}' is not a filter: use model=, tenant=, operation= or route= with a value", f));
    }
    if (key == "model") {
      slo.model = value;
    } else if (key == "tenant") {
      slo.tenant = value;
    } else if (key == "operation") {
      if (value != "chat" && value != "completion" && value != "embeddings" && value != "rerank") {
        return error(StatusCode::invalid_argument,
                     fmt::format("operation '{}' must be chat, completion, embeddings or rerank", value));
      }
      slo.operation = value;
    } else if (key == "route") {
      auto op = operation_of_route(value);
      if (!op) {
        return error(StatusCode::invalid_argument,
                     fmt::format("route '{}' must be /v1/chat/completions, /v1/completions, /v1/embeddings or "
                                 "/v1/rerank",
                                 value));
      }
      slo.operation = *op;
    } else {
      return error(StatusCode::invalid_argument,
                   fmt::format("'{}' is not a filter: use model=, tenant=, operation= or route=", key));
    }
  }
  return slo;
}

Result<std::vector<SloSpec>> parse_slo_specs(const std::vector<std::string>& entries, std::string_view setting) {
  std::vector<SloSpec> out;
  std::set<std::string> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto slo = parse_slo_spec(entries[i]);
    if (!slo) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}[{}] \"{}\": {}", setting, i, entries[i], slo.error().message()));
    }
    if (!names.insert(slo->name).second) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}[{}] \"{}\": the name '{}' is used twice", setting, i, entries[i], slo->name));
    }
    out.push_back(std::move(*slo));
  }
  return out;
}

bool slo_counts(const SloSpec& slo, const CallRecord& call) {
  if (!slo.model.empty() && call.model != slo.model) return false;
  if (!slo.tenant.empty() && call.tenant_id != slo.tenant) return false;
  if (!slo.operation.empty() && call.operation != slo.operation) return false;
  if (slo.kind == SloKind::latency) {
    if (call.http_status >= 400) return false;
    if (slo.field == LatencyField::ttft && call.ttft_ms < 0) return false;
  }
  return true;
}

bool slo_good(const SloSpec& slo, const CallRecord& call) {
  if (slo.kind == SloKind::availability) return call.http_status < 500;
  const double ms = slo.field == LatencyField::ttft ? call.ttft_ms : call.latency_ms;
  return ms <= slo.threshold_ms;
}

std::string window_name(int64_t minutes) {
  if (minutes % 1440 == 0) return fmt::format("{}d", minutes / 1440);
  if (minutes % 60 == 0) return fmt::format("{}h", minutes / 60);
  return fmt::format("{}m", minutes);
}

double burn_rate(int64_t good, int64_t total, double objective) {
  if (total <= 0) return 0;
  const double error_ratio = static_cast<double>(total - good) / static_cast<double>(total);
  // Objectives are written in decimal: 1 - 0.99 is 0.010000000000000009 in binary; rounded to
  // 12 places it is 0.01 again, so an all-bad window burns at 100x, not 99.99999999999991x.
  const double budget = std::round((1 - objective) * 1e12) / 1e12;
  return error_ratio / budget;
}

}  // namespace llmp::obs
