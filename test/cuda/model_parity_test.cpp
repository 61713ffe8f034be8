// Whole-model parity: the CUDA backend and the CPU backend run the same batches (chunked
// prefill, decode steps, several sequences of different lengths, block tables handed out in
// reverse and interleaved, a sequence forked by copy-on-write) for test models of every
// decoder architecture and weight type; their logits must agree within a per-type tolerance
// and, for f32/f16/bf16, their greedy tokens must be identical (but for numerical ties).
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "backend/cpu/thread_pool.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/decoder_backend.h"
#include "cuda_test_util.h"
#include "llmp/engine/test_model.h"
#include "model/loaded_model.h"
#include "runtime/engine_core.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;

namespace {

struct Case {
  std::string arch, dtype, format = "gguf", rope = "none";
  bool tied = false;
  int64_t hidden = 256;
};

std::string label(const Case& c) {
  return c.arch + "/" + c.format + "/" + c.dtype + (c.rope != "none" ? "/rope-" + c.rope : "") + (c.tied ? "/tied" : "") +
         (c.hidden != 256 ? "/h" + std::to_string(c.hidden) : "");
}

// Logits tolerance (max over rows of ‖gpu − cpu‖ / ‖cpu‖) and the gap under which two top
// tokens count as a numerical tie (a fraction of the row's standard deviation). The GPU runs
// f16 (f32, f16 and quantised models) or bf16 activations into tensor-core GEMMs; the CPU
// runs f32 activations, quantised to int8 for quantised weights.
struct Tolerance {
  double logits, tie;
};
Tolerance tolerance(const std::string& dtype) {
  if (dtype == "f32" || dtype == "f16") return {1e-2, 0.01};
  if (dtype == "bf16") return {4e-2, 0.04};
  return {6e-2, 0.06};
}

TestModelSpec spec_for(const Case& c, const std::string& out) {
  TestModelSpec s;
  s.arch = c.arch;
  s.format = c.format;
  s.dtype = c.dtype;
  s.layers = 2;
  s.hidden = c.hidden;
  s.ffn = 512;
  s.vocab = 512;
  s.rope_scaling = c.rope;
  s.tied_embeddings = c.tied;
  // Head sizes 64, 128 and 32 across the architectures; GQA everywhere.
  if (c.arch == "llama") s.heads = 4, s.kv_heads = 2;
  if (c.arch == "qwen2") s.heads = 2, s.kv_heads = 1;
  if (c.arch == "mistral") s.heads = 8, s.kv_heads = 2;
  s.seed = 1234;
  s.out = out;
  return s;
}

struct Seq {
  std::vector<TokenId> tokens;  // everything fed so far plus the next token to feed
  int64_t computed = 0;
  std::vector<int32_t> blocks;
};

class Runner {
 public:
  Runner(const LoadedModel& model, DecoderBackend& cpu, DecoderBackend& gpu, const Case& c)
      : model_(model), cpu_(cpu), gpu_(gpu), tol_(tolerance(c.dtype)), strict_greedy_(c.dtype == "f32" || c.dtype == "f16" || c.dtype == "bf16"), label_(label(c)) {}

  // Blocks from the top of the pool down, so that tables are reversed and interleaved.
  void cover(Seq& s, int64_t positions) {
    while (static_cast<int64_t>(s.blocks.size()) * kBlock < positions) s.blocks.push_back(next_block_--);
    REQUIRE(next_block_ >= 0);
  }

  struct Item {
    Seq* seq;
    int64_t n;        // tokens to feed from seq->computed
    bool all = false;
    bool none = false;
  };

