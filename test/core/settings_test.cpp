#include <catch2/catch.hpp>

#include <map>

#include "llmp/core/settings.h"

using namespace llmp;

namespace {

struct Sample {
  std::string host;
  int64_t port = 0;
  bool flag = false;
  double ratio = 0;
  std::string level;
  std::vector<std::string> models;
};

void declare(SettingsRegistry& r, Sample& s) {
  r.describe_section("server", "The server.");
  r.add(StringSetting{.section = "server", .key = "host", .target = &s.host, .default_value = "127.0.0.1", .help = "Host."});
  r.add(IntSetting{.section = "server", .key = "port", .target = &s.port, .default_value = 8080, .min = 1, .max = 65535, .help = "Port."});
  r.add(BoolSetting{.section = "server", .key = "flag", .target = &s.flag, .default_value = true, .help = "Flag."});
  r.add(NumberSetting{.section = "engine", .key = "ratio", .target = &s.ratio, .default_value = 0.5, .min = 0, .max = 1, .help = "Ratio."});
  r.add(StringSetting{.section = "log", .key = "level", .target = &s.level, .default_value = "info", .help = "Level.", .choices = {"debug", "info"}});
  r.add(StringListSetting{.section = "engine", .key = "models", .target = &s.models, .default_value = {}, .help = "Models."});
}

}  // namespace

TEST_CASE("defaults are applied at declaration") {
  SettingsRegistry r;
  Sample s;
  declare(r, s);
  CHECK(s.host == "127.0.0.1");
  CHECK(s.port == 8080);
  CHECK(s.flag);
  CHECK(s.ratio == 0.5);
}

TEST_CASE("a TOML file sets values") {
  SettingsRegistry r;
  Sample s;
  declare(r, s);
  auto res = r.load_toml("[server]\nport = 9000\nflag = false\n[engine]\nratio = 1\nmodels = [\"a\", \"b\"]\n", "t.toml");
  REQUIRE(res);
  CHECK(s.port == 9000);
  CHECK_FALSE(s.flag);
  CHECK(s.ratio == 1.0);
  CHECK(s.models == std::vector<std::string>{"a", "b"});
}

TEST_CASE("bad files name the file, line and key") {
  SettingsRegistry r;
  Sample s;
  declare(r, s);
  auto check = [&](const char* text, const char* expected) {
    auto res = r.load_toml(text, "t.toml");
    REQUIRE_FALSE(res);
    CHECK(res.error().message() == expected);
  };
  check("[server]\n\nport = 70000\n", "t.toml:3: server.port: 70000 is out of range [1, 65535]");
  check("[server]\nport = \"80\"\n", "t.toml:2: server.port: expected an integer, got a string");
  check("[server]\nprot = 80\n", "t.toml:2: server.prot: unknown key");
  check("[nope]\nx = 1\n", "t.toml:1: [nope]: unknown section");
  check("port = 1\n", "t.toml:1: port: keys must be inside a [section]");
  check("[log]\nlevel = \"loud\"\n", "t.toml:2: log.level: \"loud\" is not one of \"debug\", \"info\"");
  check("[engine]\nmodels = [1]\n", "t.toml:2: engine.models: expected an array of strings, got an array with a non-string element");
  auto res = r.load_toml("[server\n", "t.toml");
  REQUIRE_FALSE(res);
  CHECK_THAT(res.error().message(), Catch::StartsWith("t.toml:1:"));
}

TEST_CASE("environment overrides the file, flags override the environment") {
  SettingsRegistry r;
  Sample s;
  declare(r, s);
  REQUIRE(r.load_toml("[server]\nport = 9000\n", "t.toml"));
  std::map<std::string, std::string> env{{"LLMP_SERVER_PORT", "9100"}, {"LLMP_ENGINE_MODELS", "x,y"}};
  REQUIRE(r.load_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  }));
  CHECK(s.port == 9100);
  CHECK(s.models == std::vector<std::string>{"x", "y"});
  REQUIRE(r.set("server.port", "9200", "--port"));
  CHECK(s.port == 9200);
  auto bad = r.set("server.port", "abc", "--port");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "--port (server.port): expected an integer, got \"abc\"");
  env = {{"LLMP_SERVER_FLAG", "maybe"}};
  auto bad_env = r.load_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  REQUIRE_FALSE(bad_env);
  CHECK(bad_env.error().message() == "environment LLMP_SERVER_FLAG (server.flag): expected a boolean, got \"maybe\"");
}

TEST_CASE("the rendered default file loads back to the defaults") {
  SettingsRegistry r;
  Sample s;
  declare(r, s);
  const std::string text = r.render_default_file();
  CHECK_THAT(text, Catch::Contains("# type: integer in [1, 65535]; env: LLMP_SERVER_PORT\nport = 8080\n"));
  s.port = 1;
  REQUIRE(r.load_toml(text, "rendered"));
  CHECK(s.port == 8080);
  CHECK(s.ratio == 0.5);
}
