// The scheduler, driven step by step: batching, prefix caching, preemption, chunked prefill,
// cancellation and n > 1 never change a request's tokens; nothing leaks.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <random>

#include "decode_runner.h"
#include "llmp/engine/test_model.h"
#include "runtime/engine_core.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::engine;

namespace {

struct Collected {
  std::map<int, std::vector<TokenId>> tokens;
  std::map<int, std::string> text;
  std::map<int, FinishReason> finish;
  std::map<int, Usage> usage;
  std::map<int, std::string> stop_reason;
  std::map<int, TokenId> stop_token;
  std::map<int, std::vector<TokenLogprob>> logprobs;
  int events = 0;
};

class Fixture {
 public:
  Fixture() {
    TestModelSpec spec;
    spec.format = "gguf";
    spec.vocab = 600;
    spec.layers = 2;
    spec.hidden = 64;
    spec.ffn = 128;
    spec.out = dir_ / "m.gguf";
    REQUIRE(create_test_model(spec));
  }
  std::string path() const { return dir_ / "m.gguf"; }

  std::unique_ptr<EngineCore> core(EngineConfig cfg = {}) {
    if (cfg.kv_cache_bytes == 0) cfg.kv_cache_bytes = 64 << 20;
    if (cfg.threads == 0) cfg.threads = 2;
    auto m = load_model(path());
    REQUIRE(m);
    return std::make_unique<EngineCore>(std::move(*m), cfg);
  }

  GenerationRequest request(const std::string& id, std::vector<TokenId> prompt, SamplingParams sp, Collected& out) {
    GenerationRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.sampling = std::move(sp);
    r.on_event = [&out](TokenEvent&& e) {
      ++out.events;
      auto& t = out.tokens[e.choice];
      t.insert(t.end(), e.tokens.begin(), e.tokens.end());
      out.text[e.choice] += e.text;
      for (auto& lp : e.logprobs) out.logprobs[e.choice].push_back(lp);
      if (e.finish) {
        out.finish[e.choice] = *e.finish;
        out.usage[e.choice] = e.usage;
        out.stop_reason[e.choice] = e.stop_reason;
        out.stop_token[e.choice] = e.stop_token;
      }
    };
    return r;
  }

 private:
  test::TempDir dir_;
};

std::vector<TokenId> prompt_of(int n, int salt) {
  std::vector<TokenId> p;
  for (int i = 0; i < n; ++i) p.push_back(static_cast<TokenId>((i * 31 + salt * 7 + 3) % 500));
  return p;
}

void run_all(EngineCore& core, int max_steps = 100000) {
  for (int i = 0; i < max_steps && core.has_work(); ++i) core.step();
  REQUIRE_FALSE(core.has_work());
}

SamplingParams greedy(int max_tokens) {
  SamplingParams sp;
  sp.temperature = 0;
  sp.max_tokens = max_tokens;
  sp.ignore_eos = true;
  return sp;
}

}  // namespace

TEST_CASE("engine greedy output equals the contiguous reference runner") {
  Fixture f;
  auto m = load_model(f.path());
  REQUIRE(m);
  test::DecodeRunner ref(std::move(*m));
  const auto prompt = prompt_of(21, 1);
  const auto expected = ref.greedy(prompt, 12);

  auto core = f.core();
  Collected out;
  REQUIRE(core->add(f.request("a", prompt, greedy(12), out)));
  run_all(*core);
  CHECK(out.tokens[0] == expected);
  CHECK(out.finish[0] == FinishReason::length);
  CHECK(out.usage[0].prompt_tokens == 21);
  CHECK(out.usage[0].completion_tokens == 12);
}

