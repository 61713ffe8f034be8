#pragma once
// A loopback webhook receiver for alert notification tests: takes POSTs (keep-alive, one
// connection at a time) and keeps their bodies; answers the first `fail_first` with 503 (kept
// apart, for retry tests) and the rest with 200.

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "support/loopback_http_server.h"

namespace llmp::test {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(int fail_first) : fail_left_(fail_first) {}

  std::string url() const { return server_.url("/hook"); }
  std::vector<std::string> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  int refused() const { return refused_; }

 private:
  LoopbackResponse answer(const LoopbackRequest& request) {
    if (fail_left_ > 0) {
      --fail_left_;
      ++refused_;
      return {503, "{}"};
    }
    std::lock_guard lock(mu_);
    accepted_.push_back(request.body);
    return {200, "{}"};
  }

  std::atomic<int> fail_left_;
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::vector<std::string> accepted_;
  // Last, so that its thread starts after, and stops before, the state answer() touches.
  LoopbackHttpServer server_{[this](const LoopbackRequest& r) { return answer(r); },
                             LoopbackHttpServer::Connections::kKeepAlive};
};

}  // namespace llmp::test
