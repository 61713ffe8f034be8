// PeriodicTask: runs after each period until stopped, stops once, never restarts.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "llmp/core/periodic_task.h"

using namespace llmp;
using namespace std::chrono_literals;

TEST_CASE("a periodic task runs until stopped and not after") {
  std::atomic<int> calls{0};
  PeriodicTask task;
  task.start(5ms, [&calls] { ++calls; });
  for (int i = 0; i < 400 && calls.load() < 3; ++i) std::this_thread::sleep_for(5ms);
  CHECK(calls.load() >= 3);
  CHECK(task.stop());
  CHECK_FALSE(task.stop());
  const int at_stop = calls.load();
  task.start(1ms, [&calls] { ++calls; });  // stopped for good
  std::this_thread::sleep_for(30ms);
  CHECK(calls.load() == at_stop);
}

TEST_CASE("a periodic task waits a whole period first, and a zero period runs nothing") {
  std::atomic<int> calls{0};
  {
    PeriodicTask slow(1h, [&calls] { ++calls; });
    PeriodicTask none(0ms, [&calls] { ++calls; });
    std::this_thread::sleep_for(20ms);
  }  // destruction stops both without waiting out the hour
  CHECK(calls.load() == 0);
}
