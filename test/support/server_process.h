#pragma once
// Starts the real llmplatform binary on a free loopback port (port 0; the port is read from
// the "listening" log line), with its stdout and stderr in files, and stops it by PID.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

extern char** environ;

namespace llmp::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServerProcess {
 public:
  struct Options {
    std::vector<std::string> args;                              // after the binary name
    std::vector<std::string> env;                               // "NAME=value" added to ours
    std::string data_dir;                                       // empty: a fresh one in the work dir
    bool wait_ready = true;                                     // wait for the "ready" line
    std::vector<std::string> prefix;                            // e.g. {"prlimit", "--fsize=16384"}
    //! LLMP_AUTH_MODE for the server: "open" lets tests that are not about keys call the
    //! inference API without one; empty leaves the server's default ("keys"). An LLMP_AUTH_MODE
    //! in `env` wins.
    std::string auth_mode = "open";
  };

  explicit ServerProcess(Options options) : options_(std::move(options)) { start(); }
  ~ServerProcess() { kill_hard(); }

  void start() {
    if (options_.data_dir.empty()) options_.data_dir = work_ / "data";
    stdout_path_ = work_ / ("stdout-" + std::to_string(starts_) + ".log");
    stderr_path_ = work_ / ("stderr-" + std::to_string(starts_) + ".log");
    ++starts_;
    std::vector<std::string> argv = options_.prefix;
    argv.push_back(LLMP_BINARY_PATH);
    bool has_port = false, has_data_dir = false;
    for (const auto& a : options_.args) {
      has_port |= a.starts_with("--port");
      has_data_dir |= a.starts_with("--data-dir");
    }
    if (!has_port) argv.insert(argv.end(), {"--port", "0"});
    if (!has_data_dir) argv.insert(argv.end(), {"--data-dir", options_.data_dir});
    argv.insert(argv.end(), options_.args.begin(), options_.args.end());

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::string_view(*e).starts_with("LLMP_") || std::string_view(*e).starts_with("NOTIFY_SOCKET=")) continue;
      env.emplace_back(*e);
    }
    bool env_sets_auth = false;
    for (const auto& e : options_.env) env_sets_auth |= e.starts_with("LLMP_AUTH_MODE=");
    if (!options_.auth_mode.empty() && !env_sets_auth) env.push_back("LLMP_AUTH_MODE=" + options_.auth_mode);
    env.insert(env.end(), options_.env.begin(), options_.env.end());

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
    exited_ = false;
    port_ = 0;
    if (options_.wait_ready) wait_for_log("\"msg\":\"ready\"", std::chrono::seconds(60));
  }

  //! Waits until stdout has a line containing `needle` (or the process exits). Returns the line.
  std::optional<std::string> wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string out = stdout_text();
      if (const size_t at = out.find(needle); at != std::string::npos) {
        const size_t begin = out.rfind('\n', at) == std::string::npos ? 0 : out.rfind('\n', at) + 1;
        return out.substr(begin, out.find('\n', at) - begin);
      }
      if (has_exited()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  uint16_t port() {
    if (port_ == 0) {
      auto line = wait_for_log("\"msg\":\"listening\"", std::chrono::seconds(30));
      if (!line) throw std::runtime_error("the server never logged \"listening\": " + stderr_text() + stdout_text());
      const size_t at = line->find("\"port\":");
      port_ = static_cast<uint16_t>(std::stoi(line->substr(at + 7)));
    }
    return port_;
  }

  bool has_exited() {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_status_ = status;
    }
    return exited_;
  }

  //! Waits for exit; returns the exit code, or 128+signal.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!has_exited()) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the server did not exit in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : 128 + WTERMSIG(exit_status_);
  }

  void signal(int sig) {
    if (!has_exited()) ::kill(pid_, sig);
  }
  void kill_hard() {
    if (pid_ > 0 && !has_exited()) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
  }

  //! The generated admin key from <data_dir>/admin.key.
  std::string admin_key() const {
    std::string key = read_file(options_.data_dir + "/admin.key");
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    return key;
  }

  pid_t pid() const { return pid_; }
  std::string stdout_text() const { return read_file(stdout_path_); }
  std::string stderr_text() const { return read_file(stderr_path_); }
  const std::string& data_dir() const { return options_.data_dir; }
  const TempDir& work() const { return work_; }

 private:
  Options options_;
  TempDir work_;
  std::string stdout_path_, stderr_path_;
  pid_t pid_ = -1;
  int starts_ = 0;
  bool exited_ = false;
  int exit_status_ = 0;
  uint16_t port_ = 0;
};

//! Runs the binary to completion (for --check-config, --version, start-up failures).
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

//! Runs the binary with exactly `args` (subcommands such as `model create-test`).
inline RunResult run_binary_raw(std::vector<std::string> args) {
  TempDir work;
  const std::string out = work / "out", err = work / "err";
  pid_t pid;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv = {LLMP_BINARY_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  RunResult r;
  if (posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ) == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

inline RunResult run_binary(std::vector<std::string> args, std::vector<std::string> env = {},
                            std::vector<std::string> prefix = {}) {
  ServerProcess::Options o;
  o.args = std::move(args);
  o.env = std::move(env);
  o.prefix = std::move(prefix);
  o.wait_ready = false;
  o.args.insert(o.args.begin(), "--port=0");
  ServerProcess p(o);
  RunResult r;
  r.exit_code = p.wait_exit(std::chrono::seconds(60));
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

}  // namespace llmp::test
