// The NVML collector on a machine without NVML: nothing registered, /metrics unchanged and valid.
// (test/cuda/gpu_metrics_test.cpp checks the families on a GPU.)

#include <catch2/catch.hpp>

#include "llmp/core/metrics.h"
#include "llmp/engine/gpu_metrics.h"
#include "support/openmetrics_check.h"

using namespace llmp;

TEST_CASE("without NVML no GPU family is registered and the exposition stays valid") {
  metrics::Registry r;
  r.counter("llmp_test_requests_total", "Requests.").inc();
  metrics::add_process_collector(r);
  CHECK_FALSE(engine::add_gpu_metrics(r, "libnvidia-ml-absent-for-this-test.so.1"));
  const std::string text = r.render();
  CHECK(text.find("llmp_gpu_") == std::string::npos);
  const auto promtool = test::check_promtool(text);
  INFO(promtool.output);
  CHECK(promtool.exit_code == 0);
  const auto om = test::check_openmetrics(r.render(metrics::Format::openmetrics_1_0_0));
  INFO(om.output);
  CHECK(om.exit_code == 0);
}