  // Runs one step on both backends and compares every logits row. Returns the CPU rows.
  std::vector<std::vector<float>> step(const std::vector<Item>& items) {
    std::vector<SequenceChunk> batch;
    for (const Item& it : items) {
      cover(*it.seq, it.seq->computed + it.n);
      SequenceChunk c;
      c.tokens = std::span<const TokenId>(it.seq->tokens.data() + it.seq->computed, static_cast<size_t>(it.n));
      c.start_pos = it.seq->computed;
      c.blocks = it.seq->blocks;
      c.all_logits = it.all;
      c.no_logits = it.none;
      batch.push_back(c);
    }
    const std::span<const float> a = cpu_.forward(batch), b = gpu_.forward(batch);
    for (const Item& it : items) it.seq->computed += it.n;
    const auto vocab = static_cast<size_t>(model_.config.vocab_size);
    REQUIRE(a.size() == b.size());
    REQUIRE(a.size() % vocab == 0);
    std::vector<std::vector<float>> rows;
    ++steps_;
    for (size_t r = 0; r < a.size() / vocab; ++r) {
      INFO("step " << steps_ << " of " << items.size() << " sequences, logits row " << r);
      const float* x = b.data() + r * vocab;
      const float* y = a.data() + r * vocab;
      const double e = nerr(x, y, vocab);
      max_err_ = std::max(max_err_, e);
      CHECK(e <= tol_.logits);
      // Greedy token: identical, unless the CPU's top two are closer than a tie.
      const auto gi = std::max_element(x, x + vocab) - x, ci = std::max_element(y, y + vocab) - y;
      if (gi != ci) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < vocab; ++i) mean += y[i];
        mean /= static_cast<double>(vocab);
        for (size_t i = 0; i < vocab; ++i) var += (y[i] - mean) * (y[i] - mean);
        const double sd = std::sqrt(var / static_cast<double>(vocab));
        const double gap = static_cast<double>(y[ci]) - y[gi];
        if (gap <= tol_.tie * sd) {
          ++ties_;
        } else {
          ++mismatches_;
          INFO(label_ << ": greedy token differs: cpu " << ci << " gpu " << gi << " gap " << gap << " sd " << sd);
          if (strict_greedy_) CHECK(gi == ci);
        }
      }
      ++rows_;
      rows.emplace_back(y, y + vocab);
    }
    return rows;
  }

  double max_err() const { return max_err_; }
  int ties() const { return ties_; }
  int mismatches() const { return mismatches_; }
  int rows() const { return rows_; }

  static constexpr int64_t kBlock = 16;
  static constexpr int32_t kBlocks = 64;

 private:
  const LoadedModel& model_;
  DecoderBackend& cpu_;
  DecoderBackend& gpu_;
  Tolerance tol_;
  bool strict_greedy_;
  std::string label_;
  int32_t next_block_ = kBlocks - 1;
  double max_err_ = 0;
  int steps_ = 0;
  int ties_ = 0, mismatches_ = 0, rows_ = 0;
};

TokenId argmax(const std::vector<float>& row) {
  return static_cast<TokenId>(std::max_element(row.begin(), row.end()) - row.begin());
}

std::vector<TokenId> prompt(int64_t n, uint64_t seed, int64_t vocab) {
  std::mt19937_64 rng(seed);
  std::vector<TokenId> p;
  for (int64_t i = 0; i < n; ++i) p.push_back(static_cast<TokenId>(rng() % static_cast<uint64_t>(vocab)));
  return p;
}

// The scenario: three prompts (one prefilled in two chunks), decode steps for all, a fourth
// sequence forked from the third by copying its partial last block, then one sequence alone.
// Paths forces the CUDA backend's switches (defaults otherwise):
struct Paths {
  bool graphs = true;        // false: eager steps, everything through dequantise + cuBLAS
  bool mmq = false;          // quantised products of more than one row through the int8 MMA (decode
                             // steps in graphs, and prefill chunks up to 256 tokens), K-quants included
  bool dense_gemv = false;   // dense matrices at 1-4 rows through our GEMV instead of cuBLAS
  bool fused_q8 = false;     // the norms and SwiGLU quantise their outputs for the int8 products
  bool mmq_narrow = false;   // the MMA's 16-row tiles for products of up to 16 rows
  bool fused_swiglu = false; // one row's dense gate/up product and SwiGLU in one launch
  bool fold_norm = false;    // one-row steps fold the RMSNorms into the dense GEMVs (bf16 models)
  bool qkv_rope = false;     // one row's dense q/k/v product, RoPE and cache write in one launch
  bool pdl = false;          // programmatic dependent launch for every step, prefill included
                             // (compute capability 9.0+; by default decode steps of up to 8 rows)
  KvType kv_type = KvType::f16;  // both backends' KV cache
};