TEST_CASE("a bf16 KV cache serves greedy requests and an unknown KV type is refused by name") {
  Fixture f;
  auto m = load_model(f.path());
  REQUIRE(m);
  test::DecodeRunner ref(std::move(*m), 2, 16, 512, KvType::bf16);
  const auto prompt = prompt_of(19, 2);
  const auto expected = ref.greedy(prompt, 10);
  // Chosen-token logprobs from an f16 and a bf16 engine: they differ, so the setting reached
  // the backend (greedy tokens alone would likely agree either way).
  SamplingParams sp = greedy(10);
  sp.logprobs = true;
  Collected out, out_f16;
  EngineConfig cfg;
  cfg.kv_cache_dtype = "bf16";
  auto core = f.core(cfg);
  REQUIRE(core->add(f.request("a", prompt, sp, out)));
  run_all(*core);
  CHECK(out.tokens[0] == expected);
  auto core_f16 = f.core();
  REQUIRE(core_f16->add(f.request("b", prompt, sp, out_f16)));
  run_all(*core_f16);
  REQUIRE(out.logprobs[0].size() == out_f16.logprobs[0].size());
  bool differ = false;
  for (size_t i = 0; i < out.logprobs[0].size(); ++i) differ = differ || out.logprobs[0][i].logprob != out_f16.logprobs[0][i].logprob;
  CHECK(differ);

  EngineConfig bad;
  bad.kv_cache_dtype = "fp8";
  bad.kv_cache_bytes = 64 << 20;
  auto m2 = load_model(f.path());
  REQUIRE(m2);
  auto refused = EngineCore::create(std::move(*m2), bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::invalid_argument);
  CHECK_THAT(refused.error().message(), Catch::Contains("kv_cache_dtype \"fp8\""));
}

TEST_CASE("batched equals alone: greedy and seeded sampling, whatever else is in the batch") {
  Fixture f;
  SamplingParams seeded;
  seeded.temperature = 0.9;
  seeded.top_p = 0.9;
  seeded.seed = 1234;
  seeded.max_tokens = 10;
  seeded.ignore_eos = true;
  std::map<std::string, std::vector<TokenId>> alone;
  for (auto [id, sp] : {std::pair{"g", greedy(10)}, std::pair{"s", seeded}}) {
    auto core = f.core();
    Collected out;
    REQUIRE(core->add(f.request(id, prompt_of(17, 2), sp, out)));
    run_all(*core);
    alone[id] = out.tokens[0];
  }
  auto core = f.core();
  Collected g, s, noise1, noise2;
  SamplingParams noisy;
  noisy.temperature = 1.2;
  noisy.max_tokens = 15;
  noisy.ignore_eos = true;
  REQUIRE(core->add(f.request("n1", prompt_of(40, 5), noisy, noise1)));
  core->step();
  REQUIRE(core->add(f.request("g", prompt_of(17, 2), greedy(10), g)));
  REQUIRE(core->add(f.request("n2", prompt_of(9, 6), noisy, noise2)));
  core->step();
  REQUIRE(core->add(f.request("s", prompt_of(17, 2), seeded, s)));
  run_all(*core);
  CHECK(g.tokens[0] == alone["g"]);
  CHECK(s.tokens[0] == alone["s"]);
}

TEST_CASE("a prefix-cache hit gives the same tokens as a miss and reports cached tokens") {
  Fixture f;
  auto core = f.core();
  Collected first, second;
  const auto prompt = prompt_of(50, 3);  // 3 full blocks of 16 before the last token
  REQUIRE(core->add(f.request("a", prompt, greedy(8), first)));
  run_all(*core);
  REQUIRE(core->add(f.request("b", prompt, greedy(8), second)));
  run_all(*core);
  CHECK(second.tokens[0] == first.tokens[0]);
  CHECK(first.usage[0].cached_tokens == 0);
  CHECK(second.usage[0].cached_tokens == 48);
  const auto st = core->stats();
  CHECK(st.prefix_hits >= 3);
  CHECK(core->free_blocks() == st.kv_blocks_total);
}

TEST_CASE("chunked prefill equals whole prefill") {
  Fixture f;
  const auto prompt = prompt_of(70, 4);
  std::vector<TokenId> expected;
  {
    auto core = f.core();
    Collected out;
    REQUIRE(core->add(f.request("a", prompt, greedy(6), out)));
    run_all(*core);
    expected = out.tokens[0];
  }
  EngineConfig small;
  small.max_batch_tokens = 7;  // the prompt takes 10 steps
  auto core = f.core(small);
  Collected out;
  REQUIRE(core->add(f.request("a", prompt, greedy(6), out)));
  run_all(*core);
  CHECK(out.tokens[0] == expected);
}

