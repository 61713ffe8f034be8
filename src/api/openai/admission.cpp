// Admission of inference requests against the gateway's limits, and the rate-limit headers.

#include "openai/admission.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "llmp/core/json.h"
#include "llmp/net/errors.h"

namespace llmp::api {
namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t ceil_seconds(double seconds) { return static_cast<int64_t>(std::ceil(std::max(0.0, seconds))); }

}  // namespace

std::string reset_duration(double seconds) {
  // Per request on every answer: appended, not formatted (fmt::format showed in the profile).
  std::string out;
  const auto append = [&out](int64_t v, std::string_view unit) {
    json::append_integer(out, v);
    out.append(unit);
  };
  if (seconds < 1) {
    append(static_cast<int64_t>(std::ceil(std::max(0.0, seconds) * 1000)), "ms");
    return out;
  }
  const int64_t total = ceil_seconds(seconds);
  const int64_t h = total / 3600, m = total / 60 % 60, sec = total % 60;
  if (h > 0) append(h, "h");
  if (h > 0 || m > 0) append(m, "m");
  append(sec, "s");
  return out;
}

std::expected<std::shared_ptr<LimitHold>, net::Response> admit_request(Services& s, const Caller& caller,
                                                                       const net::Request& req,
                                                                       std::string_view model, int64_t prompt_tokens,
                                                                       int64_t completion_tokens) {
  if (!s.limiter) return nullptr;
  const gateway::Identity* who = caller.identity;
  // The tenant inference_route settled on: the key's, or the one the platform admin or an open
  // caller named. An open caller that names none is not limited: there is nobody to count.
  const std::string& tenant = req.ctx.tenant;
  if (!who && tenant.empty()) return nullptr;
  gateway::AdmissionRequest request;
  request.tokens = prompt_tokens + completion_tokens;
  // The price in force at admission prices the settlement too: a change while the request runs
  // does not reprice it.
  std::optional<gateway::Price> price;
  if (s.prices) price = s.prices->price_at(model, now_seconds());
  // Cached prompt tokens are known only after the engine ran: reserve them at the input price.
  if (price) request.cost = gateway::cost_of(*price, prompt_tokens, 0, completion_tokens);
  // A tenant-wide key may act for one of its projects through X-Project-ID (checked already).
  std::string_view project = who ? std::string_view(who->project_id) : std::string_view();
  if (project.empty()) project = req.headers.get("X-Project-ID");
  const std::string_view key_id = who ? std::string_view(who->key_id) : std::string_view();
  // The subjects' text in one buffer, reserved whole so that the views into it stay valid: a
  // string per subject was four allocations per request.
  std::string subjects;
  subjects.reserve(tenant.size() + project.size() + key_id.size() + model.size() + 32);
  const auto add_subject = [&](std::string_view kind, std::string_view id) {
    const size_t at = subjects.size();
    subjects.append(kind).append(id);
    request.subjects.push_back(std::string_view(subjects).substr(at));
  };
  if (!tenant.empty()) add_subject("tenant:", tenant);
  if (!project.empty()) add_subject("project:", project);
  if (!key_id.empty()) add_subject("key:", key_id);
  add_subject("model:", model);

  auto outcome = s.limiter->admit(request);
  if (auto* refusal = std::get_if<gateway::Refusal>(&outcome)) {
    // OpenAI's shapes: a rate answers type "requests" or "tokens" with code
    // rate_limit_exceeded; an exhausted quota or budget type and code insufficient_quota.
    const std::string_view type = !refusal->retryable                          ? "insufficient_quota"
                                  : gateway::limit_counts_tokens(refusal->kind) ? "tokens"
                                                                                : "requests";
    net::Response res = net::error_response(
        429, {.message = refusal->message,
              .type = type,
              .code = refusal->retryable ? "rate_limit_exceeded" : "insufficient_quota"});
    if (refusal->retry_after_seconds > 0) {
      res.headers.set("Retry-After", std::to_string(ceil_seconds(refusal->retry_after_seconds)));
    }
    return std::unexpected(std::move(res));
  }
  return std::make_shared<LimitHold>(*s.limiter, std::get<gateway::Reservation>(std::move(outcome)), std::move(price));
}

void set_limit_headers(net::Response& res, const LimitHold* hold) {
  if (!hold) return;
  // Per request on every answer: built with appends into buffers on the stack, not format
  // strings or a string per value.
  static constexpr std::string_view kNames[2][3] = {
      {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
      {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"}};
  const auto append_int = [](fmt::memory_buffer& out, int64_t v) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
  };
  const auto append = [](fmt::memory_buffer& out, std::string_view text) { out.append(text.data(), text.data() + text.size()); };
  const auto view = [](const fmt::memory_buffer& b) { return std::string_view(b.data(), b.size()); };
  fmt::memory_buffer policy, state, value;
  for (const auto& st : hold->reservation().status) {
    const bool tokens = gateway::limit_counts_tokens(st.kind);
    const std::string_view what = tokens ? "tokens" : "requests";
    const auto limit = static_cast<int64_t>(st.limit);
    const auto remaining = static_cast<int64_t>(std::max(0.0, st.remaining));
    value.clear();
    append_int(value, limit);
    res.headers.set(kNames[tokens][0], view(value));
    value.clear();
    append_int(value, remaining);
    res.headers.set(kNames[tokens][1], view(value));
    res.headers.set(kNames[tokens][2], reset_duration(st.reset_seconds));
    // The status holds per-minute rates only: every policy's window is 60 seconds.
    if (policy.size() > 0) append(policy, ", ");
    append(policy, "\"");
    append(policy, what);
    append(policy, "\";q=");
    append_int(policy, limit);
    append(policy, ";w=60");
    if (state.size() > 0) append(state, ", ");
    append(state, "\"");
    append(state, what);
    append(state, "\";r=");
    append_int(state, remaining);
    append(state, ";t=");
    append_int(state, ceil_seconds(st.reset_seconds));
  }
  if (policy.size() > 0) {
    res.headers.set("RateLimit-Policy", view(policy));
    res.headers.set("RateLimit", view(state));
  }
}

}  // namespace llmp::api
