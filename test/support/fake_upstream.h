#pragma once
// The fake OpenAI-compatible provider (test/support/fake_upstream.py) as its own process on a
// loopback port, for the gateway's upstream tests. Needs LLMP_SOURCE_DIR and /usr/bin/python3.

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "support/http_client.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace llmp::test {

class FakeUpstream {
 public:
  FakeUpstream() {
    out_ = dir_ / "stdout.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string python = "/usr/bin/python3", script = std::string(LLMP_SOURCE_DIR) + "/test/support/fake_upstream.py";
    char* argv[] = {python.data(), script.data(), nullptr};
    REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string text = read_file(out_);
      if (text.starts_with("port ") && text.find('\n') != std::string::npos) {
        port_ = static_cast<uint16_t>(std::stoi(text.substr(5)));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the fake upstream did not start");
  }
  ~FakeUpstream() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  uint16_t port() const { return port_; }
  //! GET /stats: requests per scenario, and the last Authorization / traceparent per scenario.
  std::string stats() { return request(port_, "GET", "/stats").body; }
  //! Requests received by `scenario` so far.
  int64_t count(const std::string& scenario) {
    const std::string body = stats(), needle = "\"" + scenario + "\": ";
    const size_t at = body.find(needle);
    return at == std::string::npos ? 0 : std::stoll(body.substr(at + needle.size()));
  }

 private:
  TempDir dir_;
  std::string out_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace llmp::test