TEST_CASE("preemption by recompute loses and repeats nothing") {
  Fixture f;
  std::map<std::string, std::vector<TokenId>> expected;
  const std::vector<std::pair<std::string, int>> reqs = {{"a", 30}, {"b", 25}, {"c", 33}, {"d", 20}};
  {
    auto core = f.core();
    std::map<std::string, Collected> outs;
    for (auto& [id, len] : reqs) REQUIRE(core->add(f.request(id, prompt_of(len, len), greedy(40), outs[id])));
    run_all(*core);
    for (auto& [id, len] : reqs) expected[id] = outs[id].tokens[0];
  }
  // A KV budget of 12 blocks (192 positions) cannot hold the four together (about 250).
  auto probe = f.core();
  const auto& c = probe->model().config;
  EngineConfig tight;
  tight.kv_cache_bytes = 12 * KvStorage::bytes_per_block(c.n_layers, c.n_kv_heads, c.head_dim, 16);
  auto core = f.core(tight);
  std::map<std::string, Collected> outs;
  for (auto& [id, len] : reqs) REQUIRE(core->add(f.request(id, prompt_of(len, len), greedy(40), outs[id])));
  run_all(*core);
  CHECK(core->stats().preemptions > 0);
  for (auto& [id, len] : reqs) {
    INFO(id);
    CHECK(outs[id].tokens[0] == expected[id]);
    CHECK(outs[id].finish[0] == FinishReason::length);
  }
  CHECK(core->free_blocks() == core->stats().kv_blocks_total);
}

TEST_CASE("a request that can never fit is refused at once with the counts") {
  Fixture f;
  auto core = f.core();
  Collected out;
  SamplingParams sp = greedy(10);
  sp.max_tokens = 5000;
  auto r = core->add(f.request("big", prompt_of(10, 1), sp, out));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::out_of_range);
  CHECK_THAT(r.error().message(), Catch::Contains("maximum context length is 2048 tokens") &&
                                      Catch::Contains("asks for 5010 (10 in the prompt, 5000 to generate)"));
  CHECK_FALSE(core->has_work());
}

TEST_CASE("cancellation at a chosen step frees the blocks at once and ends with cancelled") {
  Fixture f;
  auto core = f.core();
  Collected a, b;
  REQUIRE(core->add(f.request("a", prompt_of(40, 1), greedy(100), a)));
  REQUIRE(core->add(f.request("b", prompt_of(40, 2), greedy(5), b)));
  for (int i = 0; i < 3; ++i) core->step();
  const int64_t before = core->free_blocks();
  core->cancel("a");
  CHECK(core->free_blocks() > before);
  CHECK(a.finish[0] == FinishReason::cancelled);
  const int events = a.events;
  run_all(*core);
  CHECK(a.events == events);  // nothing after the final event
  CHECK(b.finish[0] == FinishReason::length);
  CHECK(core->free_blocks() == core->stats().kv_blocks_total);
  // A waiting request can be cancelled too.
  Collected w;
  REQUIRE(core->add(f.request("w", prompt_of(10, 3), greedy(5), w)));
  core->cancel("w");
  CHECK(w.finish[0] == FinishReason::cancelled);
  CHECK_FALSE(core->has_work());
}

TEST_CASE("n > 1 shares the prompt's blocks; seeded choices differ and reproduce") {
  Fixture f;
  SamplingParams sp;
  sp.temperature = 1.0;
  sp.seed = 99;
  sp.n = 3;
  sp.max_tokens = 8;
  sp.ignore_eos = true;
  const auto prompt = prompt_of(48, 7);
  std::map<int, std::vector<TokenId>> first;
  {
    auto core = f.core();
    Collected out;
    REQUIRE(core->add(f.request("n", prompt, sp, out)));
    run_all(*core);
    REQUIRE(out.tokens.size() == 3);
    first = out.tokens;
    CHECK(out.usage[1].cached_tokens == 32);  // the siblings found the leader's full blocks
    CHECK((out.tokens[0] != out.tokens[1] || out.tokens[1] != out.tokens[2]));
  }
  auto core = f.core();
  Collected again;
  REQUIRE(core->add(f.request("n", prompt, sp, again)));
  run_all(*core);
  CHECK(again.tokens == first);
}

