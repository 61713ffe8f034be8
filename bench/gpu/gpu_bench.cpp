// Our side of bench/gpu/run.sh: decode and prefill throughput of the CUDA backend, time to
// first token under load through the real scheduler, the device's copy bandwidth and the
// decode roofline it implies. Prints a table and one JSON line per measurement.
//
//   gpu_bench create --shape 1b|8b --dtype bf16|q4_0|... --out PATH   (Llama-3.2-1B / 3.1-8B shapes, random weights)
//   gpu_bench bandwidth
//   gpu_bench run MODEL [--batches 1,8,64,256] [--ctx 256] [--steps 32] [--prefill 2048] [--ttft-prompt 512]
//                       [--ttft-load 0,32] [--host-steps 8] [--kv-dtype f16|bf16] [--label NAME] [--gpu-fraction 0.9]
//   gpu_bench profile MODEL [--batch 1] [--ctx 256] [--steps 20] [--label NAME] [--gpu-fraction 0.9]
//       (CUPTI: each kernel's device time per decode step, and the device's idle time between them)
//   gpu_bench soak MODEL [--requests 10000] [--concurrency 64] [--max-tokens 8]
//       (leak check: device memory and host RSS after a warm-up and after all requests)
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifdef LLMP_HAVE_CUPTI
#include "kernel_trace.h"
#endif
#include "backend/cuda/cuda_backend.h"
#include "backend/decoder_backend.h"
#include "kv_cache/kv_storage.h"
#include "llmp/engine/test_model.h"
#include "memory_bandwidth.cuh"
#include "model/loaded_model.h"
#include "runtime/engine_core.h"
#include "sampling/sampler.h"

using namespace llmp;
using namespace llmp::engine;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(std::atoll(item.c_str()));
  }
  return out;
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    fmt::print(stderr, "gpu_bench: {}: {}\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Device-to-device copy bandwidth (bytes read + bytes written per second), the number the
// decode roofline divides by.
double measure_bandwidth(double* gib_out = nullptr) {
  const size_t bytes = size_t{1} << 30;
  void *src = nullptr, *dst = nullptr;
  check(cudaMalloc(&src, bytes), "cudaMalloc");
  check(cudaMalloc(&dst, bytes), "cudaMalloc");
  check(cudaMemset(src, 1, bytes), "cudaMemset");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  const size_t n = bytes / 16;
  for (int i = 0; i < 3; ++i) check(kernels::launch_copy_vec16(static_cast<float4*>(src), static_cast<float4*>(dst), n, prop.multiProcessorCount, nullptr), "copy");
  const int reps = 20;
  check(cudaEventRecord(a), "record");
  for (int i = 0; i < reps; ++i) check(kernels::launch_copy_vec16(static_cast<float4*>(src), static_cast<float4*>(dst), n, prop.multiProcessorCount, nullptr), "copy");
  check(cudaEventRecord(b), "record");
  check(cudaEventSynchronize(b), "sync");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, a, b), "elapsed");
  cudaFree(src);
  cudaFree(dst);
  if (gib_out) *gib_out = static_cast<double>(bytes) / (1 << 30);
  return 2.0 * static_cast<double>(bytes) * reps / (ms / 1000.0);
}

// Device -> pinned host copy rate for logits-sized transfers (what the backend pays per step:
// its logits buffer is pinned).
double measure_d2h(size_t bytes) {
  void *d = nullptr, *h = nullptr;
  check(cudaMalloc(&d, bytes), "cudaMalloc");
  check(cudaMallocHost(&h, bytes), "cudaMallocHost");
  check(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost), "warm");
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) check(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost), "d2h");
  const double s = seconds_since(t0) / 5;
  cudaFree(d);
  cudaFreeHost(h);
  return static_cast<double>(bytes) / s;
}

// Bytes a decode step reads from the weights: every matrix but the embedding table (only
// gathered), as stored on the device (f32 files become 16-bit).
int64_t weight_bytes_per_step(const LoadedModel& m) {
  auto bytes = [](const Tensor* t) {
    if (!t) return int64_t{0};
    return t->dtype == DType::f32 ? t->numel() * 2 : static_cast<int64_t>(t->bytes);
  };
  int64_t total = bytes(m.weights.output);
  for (const auto& l : m.weights.layers) {
    for (const Tensor* t : {l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_up, l.w_down}) total += bytes(t);
  }
  return total;
}

