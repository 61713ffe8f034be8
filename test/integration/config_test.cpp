// The command line and the config file: every bad value stops the start with a message naming
// the key and line (exit 2); a bad data dir stops it with a clear message (exit 1).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "support/server_process.h"

using namespace llmp::test;

TEST_CASE("version and help flags") {
  auto v = run_binary({"--version"});
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("llmplatform "));
  auto h = run_binary({"--help"});
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("--check-config"));
  CHECK_THAT(h.out, Catch::Contains("--model PATH"));
}

TEST_CASE("unknown flags are usage errors") {
  auto r = run_binary({"--nope"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown argument '--nope'"));
  auto missing = run_binary({"--config"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--config needs a value"));
}

TEST_CASE("check-config accepts the shipped config") {
  auto r = run_binary({"--config", LLMP_SOURCE_DIR "/config/llmplatform.toml", "--check-config"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("config OK"));
}

TEST_CASE("the shipped config documents exactly the declared settings") {
  auto r = run_binary({"--print-default-config"});
  REQUIRE(r.exit_code == 0);
  // Regenerate with: build/release/llmplatform --print-default-config > config/llmplatform.toml
  CHECK(r.out == read_file(LLMP_SOURCE_DIR "/config/llmplatform.toml"));
}

TEST_CASE("bad config values name the key and line, exit code 2") {
  TempDir dir;
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"[server]\nport = 70000\n", "cfg.toml:2: server.port: 70000 is out of range [0, 65535]"},
      {"[server]\n\nport = \"x\"\n", "cfg.toml:3: server.port: expected an integer, got a string"},
      {"[server]\nhots = \"1.2.3.4\"\n", "cfg.toml:2: server.hots: unknown key"},
      {"[sever]\nport = 1\n", "cfg.toml:1: [sever]: unknown section"},
      {"[log]\nlevel = \"loud\"\n", "cfg.toml:2: log.level: \"loud\" is not one of"},
      {"[server\n", "cfg.toml:1:"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    std::ofstream(dir / "cfg.toml") << c.text;
    auto r = run_binary({"--config", dir / "cfg.toml", "--check-config"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(dir / c.message));
  }
}

TEST_CASE("environment and flags override the file") {
  TempDir dir;
  std::ofstream(dir / "cfg.toml") << "[server]\nport = 1234\n";
  auto env_bad = run_binary({"--config", dir / "cfg.toml", "--check-config"}, {"LLMP_SERVER_PORT=abc"});
  CHECK(env_bad.exit_code == 2);
  CHECK_THAT(env_bad.err, Catch::Contains("environment LLMP_SERVER_PORT (server.port): expected an integer"));
  auto flag_bad = run_binary({"--config", dir / "cfg.toml", "--check-config", "--port", "99999"});
  CHECK(flag_bad.exit_code == 2);
  CHECK_THAT(flag_bad.err, Catch::Contains("--port (server.port): 99999 is out of range"));
  auto missing_model = run_binary({"--check-config", "--model", dir / "nope.gguf"});
  CHECK(missing_model.exit_code == 2);
  CHECK_THAT(missing_model.err, Catch::Contains("nope.gguf does not exist"));
  auto bad_device = run_binary({"--check-config"}, {"LLMP_ENGINE_DEVICE=gpu"});
  CHECK(bad_device.exit_code == 2);
  CHECK_THAT(bad_device.err, Catch::Contains("engine.device"));
}

TEST_CASE("a read-only data dir stops the start with a clear message") {
  TempDir dir;
  std::filesystem::create_directories(dir / "ro");
  std::filesystem::permissions(dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
                                               std::filesystem::perms::group_read | std::filesystem::perms::group_exec |
                                               std::filesystem::perms::others_read | std::filesystem::perms::others_exec);
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  // Root ignores permission bits: run as nobody then.
  std::vector<std::string> prefix;
  if (::geteuid() == 0) prefix = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  auto r = run_binary({"--data-dir", dir / "ro"}, {}, prefix);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("cannot open the state store"));
  CHECK_THAT(r.out, Catch::Contains("is not writable"));
}

TEST_CASE("a full data dir stops the start with a clear message") {
  TempDir dir;
  // A file size limit makes every write past 16 KiB fail as a full disk would (EFBIG).
  auto r = run_binary({"--data-dir", dir / "data"}, {}, {"prlimit", "--fsize=16384"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("cannot open the state store"));
  CHECK_THAT(r.out, Catch::Contains("cannot write"));
  auto small = run_binary({"--data-dir", dir / "data2"}, {"LLMP_STORE_MIN_FREE_MB=1073741824"});
  CHECK(small.exit_code == 1);
  CHECK_THAT(small.out, Catch::Contains("MiB free; at least 1073741824 MiB is needed"));
}

TEST_CASE("a data dir in use by another process is refused") {
  ServerProcess first({});
  auto second = run_binary({"--data-dir", first.data_dir()});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.out, Catch::Contains("is in use by another llmplatform process"));
}

TEST_CASE("a port in use is a clear error") {
  ServerProcess first({});
  auto second = run_binary({"--port", std::to_string(first.port())});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.out, Catch::Contains("cannot listen on 127.0.0.1:"));
}
