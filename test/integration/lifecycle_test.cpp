// Start, readiness notification, graceful stop, and durability across kill -9.

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "support/http_client.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

// A unix datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  std::string receive() {
    char buf[256];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

TEST_CASE("SIGTERM drains and exits 0 and systemd hears READY=1 and STOPPING=1") {
  TempDir dir;
  NotifySocket notify(dir / "notify.sock");
  ServerProcess s({.env = {"NOTIFY_SOCKET=" + (dir / "notify.sock")}});
  CHECK(notify.receive() == "READY=1");
  // READY=1 came after readiness: /readyz already says so.
  CHECK(request(s.port(), "GET", "/readyz").status == 200);
  Connection keep(s.port());
  keep.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(keep.read_response());
  s.signal(SIGTERM);
  CHECK(notify.receive() == "STOPPING=1");
  CHECK(s.wait_exit() == 0);
  const std::string out = s.stdout_text();
  CHECK_THAT(out, Catch::Contains("\"msg\":\"draining\""));
  CHECK_THAT(out, Catch::Contains("\"msg\":\"stopped\",\"drained\":true"));
}

TEST_CASE("every acknowledged write survives kill -9 at any moment") {
  ServerProcess s({});
  const std::string auth = "Authorization: Bearer " + s.admin_key();
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const std::string name = "t" + std::to_string(w) + "-" + std::to_string(i);
        ++attempts;
        try {
          auto res = request(s.port(), "POST", "/admin/v1/tenants", "{\"name\":\"" + name + "\"}", {auth});
          if (res.status == 201) {
            std::lock_guard lock(mu);
            acknowledged.insert(name);
          }
        } catch (const std::exception&) {
          return;  // the server died under us: expected
        }
      }
    });
  }
  // Let writes flow, then kill without warning in the middle of them.
  while (attempts < 2000) std::this_thread::sleep_for(1ms);
  s.signal(SIGKILL);
  stop = true;
  for (auto& t : writers) t.join();
  CHECK(s.wait_exit() == 128 + SIGKILL);
  REQUIRE(acknowledged.size() >= 1000);

  s.start();  // same data dir
  std::set<std::string> found;
  std::string after;
  for (;;) {
    auto res = request(s.port(), "GET", "/admin/v1/tenants?limit=1000&after=" + after, {}, {auth});
    REQUIRE(res.status == 200);
    size_t pos = 0;
    std::string last_id;
    while ((pos = res.body.find("\"name\":\"", pos)) != std::string::npos) {
      pos += 8;
      found.insert(res.body.substr(pos, res.body.find('"', pos) - pos));
    }
    size_t id_pos = res.body.rfind("\"id\":\"");
    if (res.body.find("\"has_more\":true") == std::string::npos || id_pos == std::string::npos) break;
    id_pos += 6;
    after = res.body.substr(id_pos, res.body.find('"', id_pos) - id_pos);
  }
  size_t lost = 0;
  for (const auto& name : acknowledged) lost += found.count(name) ? 0 : 1;
  INFO("acknowledged " << acknowledged.size() << ", found " << found.size());
  CHECK(lost == 0);
}