class Blocks {
 public:
  explicit Blocks(int64_t n) : n_(n) {}
  bool take(std::vector<int32_t>& table, int64_t positions, int64_t bs) {
    while (static_cast<int64_t>(table.size()) * bs < positions) {
      if (next_ >= n_) return false;
      table.push_back(static_cast<int32_t>(next_++));
    }
    return true;
  }
  void reset() { next_ = 0; }

 private:
  int64_t n_, next_ = 0;
};

std::vector<TokenId> tokens_for(int64_t seq, int64_t n, int64_t vocab) {
  std::vector<TokenId> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<TokenId>((i * 7919 + seq * 104729 + 13) % (vocab - 300)));
  return t;
}

// B sequences with `ctx` cached tokens each (prefilled in pieces of about 2048 tokens), then
// stepped one token per sequence: next() is one decode step's batch.
class DecodeBatch {
 public:
  DecodeBatch() = default;
  DecodeBatch(const DecodeBatch&) = delete;  // batch_ points into toks_ and tables_
  DecodeBatch& operator=(const DecodeBatch&) = delete;

  //! False when the KV cache has no room for B sequences of ctx + extra positions.
  bool prepare(DecoderBackend& b, Blocks& blocks, int64_t B, int64_t ctx, int64_t extra, int64_t vocab, int64_t bs) {
    blocks.reset();
    toks_.assign(static_cast<size_t>(B), {});
    tables_.assign(static_cast<size_t>(B), {});
    for (int64_t s = 0; s < B; ++s) {
      toks_[s] = tokens_for(s, ctx + extra, vocab);
      if (!blocks.take(tables_[s], ctx + extra, bs)) return false;
    }
    int64_t in_batch = 0;
    for (int64_t s = 0; s < B; ++s) {
      batch_.push_back({std::span<const TokenId>(toks_[s].data(), static_cast<size_t>(ctx)), 0, tables_[s], false, false});
      in_batch += ctx;
      if (in_batch >= 2048 || s + 1 == B) {
        b.forward(batch_);
        batch_.clear();
        in_batch = 0;
      }
    }
    pos_ = ctx;
    return true;
  }

  //! The next token of every sequence, at the next position.
  std::span<const SequenceChunk> next() {
    if (toks_.empty() || pos_ >= static_cast<int64_t>(toks_.front().size())) {
      fmt::print(stderr, "gpu_bench: a decode batch ran past the positions it reserved\n");
      std::exit(1);
    }
    batch_.clear();
    for (size_t s = 0; s < toks_.size(); ++s) {
      batch_.push_back({std::span<const TokenId>(toks_[s].data() + pos_, 1), pos_, tables_[s], false, false});
    }
    ++pos_;
    return batch_;
  }

  int64_t position() const { return pos_; }

 private:
  std::vector<std::vector<TokenId>> toks_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<SequenceChunk> batch_;
  int64_t pos_ = 0;
};

int cmd_create(int argc, char** argv) {
  TestModelSpec s;
  std::string shape = "1b";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--shape") shape = v;
    else if (f == "--dtype") s.dtype = v;
    else if (f == "--out") s.out = v;
  }
  s.arch = "llama";
  s.vocab = 128256;
  s.context = 8192;
  if (shape == "1b") {
    s.hidden = 2048, s.layers = 16, s.heads = 32, s.kv_heads = 8, s.ffn = 8192;
    s.tied_embeddings = true;  // as Llama-3.2-1B
  } else if (shape == "8b") {
    s.hidden = 4096, s.layers = 32, s.heads = 32, s.kv_heads = 8, s.ffn = 14336;
  } else if (shape == "tiny") {
    s.hidden = 256, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.ffn = 512, s.vocab = 4096;
  } else {
    fmt::print(stderr, "--shape must be 1b, 8b or tiny\n");
    return 2;
  }
  const auto t0 = Clock::now();
  if (auto r = create_test_model(s); !r) {
    fmt::print(stderr, "{}\n", r.error().message());
    return 1;
  }
  fmt::print("created {} ({} {}) in {:.1f} s\n", s.out, shape, s.dtype, seconds_since(t0));
  return 0;
}

struct RunOptions {
  std::vector<int64_t> batches = {1, 8, 64, 256};
  int64_t ctx = 256, steps = 32, prefill = 2048, ttft_prompt = 512;
  int64_t host_steps = 8;  // steps sampled on the host for comparison (0: none)
  std::string kv_dtype = "f16";  // the KV cache's element type: f16 or bf16
  std::vector<int64_t> ttft_load = {0, 32};
  double fraction = 0.9;
  std::string label;
};