void run_case(const Case& c, const Paths& paths = {}) {
  const bool graphs = paths.graphs, mmq = paths.mmq, dense_gemv = paths.dense_gemv,
             fused_q8 = paths.fused_q8;
  TempDir dir;
  const std::string path = dir / (c.format == "gguf" ? "m.gguf" : "m");
  auto created = create_test_model(spec_for(c, path));
  INFO(label(c) << ": " << (created ? std::string() : created.error().message()));
  REQUIRE(created);
  auto loaded = load_model(path);
  REQUIRE(loaded);
  const LoadedModel& model = **loaded;
  const int64_t vocab = model.config.vocab_size;

  ThreadPool pool(2);
  const int64_t per_block = KvStorage::bytes_per_block(model.config.n_layers, model.config.n_kv_heads, model.config.head_dim,
                                                       Runner::kBlock);
  auto cpu = make_cpu_backend(model, pool, Runner::kBlock, per_block * Runner::kBlocks, paths.kv_type);
  REQUIRE(cpu);
  // With graphs: decode batches (bucket 4) through the quantised GEMV (the default up to 4
  // rows) and prefill chunks (up to 70 rows) through the MMA (the default up to 64 rows) or
  // dequantise + cuBLAS; without: everything through dequantise + cuBLAS.
  if (!graphs) ::setenv("LLMP_CUDA_GRAPHS", "0", 1);
  if (!graphs || mmq) ::setenv("LLMP_CUDA_GEMV_MAX_ROWS", "0", 1);
  if (!graphs) ::setenv("LLMP_CUDA_MMQ_MAX_ROWS", "0", 1);
  if (mmq) ::setenv("LLMP_CUDA_MMQ_MAX_ROWS", "256", 1);
  if (mmq) ::setenv("LLMP_CUDA_MMQ_ALL_TYPES", "1", 1);
  if (dense_gemv) ::setenv("LLMP_CUDA_DENSE_GEMV_MAX_ROWS", "4", 1);
  if (fused_q8) ::setenv("LLMP_CUDA_FUSED_Q8", "1", 1);
  if (paths.mmq_narrow) ::setenv("LLMP_CUDA_MMQ_NARROW", "1", 1);
  if (paths.fused_swiglu) ::setenv("LLMP_CUDA_FUSED_SWIGLU", "1", 1);
  if (paths.fold_norm) ::setenv("LLMP_CUDA_FOLD_NORM", "1", 1);
  if (paths.qkv_rope) ::setenv("LLMP_CUDA_QKV_ROPE", "1", 1);
  if (paths.pdl) ::setenv("LLMP_CUDA_PDL_MAX_ROWS", "4096", 1);
  auto gpu = make_cuda_backend(model, 0, Runner::kBlock, 0.02, paths.kv_type);
  ::unsetenv("LLMP_CUDA_GRAPHS");
  ::unsetenv("LLMP_CUDA_GEMV_MAX_ROWS");
  ::unsetenv("LLMP_CUDA_MMQ_MAX_ROWS");
  ::unsetenv("LLMP_CUDA_MMQ_ALL_TYPES");
  ::unsetenv("LLMP_CUDA_DENSE_GEMV_MAX_ROWS");
  ::unsetenv("LLMP_CUDA_FUSED_Q8");
  ::unsetenv("LLMP_CUDA_MMQ_NARROW");
  ::unsetenv("LLMP_CUDA_FUSED_SWIGLU");
  ::unsetenv("LLMP_CUDA_FOLD_NORM");
  ::unsetenv("LLMP_CUDA_QKV_ROPE");
  ::unsetenv("LLMP_CUDA_PDL_MAX_ROWS");
  INFO((gpu ? std::string() : gpu.error().message()));
  REQUIRE(gpu);
  REQUIRE((*gpu)->kv_blocks() >= Runner::kBlocks);

  Runner run(model, **cpu, **gpu, c);
  Seq a{prompt(37, 1, vocab)}, b{prompt(70, 2, vocab)}, s{prompt(5, 3, vocab)};
  // Step 1: a's first chunk (no logits), b whole (last logits), s whole (all logits).
  auto rows = run.step({{&a, 20, false, true}, {&b, 70}, {&s, 5, true}});
  REQUIRE(rows.size() == 1 + 5);
  b.tokens.push_back(argmax(rows[0]));
  s.tokens.push_back(argmax(rows[5]));
  // Step 2: a's second chunk (all logits) beside two decodes.
  rows = run.step({{&a, 17, true}, {&b, 1}, {&s, 1}});
  REQUIRE(rows.size() == 17 + 2);
  a.tokens.push_back(argmax(rows[16]));
  b.tokens.push_back(argmax(rows[17]));
  s.tokens.push_back(argmax(rows[18]));
  Seq d;
  for (int i = 0; i < 14; ++i) {
    if (i == 4) {
      // Fork s: d shares s's full blocks and gets a copy of its partial last block.
      d = s;
      d.blocks.pop_back();
      const int32_t last = s.blocks.back();
      run.cover(d, d.computed + 1);
      (*cpu)->copy_block(last, d.blocks.back());
      (*gpu)->copy_block(last, d.blocks.back());
      d.tokens.back() = static_cast<TokenId>((d.tokens.back() + 1) % vocab);
    }
    std::vector<Runner::Item> items = {{&a, 1}, {&b, 1}, {&s, 1}};
    if (i >= 4) items.push_back({&d, 1});
    rows = run.step(items);
    REQUIRE(rows.size() == items.size());
    for (size_t k = 0; k < items.size(); ++k) items[k].seq->tokens.push_back(argmax(rows[k]));
  }
  // Then b alone: one-row steps (batch 1's paths: the dense GEMV, the fused SwiGLU).
  for (int i = 0; i < 3; ++i) {
    rows = run.step({{&b, 1}});
    REQUIRE(rows.size() == 1);
    b.tokens.push_back(argmax(rows[0]));
  }
  const auto st = cuda::cuda_backend_stats(**gpu);
  std::printf("parity %-28s graphs %-3s%s%s%s%s%s%s%s%s%s rows %3d  max nerr %.2e (limit %.0e)  greedy ties %d mismatches %d  act %s  eager %lld captures %lld replays %lld\n",
              label(c).c_str(), graphs ? "on" : "off", mmq ? " mmq" : "", paths.mmq_narrow ? " narrow" : "", paths.fused_swiglu ? " fused swiglu" : "", paths.fold_norm ? " folded norms" : "", paths.qkv_rope ? " qkv rope" : "", dense_gemv ? " dense gemv" : "", fused_q8 ? " fused q8" : "", paths.kv_type == KvType::bf16 ? " bf16 KV" : "", paths.pdl ? " pdl" : "", run.rows(), run.max_err(), tolerance(c.dtype).logits, run.ties(),
              run.mismatches(), st.bf16 ? "bf16" : "f16", static_cast<long long>(st.eager_steps),
              static_cast<long long>(st.graph_captures), static_cast<long long>(st.graph_replays));
  if (graphs) {
    CHECK(st.graph_captures >= 1);
    CHECK(st.graph_replays >= 10);
  } else {
    CHECK(st.graph_replays == 0);
  }
  CHECK(st.kv_bf16 == (paths.kv_type == KvType::bf16));  // the backend got the cache type
  // The forced paths ran (they fall back silently where they do not apply).
  if (dense_gemv) CHECK(st.dense_gemv_launches > 0);
  if (fused_q8) CHECK(st.fused_q8_launches > 0);
  if (mmq && c.dtype != "q8_0" && c.dtype != "q4_0") CHECK(st.mmq_all_types_launches > 0);
  if (paths.mmq_narrow) CHECK(st.mmq_narrow_launches > 0);
  if (paths.fused_swiglu) CHECK(st.fused_swiglu_launches > 0);
  if (paths.fold_norm) CHECK((st.folded_norm_launches > 0) == st.bf16);  // bf16 models only
  if (paths.qkv_rope) CHECK(st.qkv_rope_launches > 0);
  if (paths.pdl) {
    int major = 0;
    REQUIRE(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess);
    CHECK((st.programmatic_steps > 0) == (major >= 9));
  }
}

}  // namespace

