// What a model needs, read from test models without running them, and whether a machine has
// it: the memory budget, GPUs by type, count and free memory, and no CUDA at all.

#include "llmp/registry/spec.h"

#include <catch2/catch.hpp>

#include "llmp/engine/model_facts.h"
#include "llmp/engine/test_model.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::registry;

namespace {

constexpr uint64_t kGiB = 1ull << 30;

engine::ModelFacts facts_of(engine::TestModelSpec spec) {
  auto r = engine::create_test_model(spec);
  INFO((r ? std::string() : r.error().message()));
  REQUIRE(r);
  auto facts = engine::model_facts(spec.out);
  INFO((facts ? std::string() : facts.error().message()));
  REQUIRE(facts);
  return *facts;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

ModelSpec gpu_spec(int count, const std::string& type, uint64_t each) {
  ModelSpec s;
  s.device.kind = "gpu";
  s.device.gpu_count = count;
  s.device.gpu_type = type;
  s.device.gpu_memory_bytes = each;
  return s;
}

engine::CudaDevice gpu(int index, const std::string& name, uint64_t free_gib, uint64_t total_gib) {
  engine::CudaDevice d;
  d.index = index;
  d.name = name;
  d.total_bytes = static_cast<int64_t>(total_gib * kGiB);
  d.free_bytes = static_cast<int64_t>(free_gib * kGiB);
  return d;
}

}  // namespace

TEST_CASE("model facts of a gguf llama count every tensor and the kv cache per token") {
  test::TempDir dir;
  engine::TestModelSpec spec;  // llama: 2 layers, hidden 64, 4 heads (2 kv), ffn 128, vocab 512
  spec.out = dir / "m.gguf";
  const auto f = facts_of(spec);
  // Embedding and output 512 x 64 each, the final norm 64, and per layer: two norms of 64,
  // q and o 64 x 64, k and v 32 x 64 (2 kv heads of 16), gate and up 128 x 64, down 64 x 128.
  const uint64_t per_layer = 2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 128 * 64;
  CHECK(f.parameters == 2 * 512 * 64 + 64 + 2 * per_layer);
  CHECK(f.weight_bytes == 4 * f.parameters);
  CHECK(f.format == "gguf");
  CHECK(f.architecture == "llama");
  CHECK(f.dtype == "f32");
  CHECK(f.context_length == 2048);
  CHECK(f.hidden == 64);
  CHECK(f.layers == 2);
  CHECK(f.vocab_size == 512);
  // K and V, f16, 2 layers x 2 kv heads x 16 dims.
  CHECK(f.kv_bytes_per_token == 2 * 2 * 2 * 16 * 2);
}

TEST_CASE("model facts name the dominant dtype of quantised and folder models") {
  test::TempDir dir;
  engine::TestModelSpec q4;
  q4.dtype = "q4_0";
  q4.out = dir / "q4.gguf";
  const auto fq = facts_of(q4);
  CHECK(fq.dtype == "q4_0");
  CHECK(fq.weight_bytes < 4 * fq.parameters / 4);

  engine::TestModelSpec hf;
  hf.arch = "qwen2";
  hf.format = "hf";
  hf.dtype = "bf16";
  hf.shards = 2;
  hf.out = dir / "qwen";
  const auto fh = facts_of(hf);
  CHECK(fh.format == "safetensors");
  CHECK(fh.architecture == "qwen2");
  CHECK(fh.dtype == "bf16");
  CHECK(fh.context_length == 2048);

  engine::TestModelSpec bert;
  bert.arch = "bert";
  bert.format = "hf";
  bert.out = dir / "bert";
  const auto fb = facts_of(bert);
  CHECK(fb.architecture == "bert");
  CHECK(fb.kv_bytes_per_token == 0);

  auto bare = engine::model_facts(dir / "qwen/model-00001-of-00002.safetensors");
  REQUIRE(bare);
  CHECK(bare->format == "safetensors");
  CHECK(bare->architecture.empty());
  CHECK(bare->dtype == "bf16");
  CHECK(bare->parameters > 0);
}

TEST_CASE("fill_spec derives parameters precision context and memory from the model") {
  test::TempDir dir;
  engine::TestModelSpec spec;
  spec.out = dir / "m.gguf";
  const auto f = facts_of(spec);
  const ModelSpec s = fill_spec({}, f);
  CHECK(s.parameters == f.parameters);
  CHECK(s.precision == "f32");
  CHECK(s.context_length == 2048);
  // Weights, one sequence of KV at the model's context (under the 8192 allowance), a step's
  // scratch (512 tokens of logits and 8 hidden buffers) and the fixed 64 MiB.
  CHECK(s.memory_bytes == f.weight_bytes + 256 * 2048 + 512 * (512 + 8 * 64) * 4 + (64ull << 20));
  CHECK(s.memory_bytes == estimate_memory_bytes(f));
  CHECK(s.device.kind == "cpu");
  CHECK(s.device.gpu_count == 0);

  ModelSpec declared = gpu_spec(2, "H100", 0);
  declared.memory_bytes = 10 * kGiB + 1;
  declared.precision = "fp8";
  declared.max_concurrency = 32;
  declared.expected_tokens_per_second = 1500;
  const ModelSpec g = fill_spec(declared, f);
  CHECK(g.precision == "fp8");
  CHECK(g.memory_bytes == 10 * kGiB + 1);
  CHECK(g.device.gpu_memory_bytes == 5 * kGiB + 1);
  CHECK(g.max_concurrency == 32);
  CHECK(g.expected_tokens_per_second == 1500);
  CHECK(g.parameters == f.parameters);

  CHECK(fill_spec(gpu_spec(0, "", 0), f).device.gpu_count == 1);
}

TEST_CASE("a cpu model fits the memory budget or says how much is left") {
  ModelSpec s;
  s.memory_bytes = static_cast<uint64_t>(6.1 * static_cast<double>(kGiB));
  const engine::DeviceReport devices;
  CHECK(check_fits(s, devices, 8 * kGiB, 1 * kGiB));
  CHECK(check_fits(s, devices, 0, 100 * kGiB));  // no budget set

  auto r = check_fits(s, devices, 8 * kGiB, 6 * kGiB);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::resource_exhausted);
  CHECK(r.error().message() == "needs 6.1 GiB of memory; the model memory budget has 2.0 GiB left of 8.0 GiB");

