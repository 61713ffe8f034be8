#include "llmp/obs/notifier.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <ctime>

#include "llmp/core/json.h"
#include "llmp/core/log.h"

namespace llmp::obs {
namespace {

std::string iso_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string_view status_word(const AlertEvent& e) {
  if (e.alert.state == AlertState::resolved) return "RESOLVED";
  return e.repeat ? "STILL FIRING" : "FIRING";
}

std::string_view status_word_zh(const AlertEvent& e) {
  if (e.alert.state == AlertState::resolved) return "恢复";
  return e.repeat ? "持续告警" : "告警";
}

// What the alert is about: the SLO and its rule, the rule, or a spend alert's kind and tenant
// (one name for many tenants' alerts, so the title says whose it is).
std::string subject(const Alert& a, std::string_view tenant_word) {
  if (a.kind == "usage") return fmt::format("{} {} {}", a.name, tenant_word, a.tenant_id);
  return a.rule.empty() ? a.name : fmt::format("{} {}", a.name, a.rule);
}

std::string title(const AlertEvent& e) {
  const Alert& a = e.alert;
  return fmt::format("[{}] {} ({})", status_word(e), subject(a, "tenant"), a.severity);
}

std::string title_zh(const AlertEvent& e) {
  const Alert& a = e.alert;
  return fmt::format("【{}】{}（{}）", status_word_zh(e), subject(a, "租户"), a.severity);
}

// The time line: since when it fires, or when it fired and resolved.
std::string when(const AlertEvent& e) {
  const Alert& a = e.alert;
  if (a.state == AlertState::resolved) {
    return fmt::format("fired {} · resolved {}", iso_time(a.active_since_ms), iso_time(a.since_ms));
  }
  return fmt::format("firing since {}", iso_time(a.since_ms));
}

std::string when_zh(const AlertEvent& e) {
  const Alert& a = e.alert;
  if (a.state == AlertState::resolved) {
    return fmt::format("触发于 {}，恢复于 {}", iso_time(a.active_since_ms), iso_time(a.since_ms));
  }
  return fmt::format("触发于 {}", iso_time(a.since_ms));
}

// 企业微信 and 钉钉 readers are mostly Chinese; the English follows for everyone else.
std::string chinese_markdown(const AlertEvent& e, bool heading) {
  const Alert& a = e.alert;
  std::string text;
  if (heading) text += fmt::format("### {}\n\n", title_zh(e));
  text += fmt::format("> {}\n\n", a.summary_zh);
  text += fmt::format("- 告警 ID：{}\n- {}\n", a.id, when_zh(e));
  if (!a.tenant_id.empty()) text += fmt::format("- 租户：{}\n", a.tenant_id);
  text += fmt::format("\n{}\n\n> {}\n", title(e), a.summary);
  return text;
}

}  // namespace

std::string_view to_string(NotifyFormat format) {
  switch (format) {
    case NotifyFormat::webhook: return "webhook";
    case NotifyFormat::slack: return "slack";
    case NotifyFormat::wecom: return "wecom";
    case NotifyFormat::dingtalk: return "dingtalk";
  }
  return "webhook";
}

std::string notification_body(NotifyFormat format, const AlertEvent& e) {
  const Alert& a = e.alert;
  std::string out;
  json::Writer w(out);
  switch (format) {
    case NotifyFormat::webhook: {
      w.begin_object()
          .field("version", "1")
          .field("status", to_string(a.state))
          .field("repeat", e.repeat)
          .field("sent_at", e.at_ms / 1000)
          .key("alert")
          .begin_object()
          .field("id", a.id)
          .field("kind", a.kind)
          .field("name", a.name);
      if (!a.rule.empty()) w.field("rule", a.rule);
      w.field("severity", a.severity)
          .field("tenant_id", a.tenant_id)
          .field("state", to_string(a.state))
          .field("since", a.since_ms / 1000)
          .field("active_since", a.active_since_ms / 1000)
          .field("value", a.value)
          .field("threshold", a.threshold);
      w.key("windows").begin_array();
      for (const auto& win : a.windows) {
        w.begin_object().field("window", win.window).field("burn_rate", win.burn_rate).end_object();
      }
      w.end_array().field("summary", a.summary).field("summary_zh", a.summary_zh).end_object().end_object();
      break;
    }
    case NotifyFormat::slack: {
      const std::string head = title(e);
      w.begin_object().field("text", fmt::format("{}: {}", head, a.summary)).key("blocks").begin_array();
      w.begin_object()
          .field("type", "section")
          .key("text")
          .begin_object()
          .field("type", "mrkdwn")
          .field("text", fmt::format("*{}*\n{}", head, a.summary))
          .end_object()
          .end_object();
      w.begin_object().field("type", "context").key("elements").begin_array();
      w.begin_object()
          .field("type", "mrkdwn")
          .field("text", fmt::format("`{}` · {}{}", a.id, when(e),
                                     a.tenant_id.empty() ? "" : fmt::format(" · tenant {}", a.tenant_id)))
          .end_object();
      w.end_array().end_object();
      w.end_array().end_object();
      break;
    }
    case NotifyFormat::wecom:
      w.begin_object()
          .field("msgtype", "markdown")
          .key("markdown")
          .begin_object()
          .field("content", chinese_markdown(e, true))
          .end_object()
          .end_object();
      break;
    case NotifyFormat::dingtalk:
      w.begin_object()
          .field("msgtype", "markdown")
          .key("markdown")
          .begin_object()
          .field("title", title_zh(e))
          .field("text", chinese_markdown(e, true))
          .end_object()
          .end_object();
      break;
  }
  return out;
}

std::vector<NotifyTarget> notify_targets(const AlertOptions& o) {
  std::vector<NotifyTarget> out;
  for (const auto& u : o.webhook_urls) out.push_back({NotifyFormat::webhook, u});
  for (const auto& u : o.slack_webhook_urls) out.push_back({NotifyFormat::slack, u});
  for (const auto& u : o.wecom_webhook_urls) out.push_back({NotifyFormat::wecom, u});
  for (const auto& u : o.dingtalk_webhook_urls) out.push_back({NotifyFormat::dingtalk, u});
  return out;
}

Notifier::Notifier(std::vector<NotifyTarget> targets, Post post, Options options, metrics::Registry* registry,
                   Sleep sleep)
    : targets_(std::move(targets)),
      post_(std::move(post)),
      options_(options),
      sleep_(std::move(sleep)),
      registry_(registry) {}

Notifier::~Notifier() { stop(); }

void Notifier::notify(const AlertEvent& event) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    // One notification per state change: the same state entered at the same time is a duplicate.
    const auto key = std::make_pair(event.alert.state, event.alert.since_ms);
    auto [it, inserted] = last_sent_.try_emplace(event.alert.id, key);
    if (!inserted) {
      if (it->second == key && !event.repeat) return;
      it->second = key;
    }
    queue_.push_back(event);
  }
  cv_.notify_all();
}