TEST_CASE("the CUDA backend matches the CPU backend on every architecture and weight type", "[model][parity]") {
  std::vector<Case> cases;
  for (const char* arch : {"llama", "qwen2", "mistral"}) {
    for (const char* dtype : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q6_k", "iq4_nl", "iq4_xs"}) cases.push_back({arch, dtype});
  }
  cases.push_back({"llama", "f16", "gguf", "llama3"});
  cases.push_back({"llama", "q4_0", "gguf", "llama3", true});
  cases.push_back({"llama", "q4_k_m"});                         // Q4_K with Q6_K v/down/output parts
  cases.push_back({"qwen2", "q4_k_m", "gguf", "none", true});  // tied: the embedding in Q6_K
  cases.push_back({"mistral", "q5_k_m"});                       // Q5_K with Q6_K parts
  // Rows of 384 values (no multiple of 256): llama.cpp's fallbacks (Q5_0/Q5_1/Q8_0) beside
  // K-quants in one model, head size 96.
  cases.push_back({"llama", "q4_k_m", "gguf", "none", false, 384});
  cases.push_back({"qwen2", "q5_k_m", "gguf", "none", true, 384});
  cases.push_back({"llama", "bf16", "hf"});  // rotate-half layout for llama
  cases.push_back({"qwen2", "f32", "hf"});
  for (const Case& c : cases) {
    SECTION(label(c)) { run_case(c); }
  }
}

TEST_CASE("eager runs (no CUDA graphs) match the CPU backend too", "[model][parity][eager]") {
  for (const Case& c : {Case{"llama", "f16"}, Case{"qwen2", "q8_0"}, Case{"mistral", "q4_k"}}) {
    SECTION(label(c)) { run_case(c, {.graphs = false}); }
  }
}

TEST_CASE("quantised products through the int8 tensor-core MMA match the CPU backend", "[model][parity][mmq]") {
  for (const Case& c : {Case{"llama", "q8_0"}, Case{"qwen2", "q4_0"}, Case{"llama", "q4_0", "gguf", "llama3", true},
                        Case{"mistral", "q4_k"}, Case{"llama", "q4_k_m"}, Case{"qwen2", "q6_k"}, Case{"mistral", "q5_k_m"},
                        Case{"llama", "iq4_nl"}, Case{"qwen2", "iq4_xs"}}) {
    SECTION(label(c)) { run_case(c, {.mmq = true}); }
  }
}

TEST_CASE("dense matrices through our GEMV match the CPU backend", "[model][parity][dense]") {
  // Decode steps of 3-4 sequences (bucket 4) take the GEMV; qwen2 has q/k/v biases.
  for (const Case& c : {Case{"llama", "f16"}, Case{"qwen2", "bf16"}, Case{"mistral", "f32"}, Case{"llama", "bf16", "hf"}}) {
    SECTION(label(c)) { run_case(c, {.dense_gemv = true}); }
  }
}

TEST_CASE("norms and SwiGLU that quantise for the int8 products match the CPU backend", "[model][parity][fused_q8]") {
  // Decode steps through the int8 GEMV, prompts of 5-70 rows through the MMA (Q4_0, Q8_0) or
  // dequantise + cuBLAS (Q6_K parts), all reading the fused quantisation where it applies.
  for (const Case& c : {Case{"llama", "q4_0"}, Case{"qwen2", "q8_0"}, Case{"mistral", "q4_k_m"}, Case{"llama", "q4_k_m", "gguf", "none", false, 384}}) {
    SECTION(label(c)) { run_case(c, {.fused_q8 = true}); }
  }
}

TEST_CASE("the int8 MMA in 16-row tiles matches the CPU backend", "[model][parity][mmq_narrow]") {
  // Decode steps (bucket 4) and prompt chunks of up to 16 rows through the narrow tiles, longer
  // chunks through the 64-row ones; every weight type the MMA takes.
  for (const Case& c : {Case{"llama", "q4_0"}, Case{"qwen2", "q8_0"}, Case{"mistral", "q4_k_m"}, Case{"llama", "q5_k_m"},
                        Case{"qwen2", "iq4_xs"}, Case{"llama", "iq4_nl"}}) {
    SECTION(label(c)) { run_case(c, {.mmq = true, .mmq_narrow = true}); }
  }
}

TEST_CASE("decode kernels launched programmatically match the CPU backend", "[model][parity][pdl]") {
  // Each kernel of a decode step starts while the one before drains and loads weights, block
  // tables and RoPE angles before waiting for it: norms, RoPE + cache write, decode attention
  // and its merge, the int8 GEMV and quantiser, our dense
  // GEMV, SwiGLU, argmax; qwen2 adds the q/k/v biases.
  SECTION("llama/gguf/bf16, dense GEMV") { run_case(Case{"llama", "bf16"}, {.dense_gemv = true, .pdl = true}); }
  SECTION("qwen2/gguf/f16") { run_case(Case{"qwen2", "f16"}, {.pdl = true}); }
  SECTION("llama/gguf/q4_k_m") { run_case(Case{"llama", "q4_k_m"}, {.pdl = true}); }
  SECTION("mistral/gguf/q4_0, bf16 KV") { run_case(Case{"mistral", "q4_0"}, {.pdl = true, .kv_type = KvType::bf16}); }
  SECTION("qwen2/gguf/q8_0/h384") { run_case(Case{"qwen2", "q8_0", "gguf", "none", false, 384}, {.pdl = true}); }
}

TEST_CASE("one row's gate/up product and SwiGLU in one launch match the CPU backend", "[model][parity][fused_swiglu]") {
  // The one-row steps at the end of the scenario; qwen2 ties its embeddings.
  for (const Case& c : {Case{"llama", "bf16"}, Case{"qwen2", "f16", "gguf", "none", true}, Case{"llama", "bf16", "hf"}}) {
    SECTION(label(c)) { run_case(c, {.fused_swiglu = true}); }
  }
}

TEST_CASE("one row's norms folded into its GEMVs and RoPE into its q/k/v product match the CPU backend",
          "[model][parity][fold_norm][qkv_rope]") {
  // The one-row steps at the end of the scenario. Folded norms: wo and down add to the residual
  // stream and write the next norm's inputs, qkv, gate/up and the output read them. RoPE and
  // the cache write in the q/k/v product: interleaved pairs (llama GGUF), rotate-half (qwen2,
  // llama HF), llama3 frequencies, q/k/v biases (qwen2). Together with the fused SwiGLU and
  // programmatic launch, as batch 1 would run with all of them on; tied embeddings. An f16
  // model keeps its norm kernels (x · g could overflow f16).
  SECTION("llama/gguf/bf16, folded norms") { run_case(Case{"llama", "bf16"}, {.fold_norm = true}); }
  SECTION("llama/gguf/bf16, all one-row fusions, pdl") {
    run_case(Case{"llama", "bf16"}, {.fused_swiglu = true, .fold_norm = true, .qkv_rope = true, .pdl = true});
  }
  SECTION("qwen2/gguf/bf16/tied, all one-row fusions") {
    run_case(Case{"qwen2", "bf16", "gguf", "none", true}, {.fused_swiglu = true, .fold_norm = true, .qkv_rope = true});
  }
  SECTION("llama/hf/bf16, folded norms and qkv rope") { run_case(Case{"llama", "bf16", "hf"}, {.fold_norm = true, .qkv_rope = true}); }
  SECTION("llama/gguf/f16/rope-llama3, qkv rope") { run_case(Case{"llama", "f16", "gguf", "llama3"}, {.qkv_rope = true}); }
  SECTION("mistral/gguf/f16, folded norms asked for") { run_case(Case{"mistral", "f16"}, {.fold_norm = true}); }
}

TEST_CASE("a bf16 KV cache on the GPU matches the CPU backend's", "[model][parity][kv_bf16]") {
  // Decode attention, prefill attention (bf16 Q and probabilities on the tensor cores), the
  // fused RoPE + cache write and block copies, all reading and writing bf16 K and V.
  for (const Case& c : {Case{"llama", "f16"}, Case{"qwen2", "bf16"}, Case{"mistral", "q4_0"}}) {
    SECTION(label(c)) { run_case(c, {.kv_type = KvType::bf16}); }
  }
}

TEST_CASE("loading onto the GPU fails cleanly", "[model][errors]") {
  TempDir dir;
  TestModelSpec spec;
  spec.out = dir / "m.gguf";
  REQUIRE(create_test_model(spec));
  auto model = load_model(spec.out);
  REQUIRE(model);
  // No memory left for the KV cache: resource_exhausted naming the model.
  auto none = make_cuda_backend(**model, 0, 16, 0.0, KvType::f16);
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == StatusCode::resource_exhausted);
  CHECK_THAT(none.error().message(), Catch::Contains(spec.out));
  // A device that does not exist.
  auto missing = make_cuda_backend(**model, 999, 16, 0.5, KvType::f16);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::unavailable);
  // Encoders stay on the CPU.
  TestModelSpec bert;
  bert.arch = "bert";
  bert.out = dir / "bert.gguf";
  REQUIRE(create_test_model(bert));
  auto enc = load_model(bert.out);
  REQUIRE(enc);
  auto refused = make_cuda_backend(**enc, 0, 16, 0.5, KvType::f16);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::unimplemented);
}