bool have_gpu() {
  int device_count = 0;
  if (cudaGetDeviceCount(&device_count) != cudaSuccess || device_count == 0) {
    fmt::print("SKIPPED: no usable CUDA device\n");
    return false;
  }
  return true;
}

// A model file on cuda:0 through the CUDA backend (the backend reads the model: it lives as long).
struct OnGpu {
  std::unique_ptr<LoadedModel> model;
  std::unique_ptr<DecoderBackend> backend;
  double load_seconds = 0;
};

std::optional<OnGpu> open_on_gpu(const std::string& path, int64_t block_size, double fraction, KvType kv_type = KvType::f16) {
  const auto t0 = Clock::now();
  auto model = load_model(path);
  if (!model) {
    fmt::print(stderr, "{}\n", model.error().message());
    return std::nullopt;
  }
  auto backend = make_cuda_backend(**model, 0, block_size, fraction, kv_type);
  if (!backend) {
    fmt::print(stderr, "{}\n", backend.error().message());
    return std::nullopt;
  }
  return OnGpu{std::move(*model), std::move(*backend), seconds_since(t0)};
}

int cmd_run(const std::string& path, const RunOptions& o) {
  const std::string label = o.label.empty() ? path : o.label;
  if (!have_gpu()) return 77;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const double bw = measure_bandwidth();
  const int64_t bs = 16;
  const std::optional<KvType> kv_type = parse_kv_type(o.kv_dtype);
  if (!kv_type) {
    fmt::print(stderr, "--kv-dtype must be f16 or bf16\n");
    return 2;
  }
  auto gpu = open_on_gpu(path, bs, o.fraction, *kv_type);
  if (!gpu) return 1;
  const LoadedModel& m = *gpu->model;
  const ModelConfig& c = m.config;
  const double load_s = gpu->load_seconds;
  DecoderBackend& b = *gpu->backend;
  const auto st = cuda::cuda_backend_stats(b);
  const int64_t w_step = weight_bytes_per_step(m);
  const int64_t kv_per_pos = 2 * c.n_layers * c.n_kv_heads * c.head_dim * 2;
  fmt::print("\n## {} on {} ({} SMs)\n\nload {:.1f} s; weights {:.2f} GiB on the GPU ({} activations); KV cache {:.1f} GiB, {} blocks of {}\n",
             label, prop.name, prop.multiProcessorCount, load_s, static_cast<double>(st.weight_bytes) / (1 << 30),
             st.bf16 ? "bf16" : "f16", static_cast<double>(st.kv_bytes) / (1 << 30), b.kv_blocks(), bs);
  fmt::print("device copy bandwidth {:.0f} GB/s (read + write); weight bytes per decode step {:.3f} GB\n\n", bw / 1e9, w_step / 1e9);
  fmt::print("{{\"bench\":\"gpu_bandwidth\",\"device\":\"{}\",\"copy_gbps\":{:.1f}}}\n", prop.name, bw / 1e9);

  Blocks blocks(b.kv_blocks());

  // Decode: B sequences of ctx tokens, prefilled, then timed single-token steps (the first
  // three warm up: eager, capture, replay).
  fmt::print("| model | batch | ctx | ms/step | tokens/s | roofline tokens/s | of roofline | logits D2H ms/step |\n");
  fmt::print("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (int64_t B : o.batches) {
    DecodeBatch db;
    // Positions for the raw steps and the two sampled runs after them.
    if (!db.prepare(b, blocks, B, o.ctx, 3 * (o.steps + 3) + 4, c.vocab_size, bs)) {
      fmt::print("| {} | {} | {} | (KV cache too small) | | | | |\n", label, B, o.ctx);
      continue;
    }
    auto step = [&] { b.forward(db.next()); };
    for (int i = 0; i < 3; ++i) step();
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < o.steps; ++i) step();
    const double sec = seconds_since(t0);
    const double ms = sec * 1000 / static_cast<double>(o.steps);
    const double tps = static_cast<double>(B * o.steps) / sec;
    const double bytes_step = static_cast<double>(w_step) + static_cast<double>(B) * static_cast<double>(db.position()) * kv_per_pos;
    const double roof = static_cast<double>(B) * bw / bytes_step;
    const double d2h = static_cast<double>(B * c.vocab_size * 4) / measure_d2h(static_cast<size_t>(B * c.vocab_size * 4)) * 1000;
    fmt::print("| {} | {} | {} | {:.2f} | {:.1f} | {:.1f} | {:.0f}% | {:.2f} |\n", label, B, o.ctx, ms, tps, roof, 100 * tps / roof, d2h);
    fmt::print("{{\"bench\":\"gpu_decode\",\"model\":\"{}\",\"batch\":{},\"ctx\":{},\"ms_per_step\":{:.3f},\"tokens_per_s\":{:.1f},"
               "\"roofline_tokens_per_s\":{:.1f},\"logits_d2h_ms\":{:.3f}}}\n",
               label, B, o.ctx, ms, tps, roof, d2h);

    // The same steps sampled (T 0.8, top-p 0.95): on the device, where only ids cross, and on
    // the host from the copied logits with the shared Sampler (one thread, as EngineCore);
    // then greedy on the device, the whole step an engine runs at temperature 0.
    SamplingParams sp;
    sp.temperature = 0.8;
    sp.top_p = 0.95;
    SamplingParams greedy;
    greedy.temperature = 0;
    std::vector<std::unique_ptr<Sampler>> samplers;
    for (int64_t s = 0; s < B; ++s) samplers.push_back(std::make_unique<Sampler>(sp, static_cast<uint64_t>(s)));
    std::vector<RowSampling> rows(static_cast<size_t>(B));
    std::vector<TokenId> ids(static_cast<size_t>(B));
    std::vector<TokenLogprob> lps(static_cast<size_t>(B));
    auto run_steps = [&](bool on_device, int64_t n_steps, const SamplingParams* params = nullptr) {
      for (int64_t i = 0; i < n_steps; ++i) {
        const std::span<const SequenceChunk> batch = db.next();
        if (on_device) {
          for (int64_t s = 0; s < B; ++s) rows[s] = RowSampling{params ? params : &sp, samplers[s]->next_uniform(), {}, {}, {}, {}, false};
          b.forward_sampled(batch, rows, {}, ids, lps);
        } else {
          const std::span<float> logits = b.forward(batch);
          for (int64_t s = 0; s < B; ++s) {
            samplers[s]->sample(logits.subspan(static_cast<size_t>(s * c.vocab_size), static_cast<size_t>(c.vocab_size)), nullptr,
                                false, {});
          }
        }
      }
    };
    double dev_ms = 0, greedy_ms = 0;
    if (b.samples_on_device()) {
      run_steps(true, 3);  // warm-up
      const auto t_dev = Clock::now();
      run_steps(true, o.steps);
      dev_ms = seconds_since(t_dev) * 1000 / static_cast<double>(o.steps);
      run_steps(true, 3, &greedy);
      const auto t_greedy = Clock::now();
      run_steps(true, o.steps, &greedy);
      greedy_ms = seconds_since(t_greedy) * 1000 / static_cast<double>(o.steps);
    }
    const int64_t host_steps = std::min(o.steps, o.host_steps);
    double host_ms = 0;
    if (host_steps > 0) {
      run_steps(false, 2);
      const auto t_host = Clock::now();
      run_steps(false, host_steps);
      host_ms = seconds_since(t_host) * 1000 / static_cast<double>(host_steps);
    }
    fmt::print("sampling at batch {}: {:.2f} ms/step on the device ({:.2f} greedy, {:.1f} tokens/s), {:.2f} ms/step on the host "
               "(forward alone {:.2f})\n",
               B, dev_ms, greedy_ms, greedy_ms > 0 ? 1000.0 * static_cast<double>(B) / greedy_ms : 0.0, host_ms, ms);
    fmt::print("{{\"bench\":\"gpu_sampling\",\"model\":\"{}\",\"batch\":{},\"forward_ms_per_step\":{:.3f},\"device_sampled_ms_per_step\":{:.3f},"
               "\"device_greedy_ms_per_step\":{:.3f},\"host_sampled_ms_per_step\":{:.3f}}}\n",
               label, B, ms, dev_ms, greedy_ms, host_ms);
  }

  // Prefill: one prompt of `prefill` tokens, logits for its last token only (--prefill 0: none).
  if (o.prefill > 0) {
    blocks.reset();
    const auto prompt = tokens_for(7, o.prefill, c.vocab_size);
    std::vector<int32_t> table;
    if (blocks.take(table, o.prefill, bs)) {
      SequenceChunk chunk{std::span<const TokenId>(prompt), 0, table, false, false};
      b.forward(std::span<const SequenceChunk>(&chunk, 1));  // warm-up
      const int reps = 3;
      const auto t0 = Clock::now();
      for (int i = 0; i < reps; ++i) b.forward(std::span<const SequenceChunk>(&chunk, 1));
      const double sec = seconds_since(t0) / reps;
      fmt::print("\nprefill {} tokens: {:.1f} ms, {:.0f} tokens/s\n", o.prefill, sec * 1000, static_cast<double>(o.prefill) / sec);
      fmt::print("{{\"bench\":\"gpu_prefill\",\"model\":\"{}\",\"tokens\":{},\"ms\":{:.2f},\"tokens_per_s\":{:.1f}}}\n", label, o.prefill,
                 sec * 1000, static_cast<double>(o.prefill) / sec);
    }
  }
  gpu->backend.reset();  // its device memory back before the engines below load the model again

  // TTFT under load, through the scheduler (chunked prefill beside running decodes, the host
  // sampler, logits copies): `load` requests are decoding when the probe arrives.
  for (int64_t load : o.ttft_load) {
    auto mm = load_model(path);
    if (!mm) return 1;
    EngineConfig cfg;
    cfg.device = "cuda:0";
    cfg.gpu_memory_fraction = o.fraction;
    cfg.kv_cache_dtype = o.kv_dtype;
    cfg.max_batch_tokens = 512;
    cfg.max_seqs = 256;
    auto core = EngineCore::create(std::move(*mm), cfg);
    if (!core) {
      fmt::print(stderr, "{}\n", core.error().message());
      return 1;
    }
    int64_t started = 0;
    for (int64_t r = 0; r < load; ++r) {
      GenerationRequest req;
      req.id = fmt::format("load{}", r);
      req.prompt = tokens_for(100 + r, 128, c.vocab_size);
      req.sampling.temperature = 0;
      req.sampling.max_tokens = 4096;
      req.sampling.ignore_eos = true;
      auto first = std::make_shared<bool>(true);
      req.on_event = [&started, first](TokenEvent&& e) {
        if (*first && !e.tokens.empty()) {
          *first = false;
          ++started;
        }
      };
      if (auto ok = (*core)->add(std::move(req)); !ok) {
        fmt::print(stderr, "{}\n", ok.error().message());
        return 1;
      }
    }
    while (started < load) (*core)->step();
    for (int i = 0; i < 4; ++i) (*core)->step();  // steady decoding
    GenerationRequest probe;
    probe.id = "probe";
    probe.prompt = tokens_for(999, o.ttft_prompt, c.vocab_size);
    probe.sampling.temperature = 0;
    probe.sampling.max_tokens = 1;
    Clock::time_point first{};
    probe.on_event = [&first](TokenEvent&& e) {
      if (first == Clock::time_point{} && !e.tokens.empty()) first = Clock::now();
    };
    const auto t0 = Clock::now();
    if (auto ok = (*core)->add(std::move(probe)); !ok) {
      fmt::print(stderr, "{}\n", ok.error().message());
      return 1;
    }
    while (first == Clock::time_point{}) (*core)->step();
    const double ms = std::chrono::duration<double, std::milli>(first - t0).count();
    fmt::print("TTFT of a {}-token prompt with {} sequences decoding: {:.1f} ms\n", o.ttft_prompt, load, ms);
    fmt::print("{{\"bench\":\"gpu_ttft\",\"model\":\"{}\",\"prompt\":{},\"load\":{},\"ttft_ms\":{:.2f}}}\n", label, o.ttft_prompt, load, ms);
    (*core)->cancel_all();
  }
  return 0;
}


