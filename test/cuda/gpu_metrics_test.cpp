// The NVML collector on a real GPU: every family appears per device with sane values, and the
// text format stays valid (promtool, where the GPU machine has it).

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>

#include "llmp/core/metrics.h"
#include "llmp/engine/gpu_metrics.h"
#include "support/openmetrics_check.h"

using namespace llmp;

namespace {

// Samples of device 0, by family name.
std::map<std::string, double> gpu0_samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("llmp_gpu_")) continue;
    const size_t brace = line.find('{');
    if (line.find("gpu=\"0\"", brace) == std::string::npos) continue;
    out[line.substr(0, brace)] = std::stod(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("NVML reports utilisation memory temperature and power for each GPU") {
  metrics::Registry r;
  if (!engine::add_gpu_metrics(r)) {
    WARN("libnvidia-ml.so.1 cannot be loaded or initialised here: nothing to check");
    return;
  }
  const std::string text = r.render();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("llmp_gpu_utilization_ratio{gpu=\"0\",name=\""));
  const auto s = gpu0_samples(text);
  REQUIRE(s.count("llmp_gpu_utilization_ratio"));
  CHECK(s.at("llmp_gpu_utilization_ratio") >= 0);
  CHECK(s.at("llmp_gpu_utilization_ratio") <= 1);
  REQUIRE(s.count("llmp_gpu_memory_total_bytes"));
  REQUIRE(s.count("llmp_gpu_memory_used_bytes"));
  CHECK(s.at("llmp_gpu_memory_total_bytes") > 1e9);
  CHECK(s.at("llmp_gpu_memory_used_bytes") <= s.at("llmp_gpu_memory_total_bytes"));
  REQUIRE(s.count("llmp_gpu_temperature_celsius"));
  CHECK(s.at("llmp_gpu_temperature_celsius") > 0);
  CHECK(s.at("llmp_gpu_temperature_celsius") < 120);
  // Some boards do not report power; when they do, it is positive and below any board's limit.
  if (s.count("llmp_gpu_power_watts")) {
    CHECK(s.at("llmp_gpu_power_watts") > 0);
    CHECK(s.at("llmp_gpu_power_watts") < 2000);
  }
  CHECK_THAT(r.render(metrics::Format::openmetrics_1_0_0), Catch::Contains("# TYPE llmp_gpu_power_watts gauge\n"));
  const auto promtool = test::check_promtool(text);
  INFO(promtool.output);
  if (promtool.exit_code == 127) {
    WARN("promtool is not installed here: the format check is left to the CPU suite");
  } else {
    CHECK(promtool.exit_code == 0);
  }
}
