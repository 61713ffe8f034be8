#pragma once
// A small blocking HTTP/1.1 client over loopback for tests: raw control over what is sent
// (partial headers, pipelining, oversized fields) and a parsed view of what comes back.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <strings.h>

namespace llmp::test {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    }
    return {};
  }
  bool has_header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return true;
    }
    return false;
  }
};

class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect failed");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;

  void send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  //! Reads one response; nullopt if the server closed (or `timeout` passed) before a full one.
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                            bool head = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResponse res;
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string_view head_text(buf_.data(), header_end);
    const size_t line_end = head_text.find("\r\n");
    const std::string_view status_line = head_text.substr(0, line_end);
    res.status = std::stoi(std::string(status_line.substr(9, 3)));
    std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head_text.substr(line_end + 2);
    while (!rest.empty()) {
      const size_t e = rest.find("\r\n");
      const std::string_view line = rest.substr(0, e);
      const size_t colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      res.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      if (e == std::string_view::npos) break;
      rest.remove_prefix(e + 2);
    }
    buf_.erase(0, header_end + 4);
    if (res.status == 100) return read_response(timeout, head);
    if (head || res.status == 204 || res.status == 304) return res;
    if (!res.header("Content-Length").empty()) {
      const size_t len = std::stoul(res.header("Content-Length"));
      while (buf_.size() < len) {
        if (!fill(deadline)) return std::nullopt;
      }
      res.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else if (::strcasecmp(res.header("Transfer-Encoding").c_str(), "chunked") == 0) {
      for (;;) {
        size_t e;
        while ((e = buf_.find("\r\n")) == std::string::npos) {
          if (!fill(deadline)) return std::nullopt;
        }
        const size_t size = std::stoul(buf_.substr(0, e), nullptr, 16);
        while (buf_.size() < e + 2 + size + 2) {
          if (!fill(deadline)) return std::nullopt;
        }
        res.body += buf_.substr(e + 2, size);
        buf_.erase(0, e + 2 + size + 2);
        if (size == 0) break;
      }
    } else {
      while (fill(deadline)) {
      }
      res.body = std::move(buf_);
      buf_.clear();
    }
    return res;
  }

  //! Reads one chunk of a chunked body (after read_head()); empty at the end or on close.
  std::string read_chunk(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t e;
    while ((e = buf_.find("\r\n")) == std::string::npos) {
      if (!fill(deadline)) return {};
    }
    const size_t size = std::stoul(buf_.substr(0, e), nullptr, 16);
    while (buf_.size() < e + 2 + size + 2) {
      if (!fill(deadline)) return {};
    }
    std::string chunk = buf_.substr(e + 2, size);
    buf_.erase(0, e + 2 + size + 2);
    return chunk;
  }

  //! Reads only the status line and headers of a (streamed) response.
  std::optional<HttpResponse> read_head(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return read_response(timeout, true);
  }

  //! True when the server has closed the connection (read returns 0) within `timeout`.
  bool closed_by_server(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

  void close() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  // Reads more into buf_; false on EOF, error or deadline.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[16384];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

//! One request on a fresh connection. `extra_headers` are complete lines without CRLF.
inline HttpResponse request(uint16_t port, std::string_view method, std::string_view target, std::string_view body = {},
                            const std::vector<std::string>& extra_headers = {}) {
  Connection c(port);
  std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : extra_headers) req += h + "\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "Connection: close\r\n\r\n";
  req += body;
  try {
    c.send(req);
  } catch (const std::exception&) {
    // The server may answer (413, say) and stop reading before the body is all sent.
  }
  auto res = c.read_response(std::chrono::seconds(30), method == "HEAD");
  if (!res) throw std::runtime_error("no response to " + std::string(method) + " " + std::string(target));
  return *res;
}

}  // namespace llmp::test