TEST_CASE("the engine serves requests end to end on the GPU", "[model][engine]") {
  TempDir dir;
  Case c{"llama", "f16"};
  const std::string path = dir / "m.gguf";
  REQUIRE(create_test_model(spec_for(c, path)));
  std::map<std::string, std::vector<std::vector<TokenId>>> outputs;
  for (const char* device : {"cpu", "cuda:0"}) {
    auto model = load_model(path);
    REQUIRE(model);
    EngineConfig cfg;
    cfg.device = device;
    cfg.threads = 2;
    cfg.kv_cache_bytes = int64_t{64} << 20;
    cfg.gpu_memory_fraction = 0.02;
    cfg.max_batch_tokens = 48;  // prompts are prefilled in several chunks
    auto core = EngineCore::create(std::move(*model), cfg);
    INFO((core ? std::string() : core.error().message()));
    REQUIRE(core);
    CHECK((*core)->backend_name() == device);
    auto& outs = outputs[device];
    outs.resize(5);
    const auto shared = prompt(40, 9, 512);
    for (int r = 0; r < 5; ++r) {
      GenerationRequest req;
      req.id = "r" + std::to_string(r);
      req.prompt = shared;  // a shared prefix: prefix-cache hits and copy-on-write
      const auto tail = prompt(3 + r, 20 + static_cast<uint64_t>(r), 512);
      req.prompt.insert(req.prompt.end(), tail.begin(), tail.end());
      req.sampling.temperature = 0;
      req.sampling.max_tokens = 12;
      req.sampling.ignore_eos = true;
      req.on_event = [&outs, r](TokenEvent&& e) { outs[static_cast<size_t>(r)].insert(outs[static_cast<size_t>(r)].end(), e.tokens.begin(), e.tokens.end()); };
      REQUIRE((*core)->add(std::move(req)));
    }
    while ((*core)->has_work()) (*core)->step();
    CHECK((*core)->live_sequences() == 0);
  }
  int same_first = 0, identical = 0;
  for (int r = 0; r < 5; ++r) {
    CHECK(outputs["cuda:0"][r].size() == 12);
    same_first += !outputs["cpu"][r].empty() && !outputs["cuda:0"][r].empty() && outputs["cpu"][r][0] == outputs["cuda:0"][r][0];
    identical += outputs["cpu"][r] == outputs["cuda:0"][r];
  }
  std::printf("engine on cuda:0 vs cpu: %d of 5 greedy completions identical, %d of 5 first tokens\n", identical, same_first);
  // First tokens come from prefill alone; a difference there is a bug, not drift.
  CHECK(same_first == 5);
}

