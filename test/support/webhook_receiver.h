#pragma once
// A loopback webhook receiver for alert notification tests: takes POSTs (keep-alive, one
// connection at a time) and keeps their bodies; answers the first `fail_first` with 503 (kept
// apart, for retry tests) and the rest with 200. Plain POSIX sockets.

#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmp::test {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(int fail_first) : fail_left_(fail_first) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(fd_ >= 0);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<std::string> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  int refused() const { return refused_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      // Keep-alive: serve requests on this connection until the client closes it.
      std::string buf;
      while (!stop_) {
        size_t head_end;
        while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
          if (!read_more(conn, buf)) break;
        }
        if (head_end == std::string::npos) break;
        size_t length = 0;
        const size_t cl = lower(buf.substr(0, head_end)).find("content-length:");
        if (cl != std::string::npos) length = std::stoul(buf.substr(cl + 15));
        while (buf.size() < head_end + 4 + length) {
          if (!read_more(conn, buf)) break;
        }
        if (buf.size() < head_end + 4 + length) break;
        const std::string body = buf.substr(head_end + 4, length);
        buf.erase(0, head_end + 4 + length);
        int status = 200;
        if (fail_left_ > 0) {
          --fail_left_;
          ++refused_;
          status = 503;
        } else {
          std::lock_guard lock(mu_);
          accepted_.push_back(body);
        }
        const std::string response = "HTTP/1.1 " + std::to_string(status) +
                                     (status == 200 ? " OK" : " Service Unavailable") +
                                     "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if (::send(conn, response.data(), response.size(), MSG_NOSIGNAL) < 0) break;
      }
      ::close(conn);
    }
  }
  bool read_more(int conn, std::string& buf) {
    pollfd c{conn, POLLIN, 0};
    if (::poll(&c, 1, 2000) <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> fail_left_;
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::vector<std::string> accepted_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace llmp::test
