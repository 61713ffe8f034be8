#include "llmp/gateway/limiter.h"

#include <boost/container/small_vector.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

namespace llmp::gateway {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kDayMs = 86'400'000;

bool is_rate(LimitKind k) { return k == LimitKind::requests_per_minute || k == LimitKind::tokens_per_minute; }
bool is_window(LimitKind k) { return !is_rate(k) && k != LimitKind::concurrent_requests; }
bool counts_tokens(LimitKind k) {
  return k == LimitKind::tokens_per_minute || k == LimitKind::tokens_per_day || k == LimitKind::tokens_per_month;
}
bool counts_requests(LimitKind k) {
  return k == LimitKind::requests_per_minute || k == LimitKind::requests_per_day || k == LimitKind::requests_per_month;
}

// [start, end) in ms of the window that holds `now` for a quota or budget rule.
std::pair<int64_t, int64_t> window_of(const LimitRule& r, int64_t now) {
  using namespace std::chrono;
  const bool monthly = r.kind == LimitKind::requests_per_month || r.kind == LimitKind::tokens_per_month ||
                       (r.kind == LimitKind::spend && r.period_seconds <= 0);
  if (monthly) {
    const year_month_day ymd{floor<days>(sys_time<milliseconds>(milliseconds(now)))};
    const sys_days first = ymd.year() / ymd.month() / 1;
    const sys_days next = (ymd.year() / ymd.month() + months(1)) / 1;
    return {duration_cast<milliseconds>(first.time_since_epoch()).count(),
            duration_cast<milliseconds>(next.time_since_epoch()).count()};
  }
  const int64_t len = r.kind == LimitKind::spend ? r.period_seconds * 1000 : kDayMs;
  const int64_t start = now / len * len;
  return {start, start + len};
}

}  // namespace

std::string_view to_string(LimitKind k) {
  switch (k) {
    case LimitKind::requests_per_minute: return "requests_per_minute";
    case LimitKind::tokens_per_minute: return "tokens_per_minute";
    case LimitKind::concurrent_requests: return "concurrent_requests";
    case LimitKind::requests_per_day: return "requests_per_day";
    case LimitKind::tokens_per_day: return "tokens_per_day";
    case LimitKind::requests_per_month: return "requests_per_month";
    case LimitKind::tokens_per_month: return "tokens_per_month";
    case LimitKind::spend: return "spend";
  }
  return "unknown";
}

std::optional<LimitKind> parse_limit_kind(std::string_view text) {
  for (int k = 0; k <= static_cast<int>(LimitKind::spend); ++k) {
    if (to_string(static_cast<LimitKind>(k)) == text) return static_cast<LimitKind>(k);
  }
  return std::nullopt;
}

bool limit_counts_tokens(LimitKind k) { return counts_tokens(k); }

struct Limiter::State {
  using Key = std::pair<std::string, LimitKind>;
  // Orders keys, and finds them by a subject that is only viewed: admission looks up every
  // subject of every request, and building a Key copied the subject each time.
  struct KeyLess {
    using is_transparent = void;
    using View = std::pair<std::string_view, LimitKind>;
    static View view(const Key& k) { return {k.first, k.second}; }
    bool operator()(const Key& a, const Key& b) const { return view(a) < view(b); }
    bool operator()(const Key& a, const View& b) const { return view(a) < b; }
    bool operator()(const View& a, const Key& b) const { return a < view(b); }
  };
  struct Rule {
    LimitRule rule;
    double level = 0;         // rates: what the bucket holds now (may be negative: debt)
    int64_t refilled_ms = 0;  // rates: when `level` was last brought up to date
    int64_t in_flight = 0;    // concurrency
    int64_t window_start = 0, window_end = 0;  // quotas and budgets
    double used = 0;

    double per_ms() const { return rule.limit / static_cast<double>(kMinuteMs); }
    // Brings the rule to `now`: refills the bucket, or opens a new window.
    void roll(int64_t now) {
      if (is_rate(rule.kind)) {
        level = std::min(rule.limit, level + per_ms() * static_cast<double>(std::max<int64_t>(0, now - refilled_ms)));
        refilled_ms = now;
      } else if (is_window(rule.kind) && now >= window_end) {
        std::tie(window_start, window_end) = window_of(rule, now);
        used = 0;
      }
    }
    // What admitting a request of `tokens` and `cost` takes from this rule.
    double need(int64_t tokens, double cost) const {
      if (rule.kind == LimitKind::spend) return cost;
      if (counts_tokens(rule.kind)) return static_cast<double>(tokens);
      return 1;
    }
  };
  struct Held {
    int64_t tokens = 0;
    double cost = 0;
    // Rule and, for windows, the window charged. Inline: a request meets a few rules.
    boost::container::small_vector<std::pair<Key, int64_t>, 4> applied;
  };

  std::function<int64_t()> now_ms;
  mutable std::mutex mu;
  std::map<Key, Rule, KeyLess> rules;
  std::map<uint64_t, Held> held;
  uint64_t next_id = 1;
};

Limiter::Limiter(std::function<int64_t()> now_ms) : state_(std::make_unique<State>()) {
  state_->now_ms = now_ms ? std::move(now_ms) : [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
}

Limiter::~Limiter() = default;

void Limiter::set_rules(std::vector<LimitRule> rules) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->now_ms();
  std::map<State::Key, State::Rule, State::KeyLess> next;
  for (auto& r : rules) {
    State::Key key{r.subject, r.kind};
    auto old = state_->rules.find(key);
    State::Rule st;
    if (old != state_->rules.end()) {
      st = old->second;
      st.rule = std::move(r);
      if (is_window(st.rule.kind)) std::tie(st.window_start, st.window_end) = window_of(st.rule, now);
      if (old->second.window_start != st.window_start) st.used = 0;
    } else {
      st.rule = std::move(r);
      st.level = st.rule.limit;  // a new rate starts full
      st.refilled_ms = now;
      if (is_window(st.rule.kind)) std::tie(st.window_start, st.window_end) = window_of(st.rule, now);
    }
    next[key] = std::move(st);
  }
  state_->rules = std::move(next);
}