TEST_CASE("sampling on the device gives the host sampler's tokens in the engine", "[model][engine][sampling]") {
  // The same GPU logits sampled on the host (LLMP_CUDA_DEVICE_SAMPLING=0) and on the device:
  // seeded requests with every sampling parameter must produce the same tokens and logprobs.
  TempDir dir;
  Case c{"llama", "f16"};
  const std::string path = dir / "m.gguf";
  REQUIRE(create_test_model(spec_for(c, path)));
  struct Out {
    std::vector<TokenId> tokens;
    std::vector<float> logprobs;
    std::vector<TokenId> first_top;
  };
  std::map<int, std::vector<Out>> runs;
  for (int device_sampling : {0, 1}) {
    ::setenv("LLMP_CUDA_DEVICE_SAMPLING", device_sampling ? "1" : "0", 1);
    auto model = load_model(path);
    REQUIRE(model);
    EngineConfig cfg;
    cfg.device = "cuda:0";
    cfg.gpu_memory_fraction = 0.02;
    auto core = EngineCore::create(std::move(*model), cfg);
    ::unsetenv("LLMP_CUDA_DEVICE_SAMPLING");
    REQUIRE(core);
    auto& outs = runs[device_sampling];
    outs.resize(8);
    for (int r = 0; r < 8; ++r) {
      GenerationRequest req;
      req.id = "s" + std::to_string(r);
      req.prompt = prompt(12 + r, 50 + static_cast<uint64_t>(r), 512);
      SamplingParams& p = req.sampling;
      p.seed = 1000 + static_cast<uint64_t>(r);
      p.temperature = r == 0 ? 0.0 : 0.7 + 0.1 * r;
      p.max_tokens = 16;
      p.ignore_eos = true;
      p.logprobs = true;
      p.top_logprobs = r % 4;
      if (r % 2 == 1) p.top_k = 20;
      if (r % 3 == 1) p.top_p = 0.8;
      if (r == 4 || r == 7) p.min_p = 0.1;
      if (r == 5 || r == 7) {
        p.repetition_penalty = 1.2;
        p.presence_penalty = 0.4;
        p.frequency_penalty = 0.3;
      }
      if (r == 6) p.logit_bias = {{17, 3.0f}, {42, -100.0f}};
      req.on_event = [&outs, r](TokenEvent&& e) {
        Out& o = outs[static_cast<size_t>(r)];
        o.tokens.insert(o.tokens.end(), e.tokens.begin(), e.tokens.end());
        for (const auto& lp : e.logprobs) {
          o.logprobs.push_back(lp.logprob);
          if (o.first_top.empty()) {
            for (const auto& [id, _] : lp.top) o.first_top.push_back(id);
          }
        }
      };
      REQUIRE((*core)->add(std::move(req)));
    }
    while ((*core)->has_work()) (*core)->step();
  }
  int identical = 0;
  for (size_t r = 0; r < 8; ++r) {
    const Out &host = runs[0][r], &dev = runs[1][r];
    INFO("request " << r);
    CHECK(dev.tokens.size() == 16);
    CHECK(dev.logprobs.size() == dev.tokens.size());
    CHECK(dev.first_top == host.first_top);
    if (dev.tokens == host.tokens) {
      ++identical;
      for (size_t i = 0; i < dev.logprobs.size() && i < host.logprobs.size(); ++i) CHECK(std::abs(dev.logprobs[i] - host.logprobs[i]) < 1e-3);
    }
  }
  std::printf("device vs host sampling: %d of 8 seeded completions identical\n", identical);
  CHECK(identical >= 7);  // one may part at a rounding edge of the kept set
}