// Resident set size of this process in bytes (/proc/self/statm: pages).
int64_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(resident) * 4096;
}

// Many short requests through the real scheduler and the device sampler (mixed sampling
// parameters, some with logprobs, some cancelled), with `concurrency` in flight: device
// memory in use and host RSS must not grow between a warm-up and the end.
int cmd_soak(const std::string& path, int64_t requests, int64_t concurrency, int64_t max_tokens) {
  if (!have_gpu()) return 77;
  auto mm = load_model(path);
  if (!mm) {
    fmt::print(stderr, "{}\n", mm.error().message());
    return 1;
  }
  const int64_t vocab = (*mm)->config.vocab_size;
  EngineConfig cfg;
  cfg.device = "cuda:0";
  cfg.gpu_memory_fraction = 0.2;
  cfg.max_batch_tokens = 2048;
  cfg.max_seqs = concurrency;
  auto core = EngineCore::create(std::move(*mm), cfg);
  if (!core) {
    fmt::print(stderr, "{}\n", core.error().message());
    return 1;
  }
  EngineCore& e = **core;
  int64_t submitted = 0, finished = 0, errors = 0, tokens = 0;
  auto submit = [&](int64_t i) {
    GenerationRequest req;
    req.id = fmt::format("soak{}", i);
    req.prompt = tokens_for(i, 16 + i % 48, vocab);
    SamplingParams& p = req.sampling;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    p.seed = static_cast<uint64_t>(i);
    p.temperature = i % 4 == 0 ? 0.0 : 0.8;
    if (i % 3 == 0) p.top_k = 40;
    if (i % 5 == 0) p.top_p = 0.9;
    if (i % 7 == 0) p.frequency_penalty = 0.5;
    if (i % 11 == 0) {
      p.logprobs = true;
      p.top_logprobs = 5;
    }
    req.on_event = [&](TokenEvent&& ev) {
      tokens += static_cast<int64_t>(ev.tokens.size());
      if (ev.finish) {
        ++finished;
        if (*ev.finish == FinishReason::error) ++errors;
      }
    };
    if (auto ok = e.add(std::move(req)); !ok) {
      fmt::print(stderr, "{}\n", ok.error().message());
      ++errors;
      ++finished;
    }
    ++submitted;
  };
  auto device_used = [] {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    return static_cast<int64_t>(total_b - free_b);
  };
  const int64_t warmup = std::min<int64_t>(requests, 2 * concurrency);
  int64_t dev0 = 0, rss0 = 0;
  const auto t0 = Clock::now();
  while (finished < requests) {
    while (submitted < requests && submitted - finished < concurrency) submit(submitted);
    if (submitted % 97 == 0 && submitted - finished > 1) e.cancel(fmt::format("soak{}", submitted - 1));  // some cancelled mid-way
    e.step();
    if (dev0 == 0 && finished >= warmup) {
      dev0 = device_used();
      rss0 = rss_bytes();
    }
  }
  while (e.has_work()) e.step();
  const double sec = seconds_since(t0);
  const int64_t dev1 = device_used(), rss1 = rss_bytes();
  fmt::print("soak: {} requests ({} tokens, {} errors) in {:.1f} s; device memory in use {} -> {} MiB, host RSS {} -> {} MiB; "
             "live sequences at the end {}\n",
             finished, tokens, errors, sec, dev0 >> 20, dev1 >> 20, rss0 >> 20, rss1 >> 20, e.live_sequences());
  fmt::print("{{\"bench\":\"gpu_soak\",\"requests\":{},\"tokens\":{},\"errors\":{},\"seconds\":{:.2f},\"device_mib_after_warmup\":{},"
             "\"device_mib_end\":{},\"rss_mib_after_warmup\":{},\"rss_mib_end\":{},\"live_sequences\":{}}}\n",
             finished, tokens, errors, sec, dev0 >> 20, dev1 >> 20, rss0 >> 20, rss1 >> 20, e.live_sequences());
  // Device memory must not move at all (every buffer is allocated up front or grown once);
  // host RSS may drift by allocator noise, not by per-request leaks.
  const bool leak = dev1 > dev0 || rss1 - rss0 > (int64_t{64} << 20) || e.live_sequences() != 0;
  return leak ? 1 : 0;
}