std::variant<Reservation, Refusal> Limiter::admit(const AdmissionRequest& request) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->now_ms();
  boost::container::small_vector<State::Rule*, 8> matched;  // a request meets a few rules: no allocation
  for (const auto& subject : request.subjects) {
    const State::KeyLess::View first{subject, LimitKind{}};
    for (auto it = state_->rules.lower_bound(first); it != state_->rules.end() && it->first.first == subject;
         ++it) {
      it->second.roll(now);
      matched.push_back(&it->second);
    }
  }

  // Check every rule before taking anything: a refusal changes nothing.
  std::optional<Refusal> refusal;
  auto refuse = [&](const State::Rule& r, bool retryable, double retry_after, std::string message) {
    // Prefer the refusal that cannot clear by waiting, then the longest wait.
    if (refusal && (refusal->retryable < retryable ||
                    (refusal->retryable == retryable && refusal->retry_after_seconds >= retry_after))) {
      return;
    }
    refusal = Refusal{retryable, r.rule.subject, r.rule.kind, retry_after, std::move(message)};
  };
  for (const State::Rule* r : matched) {
    const double need = r->need(request.tokens, request.cost);
    const double limit = r->rule.limit;
    // Formatted only on a refusal: admission itself allocates nothing per rule.
    auto what = [r] { return fmt::format("{} of {}", to_string(r->rule.kind), r->rule.subject); };
    if (is_rate(r->rule.kind)) {
      if (need > limit) {
        refuse(*r, false, 0, fmt::format("the request needs {} against {} (limit {}): it can never fit", need, what(), limit));
      } else if (r->level < need) {
        refuse(*r, true, (need - r->level) / r->per_ms() / 1000.0, fmt::format("{} exceeded (limit {})", what(), limit));
      }
    } else if (r->rule.kind == LimitKind::concurrent_requests) {
      if (static_cast<double>(r->in_flight) + 1 > limit) {
        refuse(*r, limit >= 1, 0, fmt::format("{} exceeded (limit {})", what(), limit));
      }
    } else if (r->used + need > limit) {
      const double reset = static_cast<double>(r->window_end - now) / 1000.0;
      refuse(*r, false, reset, fmt::format("{} exhausted: {} used of {}, resets in {:.0f} s", what(), r->used, limit, reset));
    }
  }
  if (refusal) return *refusal;

  Reservation res;
  res.id = state_->next_id++;
  res.tokens = request.tokens;
  res.cost = request.cost;
  State::Held held{request.tokens, request.cost, {}};
  std::optional<LimitStatus> requests, tokens;
  for (State::Rule* r : matched) {
    const double need = r->need(request.tokens, request.cost);
    if (is_rate(r->rule.kind)) r->level -= need;
    else if (r->rule.kind == LimitKind::concurrent_requests) ++r->in_flight;
    else r->used += need;
    held.applied.push_back({{r->rule.subject, r->rule.kind}, r->window_start});
    if (is_rate(r->rule.kind)) {
      LimitStatus st{r->rule.kind, r->rule.limit, std::max(0.0, std::floor(r->level)),
                     (r->rule.limit - r->level) / r->per_ms() / 1000.0};
      auto& slot = counts_requests(r->rule.kind) ? requests : tokens;
      if (!slot || st.remaining < slot->remaining) slot = st;
    }
  }
  if (requests) res.status.push_back(*requests);
  if (tokens) res.status.push_back(*tokens);
  state_->held.emplace(res.id, std::move(held));
  return res;
}

void Limiter::settle(const Reservation& reservation, int64_t used_tokens, double used_cost) {
  std::lock_guard lock(state_->mu);
  auto h = state_->held.find(reservation.id);
  if (h == state_->held.end()) return;  // settled already
  const int64_t now = state_->now_ms();
  for (const auto& [key, window_start] : h->second.applied) {
    auto it = state_->rules.find(key);
    if (it == state_->rules.end()) continue;  // the rule was removed meanwhile
    State::Rule& r = it->second;
    r.roll(now);
    const double delta = r.need(used_tokens, used_cost) - r.need(h->second.tokens, h->second.cost);
    if (r.rule.kind == LimitKind::concurrent_requests) {
      r.in_flight = std::max<int64_t>(0, r.in_flight - 1);
    } else if (is_rate(r.rule.kind)) {
      if (counts_tokens(r.rule.kind)) r.level = std::min(r.rule.limit, r.level - delta);
    } else if (!counts_requests(r.rule.kind) && r.window_start == window_start) {
      r.used = std::max(0.0, r.used + delta);  // a window that has rolled over keeps its count
    }
  }
  state_->held.erase(h);
}

std::vector<Limiter::Counter> Limiter::snapshot() const {
  std::lock_guard lock(state_->mu);
  std::vector<Counter> out;
  for (const auto& [key, r] : state_->rules) {
    if (is_window(r.rule.kind)) out.push_back({r.rule.subject, r.rule.kind, r.window_start, r.used});
  }
  return out;
}

void Limiter::restore(const std::vector<Counter>& counters) {
  std::lock_guard lock(state_->mu);
  const int64_t now = state_->now_ms();
  for (const auto& c : counters) {
    auto it = state_->rules.find({c.subject, c.kind});
    if (it == state_->rules.end()) continue;
    it->second.roll(now);
    if (it->second.window_start == c.window_start_ms) it->second.used = c.used;
  }
}

}  // namespace llmp::gateway
