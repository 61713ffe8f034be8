#pragma once
// A loopback OTLP/HTTP collector for tests: keeps the body of every POST it gets, answers the
// first `failures` of them 503 (to see the exporter retry) and the rest 200 "{}". One
// connection at a time, "Connection: close"; plain POSIX sockets.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace llmp::test {

class OtlpCollector {
 public:
  explicit OtlpCollector(int failures = 0) : failures_(failures) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~OtlpCollector() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  OtlpCollector(const OtlpCollector&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
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
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string request;
      char buf[65536];
      size_t head_end = std::string::npos, want = 0;
      for (;;) {
        if (head_end == std::string::npos && (head_end = request.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = request.substr(0, head_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          const size_t at = lower.find("content-length:");
          want = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 15));
        }
        if (head_end != std::string::npos && request.size() >= head_end + 4 + want) break;
        pollfd c{conn, POLLIN, 0};
        if (::poll(&c, 1, 5000) <= 0) break;
        const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const int n = ++requests_;
      const bool fail = n <= failures_;
      {
        std::lock_guard lock(mu_);
        if (head_end != std::string::npos) {
          heads_.push_back(request.substr(0, head_end));
          if (!fail) bodies_.push_back(request.substr(head_end + 4));
        }
      }
      const std::string body = fail ? R"({"message":"busy"})" : "{}";
      const std::string response = std::string(fail ? "HTTP/1.1 503 Service Unavailable" : "HTTP/1.1 200 OK") +
                                   "\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      size_t sent = 0;
      while (sent < response.size()) {
        const ssize_t k = ::send(conn, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (k <= 0) break;
        sent += static_cast<size_t>(k);
      }
      ::close(conn);
    }
  }

  int failures_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<std::string> bodies_, heads_;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace llmp::test