TEST_CASE("stop strings end the output before them; logprobs come per token") {
  Fixture f;
  std::string text;
  {
    auto core = f.core();
    Collected out;
    REQUIRE(core->add(f.request("a", prompt_of(12, 9), greedy(30), out)));
    run_all(*core);
    text = out.text[0];
  }
  REQUIRE(text.size() > 6);
  const std::string stop = text.substr(text.size() / 2, 3);
  SamplingParams sp = greedy(30);
  sp.stop = {stop};
  sp.logprobs = true;
  sp.top_logprobs = 2;
  auto core = f.core();
  Collected out;
  REQUIRE(core->add(f.request("a", prompt_of(12, 9), sp, out)));
  run_all(*core);
  CHECK(out.finish[0] == FinishReason::stop);
  CHECK(out.stop_reason[0] == stop);
  CHECK(out.text[0] == text.substr(0, text.find(stop)));
  REQUIRE(out.logprobs[0].size() == out.tokens[0].size());
  for (const auto& lp : out.logprobs[0]) {
    CHECK(lp.logprob <= 0);
    CHECK(lp.top.size() == 2);
  }

  CHECK(out.stop_token[0] == -1);

  // A stop token: the choice ends before it, and the event names it.
  SamplingParams by_token = greedy(30);
  by_token.stop_token_ids = {out.tokens[0][1]};
  auto token_core = f.core();
  Collected stopped;
  REQUIRE(token_core->add(f.request("t", prompt_of(12, 9), by_token, stopped)));
  run_all(*token_core);
  CHECK(stopped.finish[0] == FinishReason::stop);
  CHECK(stopped.stop_reason[0] == "stop_token");
  CHECK(stopped.stop_token[0] == out.tokens[0][1]);

  // vLLM's include_stop_str_in_output: the same stop, its text kept.
  sp.include_stop_in_output = true;
  auto again = f.core();
  Collected kept;
  REQUIRE(again->add(f.request("b", prompt_of(12, 9), sp, kept)));
  run_all(*again);
  CHECK(kept.finish[0] == FinishReason::stop);
  CHECK(kept.text[0] == text.substr(0, text.find(stop) + stop.size()));
}

TEST_CASE("allowed_token_ids and bad_words narrow what is sampled; nothing left is an error") {
  Fixture f;
  const auto prompt = prompt_of(10, 4);
  auto run = [&](const SamplingParams& sp) {
    auto core = f.core();
    Collected out;
    REQUIRE(core->add(f.request("r", prompt, sp, out)));
    run_all(*core);
    return out;
  };
  const Collected free = run(greedy(8));
  const std::vector<TokenId> plain = free.tokens.at(0);
  REQUIRE(plain.size() == 8);

  SamplingParams only = greedy(8);
  only.allowed_token_ids = {plain[1], plain[3], 7};
  const Collected restricted = run(only);
  for (const TokenId t : restricted.tokens.at(0)) {
    CHECK((t == plain[1] || t == plain[3] || t == 7));
  }

  // A one-token bad word is never sampled; a two-token one never completed.
  SamplingParams bad = greedy(8);
  bad.bad_words = {{plain[0]}};
  const auto without_first = run(bad).tokens.at(0);
  CHECK(std::ranges::find(without_first, plain[0]) == without_first.end());
  bad.bad_words = {{plain[0], plain[1]}};
  const auto broken = run(bad).tokens.at(0);
  CHECK(broken[0] == plain[0]);
  CHECK(broken[1] != plain[1]);
  for (size_t i = 1; i < broken.size(); ++i) CHECK_FALSE((broken[i - 1] == plain[0] && broken[i] == plain[1]));

  SamplingParams none = greedy(4);
  none.allowed_token_ids = {5};
  none.bad_words = {{5}};
  const Collected failed = run(none);
  CHECK(failed.finish.at(0) == FinishReason::error);
}

