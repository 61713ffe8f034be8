// Aggregate decode throughput with N concurrent sequences, like llama-batched-bench: all N
// prompts are prefilled, then every sequence generates `gen` tokens; prints prefill and
// generation tokens/s per N, and the prefix-cache benefit on a shared-prefix workload.
//
//   batched_bench MODEL [--threads N] [--prompt N] [--gen N] [--seqs 1,8,16,32] [--kv-mb N]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/engine_core.h"

using namespace llmp::engine;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<TokenId> prompt_for(int seq, int len, int64_t vocab, int shared_prefix = 0) {
  std::vector<TokenId> p;
  for (int i = 0; i < len; ++i) {
    const int64_t salt = i < shared_prefix ? 0 : seq + 1;  // 64-bit: seq reaches 32,000
    p.push_back(static_cast<TokenId>((i * int64_t{7919} + salt * 104729 + 13) % (vocab - 300)));
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: batched_bench MODEL [--threads N] [--prompt N] [--gen N] [--seqs 1,8,16,32] [--kv-mb N]\n");
    return 2;
  }
  const std::string path = argv[1];
  int threads = 2, prompt = 128, gen = 128;
  int64_t kv_mb = 2048;
  std::vector<int> seqs = {1, 8, 16, 32};
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads") threads = std::atoi(value.c_str());
    else if (flag == "--prompt") prompt = std::atoi(value.c_str());
    else if (flag == "--gen") gen = std::atoi(value.c_str());
    else if (flag == "--kv-mb") kv_mb = std::atoll(value.c_str());
    else if (flag == "--seqs") {
      seqs.clear();
      std::stringstream ss(value);
      std::string item;
      while (std::getline(ss, item, ',')) seqs.push_back(std::atoi(item.c_str()));
    }
  }
  EngineConfig cfg;
  cfg.threads = threads;
  cfg.kv_cache_bytes = kv_mb << 20;
  cfg.max_batch_tokens = 512;
  cfg.max_seqs = 256;
  auto model = load_model(path);
  if (!model) {
    fmt::print(stderr, "{}\n", model.error().message());
    return 1;
  }
  EngineCore core(std::move(*model), cfg);
  const int64_t vocab = core.model().config.vocab_size;

  fmt::print("| model | threads | seqs | prompt | gen | prefill t/s | generation t/s |\n| --- | --- | --- | --- | --- | --- | --- |\n");
  for (int n : seqs) {
    int prefilled = 0, done = 0;
    Clock::time_point t_prefill_done{};
    SamplingParams sp;
    sp.temperature = 0;
    sp.max_tokens = gen;
    sp.ignore_eos = true;
    const auto t0 = Clock::now();
    for (int s = 0; s < n; ++s) {
      GenerationRequest r;
      r.id = fmt::format("b{}-{}", n, s);
      r.prompt = prompt_for(s + n * 1000, prompt, vocab);
      r.sampling = sp;
      // A sequence's first token marks the end of its prefill.
      auto first = std::make_shared<bool>(true);
      r.on_event = [&, first](TokenEvent&& e) {
        if (*first && !e.tokens.empty()) {
          *first = false;
          if (++prefilled == n) t_prefill_done = Clock::now();
        }
        if (e.finish) ++done;
      };
      if (auto ok = core.add(std::move(r)); !ok) {
        fmt::print(stderr, "{}\n", ok.error().message());
        return 1;
      }
    }
    while (core.has_work()) core.step();
    const auto t1 = Clock::now();
    const double pp = n * prompt / std::chrono::duration<double>(t_prefill_done - t0).count();
    const double tg = n * (gen - 1) / std::chrono::duration<double>(t1 - t_prefill_done).count();
    fmt::print("| {} | {} | {} | {} | {} | {:.2f} | {:.2f} |\n", path, threads, n, prompt, gen, pp, tg);
    fmt::print(stderr, "{{\"bench\":\"batched\",\"model\":\"{}\",\"seqs\":{},\"prompt\":{},\"gen\":{},\"prefill_tps\":{:.2f},\"generation_tps\":{:.2f}}}\n",
               path, n, prompt, gen, pp, tg);
  }

  // Prefix caching: time to first token of a request whose long prompt shares all but its last
  // 16 tokens with one served before, against one that shares nothing.
  auto ttft = [&](std::vector<TokenId> p) {
    SamplingParams sp;
    sp.temperature = 0;
    sp.max_tokens = 1;
    GenerationRequest r;
    r.id = "ttft";
    r.prompt = std::move(p);
    r.sampling = sp;
    Clock::time_point first{};
    r.on_event = [&](TokenEvent&&) {
      if (first == Clock::time_point{}) first = Clock::now();
    };
    const auto t0 = Clock::now();
    (void)core.add(std::move(r));
    while (core.has_work()) core.step();
    return std::chrono::duration<double, std::milli>(first - t0).count();
  };
  const int len = 512;
  (void)ttft(prompt_for(900, len, vocab, len - 16));      // warms the cache with the shared prefix
  const double hit = ttft(prompt_for(901, len, vocab, len - 16));
  const double miss = ttft(prompt_for(902, len, vocab, 0));
  fmt::print("\nprefix cache, {}-token prompt: TTFT {:.1f} ms with {} cached tokens, {:.1f} ms without ({:.1f}x)\n", len,
             hit, len - 16, miss, miss / hit);
  fmt::print(stderr, "{{\"bench\":\"prefix_cache\",\"model\":\"{}\",\"prompt\":{},\"ttft_hit_ms\":{:.2f},\"ttft_miss_ms\":{:.2f}}}\n", path,
             len, hit, miss);
  return 0;
}
