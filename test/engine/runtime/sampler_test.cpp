#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "sampling/sampler.h"

using namespace llmp::engine;

TEST_CASE("greedy takes the argmax; logit bias and penalties apply first") {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 1);
  std::vector<float> logits = {1, 3, 2};
  CHECK(s.sample(logits, nullptr, false, {}) == 1);
  p.logit_bias = {{2, 5.0f}};
  Sampler biased(p, 1);
  logits = {1, 3, 2};
  CHECK(biased.sample(logits, nullptr, false, {}) == 2);
  SamplingParams pen;
  pen.temperature = 0;
  pen.frequency_penalty = 2;
  Sampler penalised(pen, 1);
  penalised.observe_output(1);
  logits = {1, 3, 2};
  CHECK(penalised.sample(logits, nullptr, false, {}) == 2);  // 3 - 2 = 1 < 2
  SamplingParams rep;
  rep.temperature = 0;
  rep.repetition_penalty = 2;
  Sampler repeated(rep, 1);
  repeated.observe_prompt(1);
  logits = {1, 3, 2};
  CHECK(repeated.sample(logits, nullptr, false, {}) == 2);  // 3 / 2 = 1.5 < 2
}

TEST_CASE("eos is suppressed before min_tokens") {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 1);
  std::vector<float> logits = {5, 1, 0};
  const std::vector<TokenId> eos = {0};
  CHECK(s.sample(logits, nullptr, true, eos) == 1);
}

TEST_CASE("sampling follows the distribution and a seed reproduces it") {
  SamplingParams p;
  p.temperature = 1;
  std::vector<float> base = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s(p, 42);
  std::map<TokenId, int> counts;
  for (int i = 0; i < 20000; ++i) {
    auto l = base;
    ++counts[s.sample(l, nullptr, false, {})];
  }
  CHECK(std::abs(counts[0] / 20000.0 - 0.5) < 0.02);
  CHECK(std::abs(counts[1] / 20000.0 - 0.3) < 0.02);
  Sampler a(p, 7), b(p, 7);
  for (int i = 0; i < 100; ++i) {
    auto l1 = base, l2 = base;
    CHECK(a.sample(l1, nullptr, false, {}) == b.sample(l2, nullptr, false, {}));
  }
}

TEST_CASE("top-k, top-p and min-p cut the tail") {
  std::vector<float> base = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  auto draws = [&](SamplingParams p) {
    Sampler s(p, 3);
    std::map<TokenId, int> c;
    for (int i = 0; i < 5000; ++i) {
      auto l = base;
      ++c[s.sample(l, nullptr, false, {})];
    }
    return c;
  };
  SamplingParams k;
  k.top_k = 2;
  auto ck = draws(k);
  CHECK(ck.count(2) == 0);
  CHECK(ck.count(3) == 0);
  SamplingParams tp;
  tp.top_p = 0.7;  // 0.5 + 0.3 reaches 0.7
  auto cp = draws(tp);
  CHECK(cp.count(2) == 0);
  SamplingParams mp;
  mp.min_p = 0.2;  // keep p >= 0.1
  auto cm = draws(mp);
  CHECK(cm.count(3) == 0);
  CHECK(cm.count(2) > 0);
}

TEST_CASE("logprobs come from the raw logits, with the top alternatives") {
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = true;
  p.top_logprobs = 2;
  p.logit_bias = {{0, 10.0f}};
  Sampler s(p, 1);
  std::vector<float> logits = {0, std::log(3.0f), std::log(1.0f)};
  TokenLogprob lp;
  CHECK(s.sample(logits, &lp, false, {}) == 0);
  // Raw distribution: softmax of [0, ln 3, 0] = [0.2, 0.6, 0.2].
  CHECK(std::fabs(lp.logprob - std::log(0.2f)) < 1e-5);
  REQUIRE(lp.top.size() == 2);
  CHECK(lp.top[0].first == 1);
  CHECK(std::fabs(lp.top[0].second - std::log(0.6f)) < 1e-5);
}

TEST_CASE("invalid parameters are named") {
  SamplingParams p;
  p.temperature = 3;
  CHECK_THAT(p.validate(10).error().message(), Catch::Contains("'temperature'"));
  p = {};
  p.logit_bias = {{12, 1.0f}};
  CHECK_THAT(p.validate(10).error().message(), Catch::Contains("'logit_bias'"));
  p = {};
  p.top_logprobs = 3;
  CHECK_THAT(p.validate(10).error().message(), Catch::Contains("needs logprobs"));
}