TEST_CASE("soak: thousands of random requests with random cancellations leave nothing behind") {
  Fixture f;
  auto probe = f.core();
  const auto& c = probe->model().config;
  EngineConfig cfg;
  cfg.kv_cache_bytes = 40 * KvStorage::bytes_per_block(c.n_layers, c.n_kv_heads, c.head_dim, 16);
  cfg.max_batch_tokens = 64;
  auto core = f.core(cfg);
  std::mt19937 rng(5);
  std::map<std::string, Collected> outs;
  std::vector<std::string> live;
  int finished = 0, cancelled = 0;
  const int total = 2000;
  for (int i = 0; i < total; ++i) {
    SamplingParams sp;
    sp.temperature = (rng() % 2) ? 0.0 : 0.8;
    sp.max_tokens = 1 + static_cast<int>(rng() % 12);
    sp.n = 1 + static_cast<int>(rng() % 2);
    sp.ignore_eos = rng() % 2;
    const std::string id = "r" + std::to_string(i);
    // Prompts share prefixes now and then, to exercise the cache.
    auto prompt = prompt_of(1 + static_cast<int>(rng() % 60), static_cast<int>(rng() % 8));
    REQUIRE(core->add(f.request(id, prompt, sp, outs[id])));
    live.push_back(id);
    if (rng() % 4 == 0) core->step();
    if (rng() % 7 == 0 && !live.empty()) {
      const size_t k = rng() % live.size();
      core->cancel(live[k]);
      live.erase(live.begin() + static_cast<long>(k));
    }
  }
  run_all(*core);
  for (auto& [id, out] : outs) {
    for (auto& [choice, reason] : out.finish) {
      (reason == FinishReason::cancelled ? cancelled : finished)++;
    }
  }
  CHECK(finished + cancelled >= total);
  CHECK(cancelled > 0);
  CHECK(core->live_sequences() == 0);
  CHECK(core->free_blocks() == core->stats().kv_blocks_total);
  CHECK(core->stats().kv_blocks_used == 0);
}

TEST_CASE("each completion is charged its share of the forward passes and the shares add up to the busy time") {
  Fixture f;
  auto core = f.core();
  Collected a, b;
  REQUIRE(core->add(f.request("a", prompt_of(40, 1), greedy(12), a)));
  REQUIRE(core->add(f.request("b", prompt_of(8, 2), greedy(4), b)));
  run_all(*core);
  const double sa = a.usage[0].engine_seconds, sb = b.usage[0].engine_seconds;
  CHECK(sa > 0);
  CHECK(sb > 0);
  CHECK(sa > sb);  // more prompt and more tokens generated: a larger share
  // The shares cover each step up to the end of its forward pass; the busy time also counts
  // the sampling after it, so the shares never exceed it (how much less depends on the load).
  CHECK(sa + sb <= core->stats().busy_seconds * 1.0001);
}

namespace {

// A prompt that repeats itself, so prompt lookup has something to draft from.
std::vector<TokenId> repeating_prompt(int period, int repeats, int salt) {
  std::vector<TokenId> p;
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < period; ++i) p.push_back(static_cast<TokenId>((i * 37 + salt * 11 + 5) % 500));
  }
  return p;
}

EngineConfig speculative(int64_t tokens = 4) {
  EngineConfig c;
  c.speculative_tokens = tokens;
  c.speculative_max_batch = 4;
  return c;
}

struct SoloRun {
  Collected out;
  EngineStats stats;
  int64_t free_blocks = 0;
};

SoloRun run_solo(Fixture& f, const EngineConfig& cfg, const std::vector<TokenId>& prompt, const SamplingParams& sp) {
  auto core = f.core(cfg);
  SoloRun r;
  REQUIRE(core->add(f.request("r", prompt, sp, r.out)));
  run_all(*core);
  r.stats = core->stats();
  r.free_blocks = core->free_blocks();
  return r;
}

}  // namespace

