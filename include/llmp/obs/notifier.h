#pragma once
// Sends alert events to webhooks: a generic JSON body, Slack incoming webhooks, 企业微信 (WeCom)
// group robots and 钉钉 (DingTalk) robots, each in its own format. notify() only queues; a
// thread of its own posts every event to every target, retrying a failed post (no answer, 5xx
// or 429) with doubling backoff, and drops an event it has already sent for that alert state
// (one notification per state change; repeats are explicit).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "llmp/core/metrics.h"
#include "llmp/core/status.h"
#include "llmp/net/http_client.h"
#include "llmp/obs/alerts.h"

namespace llmp::obs {

enum class NotifyFormat { webhook, slack, wecom, dingtalk };
std::string_view to_string(NotifyFormat format);

//! The body posted to a target of `format` for `event` (JSON).
std::string notification_body(NotifyFormat format, const AlertEvent& event);

struct NotifyTarget {
  NotifyFormat format = NotifyFormat::webhook;
  std::string url;
};

//! The targets named by the [alerts] *_webhook_urls settings.
std::vector<NotifyTarget> notify_targets(const AlertOptions& options);

class Notifier final : public AlertSink {
 public:
  //! What a target answered.
  struct Reply {
    int status = 0;
    std::string body;
  };
  //! Posts `body` (JSON) to `url`; the answer, or an error when none came back.
  using Post = std::function<Result<Reply>(const std::string& url, const std::string& body)>;
  //! Waits between attempts (tests pass one that does not sleep). Returns false to give up
  //! (stopping).
  using Sleep = std::function<bool(int64_t ms)>;

  struct Options {
    int64_t retries = 3;  // attempts after the first
    int64_t backoff_ms = 1000;  // before the first retry; doubles
  };

  //! `registry` (may be null) gets llmp_alert_notifications_total{format, outcome}.
  Notifier(std::vector<NotifyTarget> targets, Post post, Options options, metrics::Registry* registry,
           Sleep sleep = {});
  ~Notifier() override;

  //! Queues `event` (never blocks on the network).
  void notify(const AlertEvent& event) override;

  void start();
  //! Sends what is queued (without waiting out backoffs once stopping), then joins. Idempotent.
  void stop();
  //! Waits until the queue is empty and nothing is being sent (tests).
  void flush();

  //! Events posted to every target (tests), and deliveries that failed after all retries.
  int64_t sent() const;
  int64_t failed() const;

 private:
  void loop();
  void deliver(const AlertEvent& event);
  bool wait_ms(int64_t ms);

  std::vector<NotifyTarget> targets_;
  Post post_;
  Options options_;
  Sleep sleep_;
  metrics::Registry* registry_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<AlertEvent> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::map<std::string, std::pair<AlertState, int64_t>> last_sent_;  // alert id → (state, since)
  int64_t sent_ = 0;
  int64_t failed_ = 0;
  std::thread thread_;
};

//! A Notifier::Post over `client`, for a thread that does not run the client's executor (it
//! blocks until the answer): POST with Content-Type application/json, within `timeout_ms`.
Notifier::Post http_post(net::HttpClient& client, boost::asio::any_io_executor executor, int64_t timeout_ms);

}  // namespace llmp::obs
