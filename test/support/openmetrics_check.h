#pragma once
// Runs test/support/check_openmetrics.py (prometheus_client's strict OpenMetrics parser) and
// promtool over an exposition, for tests of /metrics.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace llmp::test {

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

inline CheckResult run_check(const std::string& command_prefix, const std::string& text) {
  TempDir dir;
  std::ofstream(dir / "metrics.txt") << text;
  const std::string cmd = command_prefix + " " + (dir / "metrics.txt") + " > " + (dir / "out.txt") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir / "out.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return {WEXITSTATUS(rc), ss.str()};
}

#ifdef LLMP_SOURCE_DIR
//! The parser's verdict: exit 0 and a line per family ("family NAME TYPE") and per exemplar
//! ("exemplar NAME le=… trace_id=… span_id=… value=…").
inline CheckResult check_openmetrics(const std::string& text) {
  return run_check("/usr/bin/python3 " LLMP_SOURCE_DIR "/test/support/check_openmetrics.py", text);
}
#endif

//! promtool's verdict on the text format (Debian package prometheus); exit 127 without it.
inline CheckResult check_promtool(const std::string& text) { return run_check("promtool check metrics <", text); }

}  // namespace llmp::test