TEST_CASE("speculative decoding gives the tokens of one-token steps, in fewer steps where text repeats") {
  Fixture f;
  SamplingParams seeded;
  seeded.temperature = 0.7;
  seeded.top_p = 0.95;
  seeded.seed = 77;
  seeded.max_tokens = 48;
  seeded.ignore_eos = true;
  seeded.logprobs = true;
  seeded.top_logprobs = 2;
  SamplingParams cool = seeded;
  cool.temperature = 0.3;
  // A one-token match drafts often and is often wrong: the rejecting path gets its share.
  EngineConfig eager = speculative();
  eager.speculative_ngram_min = 1;
  int64_t drafted = 0, accepted = 0, sampled_accepted = 0;
  for (const auto& prompt : {repeating_prompt(6, 4, 1), repeating_prompt(3, 5, 2), prompt_of(21, 1)}) {
    for (const SamplingParams& sp : {greedy(48), seeded, cool}) {
      SoloRun plain = run_solo(f, {}, prompt, sp);
      for (const EngineConfig& cfg : {speculative(), eager}) {
      SoloRun spec = run_solo(f, cfg, prompt, sp);
      INFO("prompt of " << prompt.size() << ", temperature " << sp.temperature << ", ngram_min " << cfg.speculative_ngram_min
                        << ": " << spec.stats.draft_tokens << " drafted, " << spec.stats.accepted_draft_tokens
                        << " accepted in " << spec.stats.steps << " steps");
      CHECK(spec.out.tokens[0] == plain.out.tokens[0]);
      CHECK(spec.out.text[0] == plain.out.text[0]);
      CHECK(spec.out.finish[0] == FinishReason::length);
      CHECK(spec.out.usage[0].completion_tokens == 48);
      CHECK(spec.stats.generation_tokens == 48);
      // One step per token less those whose drafts held.
      CHECK(spec.stats.steps == plain.stats.steps - spec.stats.accepted_draft_tokens);
      CHECK(spec.free_blocks == spec.stats.kv_blocks_total);
      // Logprobs from the drafting step's rows: the same up to the rounding of a wider GEMM.
      REQUIRE(spec.out.logprobs[0].size() == plain.out.logprobs[0].size());
      for (size_t i = 0; i < spec.out.logprobs[0].size(); ++i) {
        CHECK(spec.out.logprobs[0][i].logprob == Approx(plain.out.logprobs[0][i].logprob).margin(1e-3));
      }
      CHECK(plain.stats.draft_tokens == 0);
      drafted += spec.stats.draft_tokens;
      accepted += spec.stats.accepted_draft_tokens;
      if (sp.temperature > 0) sampled_accepted += spec.stats.accepted_draft_tokens;
      }
    }
  }
  CHECK(drafted > accepted);
  CHECK(accepted > 0);
  CHECK(sampled_accepted > 0);
}

TEST_CASE("speculative decoding ends at max_tokens, stop strings and stop tokens where one-token steps do") {
  Fixture f;
  const auto prompt = repeating_prompt(4, 6, 3);
  SoloRun long_run = run_solo(f, {}, prompt, greedy(40));
  const std::string& text = long_run.out.text[0];
  REQUIRE(text.size() > 10);
  for (const int max_tokens : {1, 2, 3, 5, 8, 13}) {
    INFO("max_tokens " << max_tokens);
    SoloRun spec = run_solo(f, speculative(8), prompt, greedy(max_tokens));
    CHECK(spec.out.tokens[0] == std::vector<TokenId>(long_run.out.tokens[0].begin(), long_run.out.tokens[0].begin() + max_tokens));
    CHECK(spec.out.finish[0] == FinishReason::length);
  }
  SamplingParams stopping = greedy(40);
  stopping.stop = {text.substr(text.size() * 2 / 3, 2)};
  SoloRun plain_stop = run_solo(f, {}, prompt, stopping);
  SoloRun spec_stop = run_solo(f, speculative(8), prompt, stopping);
  CHECK(spec_stop.out.text[0] == plain_stop.out.text[0]);
  CHECK(spec_stop.out.tokens[0] == plain_stop.out.tokens[0]);
  CHECK(spec_stop.out.finish[0] == FinishReason::stop);
  CHECK(spec_stop.free_blocks == spec_stop.stats.kv_blocks_total);

  SamplingParams by_token = greedy(40);
  by_token.stop_token_ids = {long_run.out.tokens[0][25]};
  SoloRun plain_token = run_solo(f, {}, prompt, by_token);
  SoloRun spec_token = run_solo(f, speculative(8), prompt, by_token);
  CHECK(spec_token.out.tokens[0] == plain_token.out.tokens[0]);
  CHECK(spec_token.out.stop_reason[0] == "stop_token");

  // bad_words and a grammar's mask are applied row by row, as the tokens before are taken.
  SamplingParams narrowed = greedy(30);
  narrowed.bad_words = {{long_run.out.tokens[0][2], long_run.out.tokens[0][3]}};
  SoloRun plain_narrowed = run_solo(f, {}, prompt, narrowed);
  SoloRun spec_narrowed = run_solo(f, speculative(8), prompt, narrowed);
  CHECK(spec_narrowed.out.tokens[0] == plain_narrowed.out.tokens[0]);

  // A grammar that bars a character the free output uses: drafts from the prompt meet masks.
  SamplingParams constrained = greedy(40);
  unsigned char barred = 'e';
  for (size_t i = text.size() / 2; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      barred = static_cast<unsigned char>(text[i]);
      break;
    }
  }
  auto grammar = compile_gbnf(fmt::format("root ::= [^\\x{:02X}]*", barred));
  REQUIRE(grammar);
  constrained.grammar = *grammar;
  SoloRun plain_constrained = run_solo(f, {}, prompt, constrained);
  SoloRun spec_constrained = run_solo(f, speculative(8), prompt, constrained);
  INFO("barred byte " << int(barred) << ": " << spec_constrained.stats.draft_tokens << " drafted, "
                      << spec_constrained.stats.accepted_draft_tokens << " accepted");
  CHECK(spec_constrained.out.tokens[0] == plain_constrained.out.tokens[0]);
  CHECK(spec_constrained.out.text[0].find(static_cast<char>(barred)) == std::string::npos);
  CHECK(spec_constrained.stats.draft_tokens > 0);
}

