// Whether the usage ledger keeps up with 10,000 requests/s (observability item 7): how many
// calls record() takes per second from several threads, and how long a flush of one interval
// of such traffic takes against the real SQLite store. Prints a table and one JSON line.
//
//   ledger_bench [--calls 1000000] [--threads 2] [--tenants 100] [--keys 10] [--models 5]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "llmp/gateway/price_book.h"
#include "llmp/obs/usage_ledger.h"
#include "llmp/store/store.h"

using namespace llmp;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int64_t calls = 1000000, threads = 2, tenants = 100, keys = 10, models = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    const int64_t v = std::atoll(argv[i + 1]);
    if (f == "--calls") calls = v;
    else if (f == "--threads") threads = v;
    else if (f == "--tenants") tenants = v;
    else if (f == "--keys") keys = v;
    else if (f == "--models") models = v;
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ledger-bench-{}", ::getpid());
  std::filesystem::create_directories(dir);
  store::StoreOptions so;
  so.data_dir = dir.string();
  so.sqlite_synchronous = "normal";
  auto st = store::Store::open(so);
  if (!st) {
    fmt::print(stderr, "{}\n", st.error().message());
    return 1;
  }
  gateway::PriceBook prices;
  obs::UsageLedger ledger((*st)->usage(), prices, obs::UsageLedgerOptions{});
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  // Calls spread over tenants x keys x models (every key in one project), as a busy gateway's.
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      obs::CallRecord c;
      c.started_at_ms = now_ms;
      c.prompt_tokens = 120;
      c.completion_tokens = 40;
      c.latency_ms = 85;
      for (int64_t i = t; i < calls; i += threads) {
        const int64_t tenant = i % tenants, key = (i / tenants) % keys, model = (i / (tenants * keys)) % models;
        c.tenant_id = fmt::format("ten_{}", tenant);
        c.project_id = fmt::format("prj_{}", tenant);
        c.key_id = fmt::format("key_{}_{}", tenant, key);
        c.model = fmt::format("model-{}", model);
        c.http_status = i % 50 == 0 ? 500 : 200;
        ledger.record(c);
      }
    });
  }
  for (auto& th : pool) th.join();
  const double record_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const size_t buckets = ledger.pending_buckets();
  const auto t1 = Clock::now();
  auto flushed = ledger.flush();
  const double flush_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (!flushed) {
    fmt::print(stderr, "flush: {}\n", flushed.error().message());
    return 1;
  }
  const double rate = static_cast<double>(calls) / record_s;
  fmt::print("| calls | threads | record() calls/s | ns per call | buckets flushed | flush ms |\n| --- | --- | --- | --- | --- | --- |\n");
  fmt::print("| {} | {} | {:.0f} | {:.0f} | {} | {:.1f} |\n", calls, threads, rate, 1e9 / rate * static_cast<double>(threads),
             buckets, flush_s * 1000);
  fmt::print("{{\"bench\":\"ledger\",\"calls\":{},\"threads\":{},\"record_calls_per_s\":{:.0f},\"buckets\":{},\"flush_ms\":{:.2f}}}\n",
             calls, threads, rate, buckets, flush_s * 1000);
  ledger.stop();
  (*st)->close();
  std::filesystem::remove_all(dir);
  // Keeping up at 10,000 calls/s: record() far faster than that, and one flush interval's
  // buckets (at most tenants x keys x models per hour) written well within the interval.
  return rate >= 10000 && flush_s < static_cast<double>(obs::UsageLedgerOptions{}.flush_seconds) ? 0 : 1;
}
