#include "llmp/obs/alert_rule.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

namespace llmp::obs {
namespace {

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE) return std::nullopt;
  return v;
}

// A label set `{a="x",b="y"}` starting at s[i] == '{'; i ends past the '}'. Values unescape
// \\, \" and \n as the text format writes them.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_labels(std::string_view s, size_t& i) {
  std::vector<std::pair<std::string, std::string>> out;
  ++i;  // '{'
  while (true) {
    skip_space(s, i);
    if (i < s.size() && s[i] == '}') {
      ++i;
      return out;
    }
    const size_t start = i;
    while (i < s.size() && name_char(s[i], i == start)) ++i;
    if (i == start) return std::nullopt;
    std::string key(s.substr(start, i - start));
    skip_space(s, i);
    if (i >= s.size() || s[i] != '=') return std::nullopt;
    ++i;
    skip_space(s, i);
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    ++i;
    std::string value;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        value += s[i] == 'n' ? '\n' : s[i];
      } else {
        value += s[i];
      }
      ++i;
    }
    if (i >= s.size()) return std::nullopt;
    ++i;  // closing quote
    out.emplace_back(std::move(key), std::move(value));
    skip_space(s, i);
    if (i < s.size() && s[i] == ',') ++i;
  }
}

std::string quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string_view to_string(CompareOp op) {
  switch (op) {
    case CompareOp::gt: return ">";
    case CompareOp::ge: return ">=";
    case CompareOp::lt: return "<";
    case CompareOp::le: return "<=";
    case CompareOp::eq: return "==";
    case CompareOp::ne: return "!=";
  }
  return "?";
}

bool compare(double lhs, CompareOp op, double rhs) {
  switch (op) {
    case CompareOp::gt: return lhs > rhs;
    case CompareOp::ge: return lhs >= rhs;
    case CompareOp::lt: return lhs < rhs;
    case CompareOp::le: return lhs <= rhs;
    case CompareOp::eq: return lhs == rhs;
    case CompareOp::ne: return lhs != rhs;
  }
  return false;
}

std::optional<int64_t> parse_duration_seconds(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 9) return std::nullopt;
  return std::stoll(std::string(digits)) * unit;
}

std::string ThresholdRule::expr() const {
  std::string selector = metric;
  if (!labels.empty()) {
    selector += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      selector += fmt::format("{}{}={}", i ? "," : "", labels[i].first, quote(labels[i].second));
    }
    selector += '}';
  }
  if (rate) return fmt::format("sum(rate({}[{}s]))", selector, rate_window_s);
  return fmt::format("sum({})", selector);
}

Result<ThresholdRule> parse_threshold_rule(std::string_view text) {
  auto fail = [](std::string message) { return error(StatusCode::invalid_argument, std::move(message)); };
  const size_t colon = text.find(':');
  ThresholdRule r;
  {
    size_t a = 0, b = colon == std::string_view::npos ? 0 : colon;
    while (a < b && text[a] == ' ') ++a;
    while (b > a && text[b - 1] == ' ') --b;
    r.name = std::string(text.substr(a, b - a));
  }
  if (colon == std::string_view::npos || r.name.empty() ||
      r.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos) {
    return fail("expected \"NAME: METRIC{LABELS} OP VALUE [for DURATION]\" with a name of letters, digits, '-', '_' or '.'");
  }
  const std::string_view s = text.substr(colon + 1);
  size_t i = 0;
  skip_space(s, i);
  if (s.substr(i).starts_with("rate(")) {
    r.rate = true;
    i += 5;
    skip_space(s, i);
  }
  const size_t start = i;
  while (i < s.size() && name_char(s[i], i == start)) ++i;
  if (i == start) return fail("the metric name is missing after the ':'");
  r.metric = std::string(s.substr(start, i - start));
  if (i < s.size() && s[i] == '{') {
    auto labels = parse_labels(s, i);
    if (!labels) return fail(fmt::format("the labels of {} must read {{name=\"value\",...}}", r.metric));
    r.labels = std::move(*labels);
  }
  if (r.rate) {
    skip_space(s, i);
    const size_t close = s.find(']', i);
    if (i >= s.size() || s[i] != '[' || close == std::string_view::npos) {
      return fail("rate() needs a window: rate(METRIC{...}[5m])");
    }
    auto window = parse_duration_seconds(s.substr(i + 1, close - i - 1));
    if (!window || *window <= 0) return fail(fmt::format("the rate window '{}' must be like 90s, 5m or 1h", s.substr(i + 1, close - i - 1)));
    r.rate_window_s = *window;
    i = close + 1;
    skip_space(s, i);
    if (i >= s.size() || s[i] != ')') return fail("rate( is not closed by ')'");
    ++i;
  }
  skip_space(s, i);
  static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
      {">=", CompareOp::ge}, {"<=", CompareOp::le}, {"==", CompareOp::eq},
      {"!=", CompareOp::ne}, {">", CompareOp::gt},  {"<", CompareOp::lt}};
  bool found = false;
  for (const auto& [name, op] : kOps) {
    if (s.substr(i).starts_with(name)) {
      r.op = op;
      i += name.size();
      found = true;
      break;
    }
  }
  if (!found) return fail("expected a comparison (>, >=, <, <=, ==, !=) after the selector");
  std::vector<std::string_view> rest;
  while (true) {
    skip_space(s, i);
    if (i >= s.size()) break;
    const size_t w = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    rest.push_back(s.substr(w, i - w));
  }
  if (rest.empty()) return fail("the threshold value is missing after the comparison");
  auto value = parse_number(rest[0]);
  if (!value || !std::isfinite(*value)) return fail(fmt::format("the threshold '{}' is not a number", rest[0]));
  r.value = *value;
  for (size_t k = 1; k < rest.size(); ++k) {
    if (rest[k] == "for") {
      if (k + 1 >= rest.size()) return fail("'for' needs a duration (90s, 5m, 1h)");
      auto d = parse_duration_seconds(rest[++k]);
      if (!d) return fail(fmt::format("the duration '{}' after 'for' must be like 90s, 5m or 1h", rest[k]));
      r.for_s = *d;
    } else if (rest[k].starts_with("severity=") && rest[k].size() > 9) {
      r.severity = std::string(rest[k].substr(9));
    } else {
      return fail(fmt::format("unexpected '{}': after the value come only 'for DURATION' and 'severity=NAME'", rest[k]));
    }
  }
  return r;
}