TEST_CASE("drafts never preempt, stop past speculative_max_batch, and n > 1 choices draft apart") {
  Fixture f;
  const std::vector<std::pair<std::string, int>> reqs = {{"a", 5}, {"b", 6}, {"c", 7}, {"d", 4}};
  auto run_batch = [&](EngineConfig cfg) {
    auto core = f.core(cfg);
    std::map<std::string, Collected> outs;
    for (auto& [id, period] : reqs) REQUIRE(core->add(f.request(id, repeating_prompt(period, 5, period), greedy(40), outs[id])));
    run_all(*core);
    CHECK(core->free_blocks() == core->stats().kv_blocks_total);
    std::map<std::string, std::vector<TokenId>> tokens;
    for (auto& [id, out] : outs) tokens[id] = out.tokens[0];
    return std::pair{tokens, core->stats()};
  };
  const auto [expected, plain_stats] = run_batch({});

  EngineConfig wide = speculative();
  wide.speculative_max_batch = 4;
  const auto [wide_tokens, wide_stats] = run_batch(wide);
  CHECK(wide_tokens == expected);
  CHECK(wide_stats.accepted_draft_tokens > 0);

  // Four run together from the first step to the last: past a limit of 3, no drafts at all.
  EngineConfig narrow = speculative();
  narrow.speculative_max_batch = 3;
  const auto [narrow_tokens, narrow_stats] = run_batch(narrow);
  CHECK(narrow_tokens == expected);
  CHECK(narrow_stats.draft_tokens == 0);

  // A KV budget of 12 blocks (192 positions) cannot hold the four together (about 280).
  auto probe = f.core();
  const auto& c = probe->model().config;
  EngineConfig tight = wide;
  tight.kv_cache_bytes = 12 * KvStorage::bytes_per_block(c.n_layers, c.n_kv_heads, c.head_dim, 16);
  const auto [tight_tokens, tight_stats] = run_batch(tight);
  CHECK(tight_tokens == expected);
  CHECK(tight_stats.preemptions > 0);
  CHECK(tight_stats.draft_tokens > 0);

  // n = 3 seeded choices share the prompt, then draft each from its own output.
  SamplingParams three;
  three.n = 3;
  three.seed = 5;
  three.temperature = 0.5;
  three.max_tokens = 30;
  three.ignore_eos = true;
  SoloRun plain_three = run_solo(f, {}, repeating_prompt(5, 5, 9), three);
  SoloRun spec_three = run_solo(f, speculative(), repeating_prompt(5, 5, 9), three);
  for (int choice = 0; choice < 3; ++choice) CHECK(spec_three.out.tokens.at(choice) == plain_three.out.tokens.at(choice));
  CHECK(spec_three.free_blocks == spec_three.stats.kv_blocks_total);
}