  auto over = check_fits(s, devices, 8 * kGiB, 9 * kGiB);
  REQUIRE_FALSE(over);
  CHECK(contains(over.error().message(), "has 0.0 GiB left of 8.0 GiB"));
}

TEST_CASE("a gpu spec on a machine without CUDA says there is none and why") {
  engine::DeviceReport devices;
  devices.cuda_built = true;
  devices.cuda_unavailable = "cudaGetDeviceCount: no CUDA-capable device is detected";
  auto r = check_fits(gpu_spec(2, "H100", 40 * kGiB), devices, 0, 0);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::failed_precondition);
  CHECK(r.error().message() ==
        "needs 2 GPUs of type H100 with 40.0 GiB each; this machine has none (no CUDA device: "
        "cudaGetDeviceCount: no CUDA-capable device is detected)");

  engine::DeviceReport cpu_only;
  auto built = check_fits(gpu_spec(1, "", 0), cpu_only, 0, 0);
  REQUIRE_FALSE(built);
  CHECK(built.error().message() ==
        "needs 1 GPU; this machine has none (no CUDA device: this binary was built without CUDA)");

  // The probe of this machine answers too, whatever it finds.
  auto here = check_fits(gpu_spec(1, "", 1), engine::probe_devices(), 0, 0);
  if (engine::probe_devices().cuda.empty()) {
    REQUIRE_FALSE(here);
    CHECK(contains(here.error().message(), "this machine has none"));
  }
}

TEST_CASE("a gpu spec needs the declared type and count and free memory") {
  engine::DeviceReport devices;
  devices.cuda_built = true;
  devices.cuda = {gpu(0, "NVIDIA H100 80GB HBM3", 70, 80), gpu(1, "NVIDIA H100 80GB HBM3", 20, 80),
                  gpu(2, "NVIDIA A100-SXM4-40GB", 39, 40)};

  CHECK(check_fits(gpu_spec(1, "H100", 40 * kGiB), devices, 0, 0));
  CHECK(check_fits(gpu_spec(2, "h100", 10 * kGiB), devices, 0, 0));
  CHECK(check_fits(gpu_spec(3, "", 10 * kGiB), devices, 0, 0));

  auto type = check_fits(gpu_spec(1, "B200", 0), devices, 0, 0);
  REQUIRE_FALSE(type);
  CHECK(type.error().code() == StatusCode::failed_precondition);
  CHECK(contains(type.error().message(),
                 "needs 1 GPU of type B200; this machine has 0 of that type (GPU 0: NVIDIA H100"));

  auto count = check_fits(gpu_spec(3, "H100", 0), devices, 0, 0);
  REQUIRE_FALSE(count);
  CHECK(count.error().code() == StatusCode::failed_precondition);
  CHECK(contains(count.error().message(), "this machine has 2 of that type"));

  auto memory = check_fits(gpu_spec(2, "H100", 40 * kGiB), devices, 0, 0);
  REQUIRE_FALSE(memory);
  CHECK(memory.error().code() == StatusCode::resource_exhausted);
  CHECK(contains(memory.error().message(),
                 "needs 2 GPUs of type H100 with 40.0 GiB each; 1 of the 2 matching GPUs has that much free"));
  CHECK(contains(memory.error().message(), "GPU 1: NVIDIA H100 80GB HBM3, 20.0 GiB free of 80.0 GiB"));

  // Per-GPU memory not declared: memory_bytes spread over the GPUs.
  ModelSpec spread = gpu_spec(2, "H100", 0);
  spread.memory_bytes = 100 * kGiB;
  auto halves = check_fits(spread, devices, 0, 0);
  REQUIRE_FALSE(halves);
  CHECK(contains(halves.error().message(), "with 50.0 GiB each"));
}

TEST_CASE("a bad spec names the field") {
  ModelSpec s;
  s.device.kind = "tpu";
  auto kind = check_spec(s);
  REQUIRE_FALSE(kind);
  CHECK(kind.error().code() == StatusCode::invalid_argument);
  CHECK(contains(kind.error().message(), "spec.device.kind"));

  ModelSpec cpu_with_gpus;
  cpu_with_gpus.device.gpu_count = 2;
  auto mixed = check_spec(cpu_with_gpus);
  REQUIRE_FALSE(mixed);
  CHECK(contains(mixed.error().message(), "spec.device"));

  ModelSpec negative;
  negative.max_concurrency = -1;
  CHECK(contains(check_spec(negative).error().message(), "spec.max_concurrency"));
  CHECK_FALSE(check_fits(s, engine::DeviceReport{}, 0, 0));
}
