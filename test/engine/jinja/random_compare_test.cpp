// A differential test on templates nobody hand-picked: random whitespace control around nested
// blocks, and random expressions over operators, filters, tests, methods and subscripts
// (random_reference.py writes them with jinja2's outcome). Fixed seeds keep it reproducible.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "llmp/engine/jinja.h"
#include "support/temp_dir.h"

using namespace llmp::engine;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

TEST_CASE("random templates render like jinja2", "[jinja][reference]") {
  if (::access(kPython, X_OK) != 0) {
    FAIL("missing " << kPython
                    << ": the reference renderer needs Debian's python3 with python3-jinja2 "
                       "(scripts/install-deps.sh --test)");
  }
  llmp::test::TempDir dir;
  const std::string out_path = dir / "random.json";
  const std::string err_path = dir / "stderr.txt";
  const std::string script = std::string(LLMP_SOURCE_DIR) + "/test/engine/jinja/random_reference.py";
  const std::string command =
      std::string(kPython) + " '" + script + "' 20240726 2000 '" + out_path + "' 2> '" + err_path + "'";
  const int status = std::system(command.c_str());
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_code != 0) {
    FAIL("the jinja2 reference renderer failed (exit "
         << exit_code << "):\n"
         << read_file(err_path) << "CI installs python3-jinja2 with scripts/install-deps.sh --test");
  }
  auto job = jinja::value_from_json(read_file(out_path));
  REQUIRE(job);
  const jinja::Value& context = *job->as_object().find("context");
  size_t compared = 0;
  size_t mismatches = 0;
  for (const jinja::Value& item : job->as_object().find("cases")->as_array()) {
    const jinja::Object& c = item.as_object();
    const std::string& source = c.find("template")->as_string();
    llmp::Result<std::string> ours = llmp::error(llmp::StatusCode::internal, "");
    if (auto tmpl = jinja::Template::parse(source)) {
      ours = tmpl->render(context);
    } else {
      ours = std::unexpected(tmpl.error());
    }
    ++compared;
    const bool expected_ok = c.find("ok")->as_bool();
    if (expected_ok && ours && *ours == c.find("output")->as_string()) continue;
    if (!expected_ok && !ours) continue;
    ++mismatches;
    if (mismatches <= 10) {
      UNSCOPED_INFO("template: " << source << "\n  jinja2: "
                                 << (expected_ok ? c.find("output")->as_string() : c.find("error")->as_string())
                                 << "\n  ours:   " << (ours ? *ours : ours.error().message()));
      CHECK(false);
    }
  }
  std::printf("jinja random comparison: %zu templates, %zu mismatches\n", compared, mismatches);
  CHECK(mismatches == 0);
}
