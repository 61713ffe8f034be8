#pragma once
// A loopback OTLP/HTTP collector for tests: keeps the body of every POST it gets, answers the
// first `failures` of them 503 (to see the exporter retry) and the rest 200 "{}". One
// connection at a time, "Connection: close".

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback_http_server.h"

namespace llmp::test {

class OtlpCollector {
 public:
  explicit OtlpCollector(int failures = 0) : failures_(failures) {}

  std::string url() const { return server_.url("/v1/traces"); }
  //! Bodies of the requests answered 200, in order.
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  //! Every request's head (request line and headers), in order.
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }
  int requests() const { return requests_; }
  //! Waits until some accepted body contains `needle`; true when one did.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& b : bodies()) {
        if (b.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  LoopbackResponse answer(const LoopbackRequest& request) {
    const bool fail = ++requests_ <= failures_;
    std::lock_guard lock(mu_);
    heads_.push_back(request.head);
    if (fail) return {503, R"({"message":"busy"})"};
    bodies_.push_back(request.body);
    return {200, "{}"};
  }

  int failures_;
  std::mutex mu_;
  std::vector<std::string> bodies_, heads_;
  std::atomic<int> requests_{0};
  // Last, so that its thread starts after, and stops before, the state answer() touches.
  LoopbackHttpServer server_{[this](const LoopbackRequest& r) { return answer(r); },
                             LoopbackHttpServer::Connections::kClose, std::chrono::seconds(5)};
};

}  // namespace llmp::test
