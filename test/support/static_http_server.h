#pragma once
// A loopback HTTP server for tests that answers every request with one body (changeable while
// it runs, e.g. a JWKS being rotated) and counts the requests. One connection at a time,
// "Connection: close".

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "support/loopback_http_server.h"

namespace llmp::test {

class StaticHttpServer {
 public:
  explicit StaticHttpServer(std::string body) : body_(std::move(body)) {}

  uint16_t port() const { return server_.port(); }
  std::string url(const std::string& path) const { return server_.url(path); }
  void set_body(std::string body) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
  }
  int requests() const { return requests_; }

 private:
  LoopbackResponse answer(const LoopbackRequest&) {
    ++requests_;
    std::lock_guard lock(mu_);
    return {200, body_};
  }

  std::mutex mu_;
  std::string body_;
  std::atomic<int> requests_{0};
  // Last, so that its thread starts after, and stops before, the state answer() touches.
  LoopbackHttpServer server_{[this](const LoopbackRequest& r) { return answer(r); },
                             LoopbackHttpServer::Connections::kClose};
};

}  // namespace llmp::test
