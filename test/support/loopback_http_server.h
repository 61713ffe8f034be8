#pragma once
// The socket half of the tests' loopback HTTP fakes (webhook_receiver.h, otlp_collector.h,
// static_http_server.h): binds 127.0.0.1 on a free port and, on its own thread, serves one
// connection at a time, handing each request to a handler and sending back what it returns. The
// fakes only say what to answer and what to keep. Plain POSIX sockets, so any test can use it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace llmp::test {

//! One request as it came: the head (request line and headers, without the blank line after
//! them) and the Content-Length body.
struct LoopbackRequest {
  std::string head;
  std::string body;
};

//! The answer to one request, sent as application/json.
struct LoopbackResponse {
  int status = 200;
  std::string body = "{}";
};

class LoopbackHttpServer {
 public:
  //! kClose answers each request with "Connection: close" and closes; kKeepAlive serves
  //! requests on a connection until the client closes it or stays quiet for the read timeout
  //! (the next connection waits until then).
  enum class Connections { kClose, kKeepAlive };
  //! Called on the server's thread, one request at a time; it may block (to delay an answer).
  using Handler = std::function<LoopbackResponse(const LoopbackRequest&)>;

  //! Listens before it returns, so a client may connect at once. `read_timeout` bounds each wait
  //! for more of a request; a request cut short by it or by the client gets no answer and does
  //! not reach the handler. Throws std::runtime_error when it cannot listen.
  LoopbackHttpServer(Handler handler, Connections connections,
                     std::chrono::milliseconds read_timeout = std::chrono::seconds(2))
      : handler_(std::move(handler)), connections_(connections), read_timeout_(read_timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  //! Stops and joins the thread; a connection being served ends at its next wait for bytes, so
  //! this takes at most the read timeout. The handler is never called after this returns.
  ~LoopbackHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  void run() {
    while (!stop_) {
      // Poll rather than block in accept, so the destructor's stop_ is seen within 50 ms.
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      serve(conn);
      ::close(conn);
    }
  }

  void serve(int conn) {
    std::string buf;  // bytes read past one request belong to the next (keep-alive)
    do {
      const std::optional<LoopbackRequest> request = read_request(conn, buf);
      if (!request) return;
      if (!send_all(conn, render(handler_(*request)))) return;
    } while (connections_ == Connections::kKeepAlive && !stop_);
  }

  std::optional<LoopbackRequest> read_request(int conn, std::string& buf) const {
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(conn, buf)) return std::nullopt;
    }
    std::string head = buf.substr(0, head_end);
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("content-length:");
    const size_t length = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 15));
    const size_t end = head_end + 4 + length;
    while (buf.size() < end) {
      if (!read_more(conn, buf)) return std::nullopt;
    }
    LoopbackRequest request{std::move(head), buf.substr(head_end + 4, length)};
    buf.erase(0, end);
    return request;
  }

  bool read_more(int conn, std::string& buf) const {
    pollfd c{conn, POLLIN, 0};
    if (::poll(&c, 1, static_cast<int>(read_timeout_.count())) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(conn, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }

  std::string render(const LoopbackResponse& response) const {
    return "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(response.body.size()) +
           (connections_ == Connections::kClose ? "\r\nConnection: close" : "") + "\r\n\r\n" + response.body;
  }

  // Clients read the code, not the phrase; these are the codes the fakes send.
  static std::string reason(int status) {
    return status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Status";
  }

  static bool send_all(int conn, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(conn, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  Handler handler_;
  Connections connections_;
  std::chrono::milliseconds read_timeout_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: started once everything it reads is set
};

}  // namespace llmp::test