void Notifier::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { loop(); });
}

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
  idle_cv_.notify_all();
}

void Notifier::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stopped_; });
}

int64_t Notifier::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

int64_t Notifier::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

void Notifier::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, nothing left
    AlertEvent event = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    deliver(event);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

namespace {

// The errcode of a 企业微信 / 钉钉 answer ({"errcode":0,"errmsg":"ok"}); 0 for other formats and
// for answers without one.
int64_t body_errcode(NotifyFormat format, std::string_view body) {
  if (format != NotifyFormat::wecom && format != NotifyFormat::dingtalk) return 0;
  const size_t at = body.find("\"errcode\"");
  if (at == std::string_view::npos) return 0;
  size_t i = body.find(':', at);
  if (i == std::string_view::npos) return 0;
  ++i;
  while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  const bool negative = i < body.size() && body[i] == '-';
  if (negative) ++i;
  int64_t v = 0;
  for (; i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) v = v * 10 + (body[i] - '0');
  return negative ? -v : v;
}

}  // namespace

bool Notifier::wait_ms(int64_t ms) {
  if (sleep_) return sleep_(ms);
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void Notifier::deliver(const AlertEvent& event) {
  for (const auto& target : targets_) {
    const std::string body = notification_body(target.format, event);
    bool delivered = false;
    std::string last_error;
    for (int64_t attempt = 0; attempt <= options_.retries; ++attempt) {
      if (attempt > 0 && !wait_ms(options_.backoff_ms << std::min<int64_t>(attempt - 1, 20))) break;
      auto reply = post_ ? post_(target.url, body) : Result<Reply>(error(StatusCode::internal, "no transport"));
      // 企业微信 and 钉钉 answer 200 even when they refuse: the refusal is a non-zero errcode.
      const int64_t errcode = reply ? body_errcode(target.format, reply->body) : 0;
      if (reply && reply->status >= 200 && reply->status < 300 && errcode == 0) {
        delivered = true;
        break;
      }
      last_error = !reply        ? reply.error().message()
                   : errcode != 0 ? fmt::format("errcode {}: {}", errcode, reply->body.substr(0, 200))
                                  : fmt::format("HTTP {}", reply->status);
      // A 4xx other than 429 says the request is wrong (a bad URL or token): sending it again
      // cannot help.
      if (reply && reply->status >= 400 && reply->status < 500 && reply->status != 429) break;
    }
    if (registry_) {
      registry_
          ->counter("llmp_alert_notifications_total", "Alert notifications, by target format and outcome.",
                    {{"format", std::string(to_string(target.format))}, {"outcome", delivered ? "sent" : "failed"}})
          .inc();
    }
    std::lock_guard lock(mu_);
    if (delivered) {
      ++sent_;
    } else {
      ++failed_;
      log::warn("cannot send an alert notification",
                {{"alert", event.alert.id}, {"format", std::string(to_string(target.format))}, {"error", last_error}});
    }
  }
}

Notifier::Post http_post(net::HttpClient& client, boost::asio::any_io_executor executor, int64_t timeout_ms) {
  return [&client, executor, timeout_ms](const std::string& url, const std::string& body) -> Result<Notifier::Reply> {
    net::ClientRequest req;
    req.method = net::Method::post;
    req.url = url;
    req.headers.add("Content-Type", "application/json; charset=utf-8");
    req.body = body;
    req.total_timeout = std::chrono::milliseconds(timeout_ms);
    try {
      auto call = [&client, req = std::move(req)]() mutable -> net::Awaitable<Result<Notifier::Reply>> {
        net::ClientRequest sending = std::move(req);
        auto res = co_await client.request(std::move(sending));
        if (!res) co_return std::unexpected(res.error());
        co_return Notifier::Reply{res->status, std::move(res->body)};
      };
      return boost::asio::co_spawn(executor, std::move(call), boost::asio::use_future).get();
    } catch (const std::exception& e) {
      return error(StatusCode::internal, fmt::format("notification not sent: {}", e.what()));
    }
  };
}

}  // namespace llmp::obs
