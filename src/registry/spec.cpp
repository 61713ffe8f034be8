#include "llmp/registry/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace llmp::registry {
namespace {

// The engine sizes its KV cache from its own budget and caps a sequence's context to what that
// holds, so a model does not need its whole trained context (128k for Llama 3.1: 16 GiB of KV
// at 8B) to load. The estimate reserves one sequence of up to this many positions, enough to
// serve long prompts; a deployment that wants more concurrency declares memory_bytes itself.
constexpr int64_t kKvAllowanceTokens = 8192;
// Scratch for one engine step: max_batch_tokens (512 by default) rows of f32 logits and about
// eight hidden-sized f32 buffers (residual, norms, q/k/v, attention out, ffn halves).
constexpr uint64_t kStepTokens = 512;
constexpr uint64_t kHiddenBuffers = 8;
// Thread pools, tokenizer tables, packed-weight bookkeeping and allocator slack.
constexpr uint64_t kFixedOverheadBytes = 64ull << 20;

std::string gib(uint64_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / static_cast<double>(1ull << 30));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::unexpected<Status> bad_field(std::string_view field, std::string_view what) {
  return error(StatusCode::invalid_argument, fmt::format("{} {}", field, what));
}

std::string describe_gpus(const std::vector<engine::CudaDevice>& gpus) {
  std::string out;
  for (const auto& g : gpus) {
    out += fmt::format("{}GPU {}: {}, {} free of {}", out.empty() ? "" : "; ", g.index, g.name,
                       gib(static_cast<uint64_t>(std::max<int64_t>(g.free_bytes, 0))),
                       gib(static_cast<uint64_t>(std::max<int64_t>(g.total_bytes, 0))));
  }
  return out;
}

}  // namespace

Result<void> check_spec(const ModelSpec& s) {
  const DeviceNeeds& d = s.device;
  if (d.kind != "cpu" && d.kind != "gpu")
    return bad_field("spec.device.kind", fmt::format("must be \"cpu\" or \"gpu\", got '{}'", d.kind));
  if (d.gpu_count < 0) return bad_field("spec.device.gpu_count", "must not be negative");
  if (d.kind == "cpu" && (d.gpu_count != 0 || !d.gpu_type.empty() || d.gpu_memory_bytes != 0)) {
    return bad_field("spec.device", "asks for GPUs (gpu_count, gpu_type or gpu_memory_bytes) but its kind is \"cpu\"");
  }
  auto printable = [](std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  };
  if (d.gpu_type.size() > 64 || !printable(d.gpu_type))
    return bad_field("spec.device.gpu_type", "must be at most 64 printable ASCII characters");
  if (s.precision.size() > 32 || !printable(s.precision))
    return bad_field("spec.precision", "must be at most 32 printable ASCII characters");
  if (s.context_length < 0) return bad_field("spec.context_length", "must not be negative");
  if (s.max_concurrency < 0) return bad_field("spec.max_concurrency", "must not be negative");
  if (!std::isfinite(s.expected_tokens_per_second) || s.expected_tokens_per_second < 0) {
    return bad_field("spec.expected_tokens_per_second", "must be a finite number, 0 or more");
  }
  return ok();
}

uint64_t estimate_memory_bytes(const engine::ModelFacts& facts) {
  const int64_t kv_tokens =
      facts.context_length > 0 ? std::min(facts.context_length, kKvAllowanceTokens) : kKvAllowanceTokens;
  const uint64_t kv = facts.kv_bytes_per_token * static_cast<uint64_t>(kv_tokens);
  const uint64_t scratch = kStepTokens *
                           (static_cast<uint64_t>(std::max<int64_t>(facts.vocab_size, 0)) +
                            kHiddenBuffers * static_cast<uint64_t>(std::max<int64_t>(facts.hidden, 0))) *
                           sizeof(float);
  return facts.weight_bytes + kv + scratch + kFixedOverheadBytes;
}

ModelSpec fill_spec(ModelSpec s, const engine::ModelFacts& facts) {
  if (s.parameters == 0) s.parameters = facts.parameters;
  if (s.precision.empty()) s.precision = facts.dtype;
  if (s.context_length == 0) s.context_length = facts.context_length;
  if (s.memory_bytes == 0) s.memory_bytes = estimate_memory_bytes(facts);
  if (s.device.kind == "gpu") {
    if (s.device.gpu_count == 0) s.device.gpu_count = 1;
    if (s.device.gpu_memory_bytes == 0) {
      const auto n = static_cast<uint64_t>(s.device.gpu_count);
      s.device.gpu_memory_bytes = (s.memory_bytes + n - 1) / n;
    }
  }
  return s;
}

Result<void> check_fits(const ModelSpec& spec, const engine::DeviceReport& devices, uint64_t memory_budget_bytes,
                        uint64_t memory_in_use_bytes) {
  LLMP_TRY_VOID(check_spec(spec));
  if (spec.device.kind == "cpu") {
    if (memory_budget_bytes == 0) return ok();
    const uint64_t left = memory_budget_bytes > memory_in_use_bytes ? memory_budget_bytes - memory_in_use_bytes : 0;
    if (spec.memory_bytes > left) {
      return error(StatusCode::resource_exhausted,
                   fmt::format("needs {} of memory; the model memory budget has {} left of {}", gib(spec.memory_bytes),
                               gib(left), gib(memory_budget_bytes)));
    }
    return ok();
  }

  const int count = std::max(spec.device.gpu_count, 1);
  const uint64_t each = spec.device.gpu_memory_bytes != 0
                            ? spec.device.gpu_memory_bytes
                            : (spec.memory_bytes + static_cast<uint64_t>(count) - 1) / static_cast<uint64_t>(count);
  std::string need = fmt::format("needs {} GPU{}", count, count == 1 ? "" : "s");
  if (!spec.device.gpu_type.empty()) need += fmt::format(" of type {}", spec.device.gpu_type);
  if (each > 0) need += fmt::format(" with {}{}", gib(each), count == 1 ? "" : " each");

  if (devices.cuda.empty()) {
    std::string why = !devices.cuda_built                ? "this binary was built without CUDA"
                      : devices.cuda_unavailable.empty() ? "none found"
                                                         : devices.cuda_unavailable;
    return error(StatusCode::failed_precondition,
                 fmt::format("{}; this machine has none (no CUDA device: {})", need, why));
  }
  std::vector<engine::CudaDevice> typed;
  const std::string want = lower(spec.device.gpu_type);
  for (const auto& g : devices.cuda) {
    if (want.empty() || lower(g.name).find(want) != std::string::npos) typed.push_back(g);
  }
  if (static_cast<int>(typed.size()) < count) {
    return error(StatusCode::failed_precondition,
                 fmt::format("{}; this machine has {}{} ({})", need, typed.size(),
                             spec.device.gpu_type.empty() ? "" : " of that type", describe_gpus(devices.cuda)));
  }
  const auto roomy = std::count_if(typed.begin(), typed.end(), [&](const engine::CudaDevice& g) {
    return g.free_bytes >= 0 && static_cast<uint64_t>(g.free_bytes) >= each;
  });
  if (roomy < count) {
    return error(StatusCode::resource_exhausted,
                 fmt::format("{}; {} of the {} matching GPU{} {} that much free ({})", need, roomy, typed.size(),
                             typed.size() == 1 ? "" : "s", roomy == 1 ? "has" : "have", describe_gpus(typed)));
  }
  return ok();
}

}  // namespace llmp::registry