Result<std::vector<ThresholdRule>> parse_threshold_rules(const std::vector<std::string>& entries,
                                                         std::string_view setting) {
  std::vector<ThresholdRule> out;
  std::set<std::string> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto rule = parse_threshold_rule(entries[i]);
    if (!rule) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}[{}] \"{}\": {}", setting, i, entries[i], rule.error().message()));
    }
    if (!names.insert(rule->name).second) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}[{}] \"{}\": the name '{}' is used twice", setting, i, entries[i], rule->name));
    }
    out.push_back(std::move(*rule));
  }
  return out;
}

std::optional<double> sample_sum(std::string_view exposition, std::string_view metric,
                                 const std::vector<std::pair<std::string, std::string>>& labels) {
  std::optional<double> sum;
  size_t pos = 0;
  while (pos < exposition.size()) {
    size_t eol = exposition.find('\n', pos);
    if (eol == std::string_view::npos) eol = exposition.size();
    const std::string_view line = exposition.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.starts_with(metric) || line.size() == metric.size()) continue;
    const char next = line[metric.size()];
    if (next != '{' && next != ' ') continue;
    size_t i = metric.size();
    std::vector<std::pair<std::string, std::string>> have;
    if (next == '{') {
      auto parsed = parse_labels(line, i);
      if (!parsed) continue;
      have = std::move(*parsed);
    }
    bool match = true;
    for (const auto& want : labels) {
      bool found = false;
      for (const auto& h : have) found |= h == want;
      if (!found) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    skip_space(line, i);
    size_t end = i;
    while (end < line.size() && line[end] != ' ') ++end;  // a timestamp may follow
    const std::string_view text = line.substr(i, end - i);
    std::optional<double> v;
    if (text == "+Inf") v = INFINITY;
    else if (text == "-Inf") v = -INFINITY;
    else if (text == "NaN") v = NAN;
    else v = parse_number(text);
    if (!v) continue;
    sum = sum.value_or(0) + *v;
  }
  return sum;
}

void RateWindow::add(int64_t now_ms, double value, int64_t window_ms) {
  samples_.emplace_back(now_ms, value);
  // Keep the newest sample at least a window old as the base, and everything after it.
  while (samples_.size() >= 2 && samples_[1].first <= now_ms - window_ms) samples_.pop_front();
}

std::optional<double> RateWindow::rate() const {
  if (samples_.size() < 2) return std::nullopt;
  const auto& [t0, v0] = samples_.front();
  const auto& [t1, v1] = samples_.back();
  if (t1 <= t0) return std::nullopt;
  // Sum the increases, a decrease being a restart from zero (as Prometheus's rate()).
  double increase = 0;
  for (size_t k = 1; k < samples_.size(); ++k) {
    const double d = samples_[k].second - samples_[k - 1].second;
    increase += d >= 0 ? d : samples_[k].second;
  }
  (void)v0;
  (void)v1;
  return increase / (static_cast<double>(t1 - t0) / 1000.0);
}

}  // namespace llmp::obs
