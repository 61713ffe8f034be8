// Prefill and single-sequence decode speed of the engine on one model, like llama-bench's
// pp/tg tests: prints a table row and a JSON line.
//
//   engine_bench MODEL [--threads N] [--prompt N] [--gen N] [--reps N] [--kv-dtype f16|bf16]
//                      [--step-tokens N]
//
// --step-tokens N: each decode step computes N tokens with a logits row for each, as a
// speculative decoding step checks N - 1 drafted tokens; tg then counts steps, and the JSON
// line's ms_per_step is the figure to set against a one-token step's.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/loaded_model.h"

using namespace llmp::engine;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr,
               "usage: engine_bench MODEL [--threads N] [--prompt N] [--gen N] [--reps N] [--kv-dtype f16|bf16] "
               "[--step-tokens N]\n");
    return 2;
  }
  const std::string path = argv[1];
  int threads = 2, prompt = 128, gen = 32, reps = 3, step_tokens = 1;
  KvType kv_type = KvType::f16;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--kv-dtype") {
      const auto t = parse_kv_type(argv[i + 1]);
      if (!t) {
        fmt::print(stderr, "--kv-dtype must be f16 or bf16\n");
        return 2;
      }
      kv_type = *t;
    } else if (flag == "--threads") threads = v;
    else if (flag == "--prompt") prompt = v;
    else if (flag == "--gen") gen = v;
    else if (flag == "--reps") reps = v;
    else if (flag == "--step-tokens") step_tokens = std::max(1, v);
  }
  auto model = load_model(path);
  if (!model) {
    fmt::print(stderr, "{}\n", model.error().message());
    return 1;
  }
  const auto& c = (*model)->config;
  ThreadPool pool(threads);
  Decoder decoder(c, (*model)->weights, pool);
  const int64_t block = 16, n_blocks = (prompt + int64_t{gen} * step_tokens + block - 1) / block + 1;
  auto kv = KvStorage::create(c.n_layers, c.n_kv_heads, c.head_dim, block, n_blocks, kv_type);
  std::vector<int32_t> blocks(static_cast<size_t>(n_blocks));
  std::iota(blocks.begin(), blocks.end(), 0);
  std::vector<TokenId> tokens(static_cast<size_t>(prompt));
  for (int i = 0; i < prompt; ++i) tokens[static_cast<size_t>(i)] = static_cast<TokenId>((i * 7919 + 13) % c.vocab_size);
  std::vector<float> logits;

  // Warm up: touch every weight page once.
  {
    SequenceChunk warm{std::span<const TokenId>(tokens.data(), 1), 0, blocks, false};
    decoder.forward(std::span<const SequenceChunk>(&warm, 1), *kv, logits);
  }
  std::vector<double> pp, tg;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    SequenceChunk chunk{tokens, 0, blocks, false};
    decoder.forward(std::span<const SequenceChunk>(&chunk, 1), *kv, logits);
    pp.push_back(prompt / std::chrono::duration<double>(Clock::now() - t0).count());
    // Decode `gen` steps after a 1-token context, as llama-bench's tg test does.
    t0 = Clock::now();
    std::vector<TokenId> next(static_cast<size_t>(step_tokens), tokens[0]);
    for (int i = 0; i < gen; ++i) {
      SequenceChunk step{next, 1 + int64_t{i} * step_tokens, blocks, step_tokens > 1};
      decoder.forward(std::span<const SequenceChunk>(&step, 1), *kv, logits);
      next[0] = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin()) % c.vocab_size;
    }
    tg.push_back(gen / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
  fmt::print("| {} | {} | pp{} | {:.2f} | tg{} | {:.2f} |\n", path, threads, prompt, mean(pp), gen, mean(tg));
  fmt::print("{{\"bench\":\"engine\",\"model\":\"{}\",\"threads\":{},\"prompt\":{},\"prefill_tps\":{:.2f},\"gen\":{},\"decode_tps\":{:.2f},"
             "\"step_tokens\":{},\"ms_per_step\":{:.3f}}}\n",
             path, threads, prompt, mean(pp), gen, mean(tg), step_tokens, 1000.0 / mean(tg));
  return 0;
}