TEST_CASE("a shortest n-gram above the longest is refused by name") {
  Fixture f;
  EngineConfig cfg = speculative();
  cfg.speculative_ngram_min = 5;
  cfg.speculative_ngram_max = 3;
  auto m = load_model(f.path());
  REQUIRE(m);
  auto core = EngineCore::create(std::move(*m), cfg);
  REQUIRE_FALSE(core);
  CHECK_THAT(core.error().message(), Catch::Contains("engine.speculative_ngram_min (5) is above engine.speculative_ngram_max (3)"));
}

TEST_CASE("a predicted output is drafted where the output follows it, and never changes the output") {
  Fixture f;
  const auto prompt = prompt_of(23, 7);
  SoloRun plain = run_solo(f, {}, prompt, greedy(40));
  const std::vector<TokenId> output = plain.out.tokens[0];
  REQUIRE(output.size() == 40);
  // Without engine.speculative_tokens: a prediction drafts on its own.
  auto predicted = [&](std::vector<TokenId> prediction, SamplingParams sp = greedy(40)) {
    sp.prediction = std::move(prediction);
    return run_solo(f, {}, prompt, sp);
  };

  // Right throughout: every step but the first few takes the draft whole.
  SoloRun right = predicted(output);
  CHECK(right.out.tokens[0] == output);
  const Usage& u = right.out.usage[0];
  INFO("right: " << u.accepted_prediction_tokens << " accepted, " << u.rejected_prediction_tokens << " rejected, "
                 << right.stats.steps << " steps");
  CHECK(u.accepted_prediction_tokens == 40);
  CHECK(u.rejected_prediction_tokens == 0);
  CHECK(right.stats.accepted_draft_tokens >= 27);
  CHECK(right.stats.steps == plain.stats.steps - right.stats.accepted_draft_tokens);
  CHECK(right.free_blocks == right.stats.kv_blocks_total);

  // An edit: four tokens in the middle differ. Drafts fail there, then the output's last tokens
  // are found again after the edit and drafting goes on.
  std::vector<TokenId> edited = output;
  for (size_t i = 18; i < 22; ++i) edited[i] = static_cast<TokenId>((edited[i] + 101) % 500);
  SoloRun after_edit = predicted(edited);
  CHECK(after_edit.out.tokens[0] == output);
  INFO("edited: " << after_edit.out.usage[0].accepted_prediction_tokens << " accepted, "
                  << after_edit.out.usage[0].rejected_prediction_tokens << " rejected");
  CHECK(after_edit.out.usage[0].accepted_prediction_tokens >= 30);
  CHECK(after_edit.out.usage[0].rejected_prediction_tokens > 0);

  // Wrong throughout: the same output, nothing kept.
  std::vector<TokenId> wrong(40);
  for (size_t i = 0; i < wrong.size(); ++i) wrong[i] = static_cast<TokenId>((i * 13 + 501) % 600);
  SoloRun off = predicted(wrong);
  CHECK(off.out.tokens[0] == output);
  CHECK(off.out.usage[0].accepted_prediction_tokens == 0);

  // Seeded sampling: the same tokens with and without the prediction of its own output.
  SamplingParams seeded = greedy(40);
  seeded.temperature = 0.3;
  seeded.seed = 9;
  SoloRun sampled = run_solo(f, {}, prompt, seeded);
  SoloRun sampled_predicted = predicted(sampled.out.tokens[0], seeded);
  CHECK(sampled_predicted.out.tokens[0] == sampled.out.tokens[0]);
  CHECK(sampled_predicted.out.usage[0].accepted_prediction_tokens == 40);

  // A prediction token outside the vocabulary is refused (drafts go through the forward pass).
  auto core = f.core();
  Collected refused;
  SamplingParams bad = greedy(4);
  bad.prediction = {5, 600};
  CHECK_FALSE(core->add(f.request("bad", prompt, bad, refused)));
}