#ifdef LLMP_HAVE_CUPTI
std::string json_escaped(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(ch));
      continue;
    }
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

// Where a decode step's time goes: B sequences with ctx cached tokens, `steps` decode steps
// run as the engine runs them (greedy, sampled on the device when the backend can, so only ids
// cross; a CUDA graph per bucket unless LLMP_CUDA_GRAPHS=0), every kernel and copy traced by
// CUPTI. Per step: wall time on the host with the trace on and, after it, off; the time the
// device was busy (the union of kernel and copy intervals) and idle (the rest of the traced
// window: launch latency, host work); the kernels by name.
int cmd_profile(const std::string& path, int64_t B, int64_t ctx, int64_t steps, std::string label, double fraction) {
  if (!have_gpu()) return 77;
  if (label.empty()) label = path;
  if (B < 1) {
    fmt::print(stderr, "gpu_bench profile: --batch must be at least 1\n");
    return 2;
  }
  const double bw = measure_bandwidth();
  const int64_t bs = 16;
  auto gpu = open_on_gpu(path, bs, fraction);
  if (!gpu) return 1;
  DecoderBackend& b = *gpu->backend;
  Blocks blocks(b.kv_blocks());
  DecodeBatch db;
  if (!db.prepare(b, blocks, B, ctx, 2 * steps + 8, gpu->model->config.vocab_size, bs)) {
    fmt::print(stderr, "gpu_bench profile: the KV cache has no room for {} sequences of {} tokens\n", B, ctx);
    return 1;
  }
  SamplingParams greedy;
  greedy.temperature = 0;
  const std::vector<RowSampling> rows(static_cast<size_t>(B), RowSampling{&greedy, 0.5, {}, {}, {}, {}, false});
  std::vector<TokenId> ids(static_cast<size_t>(B));
  std::vector<TokenLogprob> lps(static_cast<size_t>(B));
  const bool on_device = b.samples_on_device();
  auto step = [&] {
    if (on_device) {
      b.forward_sampled(db.next(), rows, {}, ids, lps);
    } else {
      b.forward(db.next());
    }
  };
  // Tracing starts before the warm-up steps, so the graph is captured and instantiated while
  // CUPTI is on (its kernel nodes then report one record each); only what runs after t0 counts.
  bench::KernelTrace trace;
  if (std::string e = trace.start(); !e.empty()) {
    fmt::print(stderr, "gpu_bench profile: {}\n", e);
    return 1;
  }
  for (int i = 0; i < 4; ++i) step();
  const auto before = cuda::cuda_backend_stats(b);
  const uint64_t t0 = bench::KernelTrace::now_ns();
  const auto wall0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) step();  // each step waits for the device at its end
  const double wall_us = seconds_since(wall0) * 1e6 / static_cast<double>(steps);
  const uint64_t t1 = bench::KernelTrace::now_ns();
  const auto after = cuda::cuda_backend_stats(b);
  if (std::string e = trace.stop(); !e.empty()) {
    fmt::print(stderr, "gpu_bench profile: {}\n", e);
    return 1;
  }
  const auto wall_untraced0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  const double untraced_us = seconds_since(wall_untraced0) * 1e6 / static_cast<double>(steps);

  struct ByName {
    int64_t calls = 0;
    double ns = 0;      // start to end, summed
    double own_ns = 0;  // the part no earlier activity covers (see below), summed
  };
  std::map<std::string, ByName> by_name;
  double activity_ns = 0, busy_ns = 0;
  int64_t n = 0;
  uint64_t covered_to = t0;
  for (const bench::DeviceActivity& a : trace.activities()) {
    if (a.start_ns < t0 || a.start_ns > t1) continue;
    ++n;
    ByName& e = by_name[a.name];
    ++e.calls;
    e.ns += static_cast<double>(a.end_ns - a.start_ns);
    activity_ns += static_cast<double>(a.end_ns - a.start_ns);
    // Busy time is the union of intervals (kernels may overlap). What an activity adds to it is
    // its own time: with programmatic launch a kernel starts while the one before runs and
    // waits for it, so its start-to-end time counts the wait; its own time does not.
    const uint64_t from = std::max(a.start_ns, covered_to);
    const double own = a.end_ns > from ? static_cast<double>(a.end_ns - from) : 0.0;
    e.own_ns += own;
    busy_ns += own;
    covered_to = std::max(covered_to, a.end_ns);
  }
  if (n == 0) {
    fmt::print(stderr, "gpu_bench profile: CUPTI reported no kernels\n");
    return 1;
  }
  const double per = 1e-3 / static_cast<double>(steps);  // ns in total -> µs per step
  const double idle_ns = std::max(0.0, static_cast<double>(t1 - t0) - busy_ns);
  const double weights_us = static_cast<double>(weight_bytes_per_step(*gpu->model)) / bw * 1e6;
  const int64_t replays = after.graph_replays - before.graph_replays, eager = after.eager_steps - before.eager_steps;
  fmt::print("\n## profile: {} batch {} ctx {} ({} steps: {} replayed from a graph, {} eager; {})\n\n", label, B, ctx, steps,
             replays, eager, on_device ? "greedy, sampled on the device" : "logits copied to the host");
  fmt::print("per step: wall {:.1f} us traced, {:.1f} us untraced; device busy {:.1f} us and idle {:.1f} us of the traced "
             "window; {:.1f} kernels and copies ({:.1f} us summed); reading the weights once at the copy bandwidth: {:.1f} us\n\n",
             wall_us, untraced_us, busy_ns * per, idle_ns * per, static_cast<double>(n) / static_cast<double>(steps),
             activity_ns * per, weights_us);
  std::vector<std::pair<std::string, ByName>> table(by_name.begin(), by_name.end());
  std::sort(table.begin(), table.end(), [](const auto& x, const auto& y) { return x.second.own_ns > y.second.own_ns; });
  fmt::print("| kernel | calls/step | own us/step | share of busy | us/step start to end | mean us |\n"
             "| --- | --- | --- | --- | --- | --- |\n");
  std::string top;
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& [name, e] = table[i];
    const double calls = static_cast<double>(e.calls) / static_cast<double>(steps);
    if (i < 30) {
      fmt::print("| {} | {:.1f} | {:.1f} | {:.1f}% | {:.1f} | {:.2f} |\n", name.size() > 110 ? name.substr(0, 107) + "..." : name,
                 calls, e.own_ns * per, 100 * e.own_ns / busy_ns, e.ns * per, e.ns / 1e3 / static_cast<double>(e.calls));
    }
    if (i < 40) {
      top += fmt::format("{}{{\"name\":\"{}\",\"calls_per_step\":{:.2f},\"us_per_step\":{:.2f},\"own_us_per_step\":{:.2f}}}",
                         top.empty() ? "" : ",", json_escaped(name), calls, e.ns * per, e.own_ns * per);
    }
  }
  fmt::print("{{\"bench\":\"gpu_profile\",\"model\":\"{}\",\"batch\":{},\"ctx\":{},\"graph_replays\":{},\"eager_steps\":{},"
             "\"sampled_on_device\":{},\"wall_us_per_step\":{:.2f},\"untraced_wall_us_per_step\":{:.2f},"
             "\"busy_us_per_step\":{:.2f},\"idle_us_per_step\":{:.2f},\"activity_us_per_step\":{:.2f},"
             "\"activities_per_step\":{:.1f},\"weights_at_copy_bandwidth_us\":{:.2f},\"top\":[{}]}}\n",
             json_escaped(label), B, ctx, replays, eager, on_device, wall_us, untraced_us, busy_ns * per, idle_ns * per,
             activity_ns * per, static_cast<double>(n) / static_cast<double>(steps), weights_us, top);
  return 0;
}
#endif
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: gpu_bench create|bandwidth|run ... (see the comment at the top of bench/gpu/gpu_bench.cpp)\n");
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "create") return cmd_create(argc, argv);
  if (cmd == "bandwidth") {
    if (!have_gpu()) return 77;
    const double bw = measure_bandwidth();
    fmt::print("device copy bandwidth {:.0f} GB/s\n{{\"bench\":\"gpu_bandwidth\",\"copy_gbps\":{:.1f}}}\n", bw / 1e9, bw / 1e9);
    return 0;
  }
  if (cmd == "run" && argc >= 3) {
    RunOptions o;
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string f = argv[i], v = argv[i + 1];
      if (f == "--batches") o.batches = parse_list(v);
      else if (f == "--ctx") o.ctx = std::atoll(v.c_str());
      else if (f == "--steps") o.steps = std::atoll(v.c_str());
      else if (f == "--prefill") o.prefill = std::atoll(v.c_str());
      else if (f == "--host-steps") o.host_steps = std::max<int64_t>(0, std::atoll(v.c_str()));
      else if (f == "--kv-dtype") o.kv_dtype = v;
      else if (f == "--ttft-prompt") o.ttft_prompt = std::atoll(v.c_str());
      else if (f == "--ttft-load") o.ttft_load = parse_list(v);
      else if (f == "--label") o.label = v;
      else if (f == "--gpu-fraction") o.fraction = std::atof(v.c_str());
    }
    return cmd_run(argv[2], o);
  }
  if (cmd == "soak" && argc >= 3) {
    int64_t requests = 10000, concurrency = 64, max_tokens = 8;
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string f = argv[i], v = argv[i + 1];
      if (f == "--requests") requests = std::atoll(v.c_str());
      else if (f == "--concurrency") concurrency = std::atoll(v.c_str());
      else if (f == "--max-tokens") max_tokens = std::atoll(v.c_str());
    }
    return cmd_soak(argv[2], requests, concurrency, max_tokens);
  }
  if (cmd == "profile" && argc >= 3) {
#ifdef LLMP_HAVE_CUPTI
    int64_t batch = 1, ctx = 256, steps = 20;
    double fraction = 0.9;
    std::string label;
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string f = argv[i], v = argv[i + 1];
      if (f == "--batch") batch = std::atoll(v.c_str());
      else if (f == "--ctx") ctx = std::atoll(v.c_str());
      else if (f == "--steps") steps = std::max<int64_t>(1, std::atoll(v.c_str()));
      else if (f == "--label") label = v;
      else if (f == "--gpu-fraction") fraction = std::atof(v.c_str());
    }
    return cmd_profile(argv[2], batch, ctx, steps, label, fraction);
#else
    fmt::print("SKIPPED: gpu_bench was built without CUPTI\n");
    return 77;
#endif
  }
  fmt::print(stderr, "unknown command {}\n", cmd);
  return 2;
}
