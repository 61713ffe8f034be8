#include "backend/cuda/device_weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "backend/cpu/ops.h"
#include "model/decoder.h"
#include "quant.cuh"

namespace llmp::engine::cuda {
namespace {

using kernels::ActType;
using kernels::DeviceMatrix;
using kernels::WeightType;

constexpr size_t kStagingBytes = size_t{64} << 20;  // raw file rows on their way to a conversion kernel


WeightType dense_type(ActType act) { return act == ActType::bf16 ? WeightType::bf16 : WeightType::f16; }

// The type a file tensor takes on the device: quantised stays, dense becomes the activation type.
WeightType device_type(const Tensor& t, ActType act) {
  const WeightType w = weight_type(t.dtype);
  return kernels::is_quantized(w) ? w : dense_type(act);
}

// Bytes of the values and of the scales of a [rows, cols] matrix of device type `t`.
size_t value_bytes(WeightType t, int64_t rows, int64_t cols) {
  switch (t) {
    case WeightType::q8_0: return static_cast<size_t>(rows * cols);
    case WeightType::q4_0:
    case WeightType::iq4_nl:
    case WeightType::iq4_xs:
    case WeightType::q4_1:
    case WeightType::q5_0:
    case WeightType::q5_1: return static_cast<size_t>(rows * cols / 2);
    case WeightType::q4_k: return static_cast<size_t>(rows * (cols / 256) * 144);
    case WeightType::q2_k: return static_cast<size_t>(rows * (cols / 256) * 80);
    case WeightType::q3_k: return static_cast<size_t>(rows * (cols / 256) * 112);
    case WeightType::q5_k: return static_cast<size_t>(rows * (cols / 256) * 176);
    case WeightType::q6_k: return static_cast<size_t>(rows * (cols / 256) * 208);
    case WeightType::f32: return static_cast<size_t>(rows * cols * 4);
    default: return static_cast<size_t>(rows * cols * 2);
  }
}
size_t scale_bytes(WeightType t, int64_t rows, int64_t cols) {
  if (!kernels::has_repacked_layout(t)) return 0;
  return static_cast<size_t>(rows * (cols / kernels::block_elems(t)) * kernels::repacked_scale_bytes(t));
}

// Lays out and (in the second pass) fills the arena. The first pass runs the same code with
// no memory, only to learn the total size, so sizing and uploading cannot disagree.
class Builder {
 public:
  Builder(uint8_t* base, uint8_t* staging, cudaStream_t stream) : base_(base), staging_(staging), stream_(stream) {}
  bool live() const { return base_ != nullptr; }
  size_t used() const { return used_; }

  uint8_t* take(size_t bytes) {
    const size_t off = (used_ + 255) / 256 * 256;
    used_ = off + bytes;
    return base_ ? base_ + off : nullptr;
  }

  const float* floats(const std::vector<float>& v) {
    uint8_t* p = take(v.size() * sizeof(float));
    if (live() && !v.empty()) LLMP_CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
    return reinterpret_cast<const float*>(p);
  }

  // Several tensors with the same device type and column count, stacked by rows.
  DeviceMatrix matrix(std::span<const Tensor* const> parts, ActType act) {
    const WeightType t = device_type(*parts.front(), act);
    const int64_t cols = parts.front()->cols();
    int64_t rows = 0;
    for (const Tensor* p : parts) rows += p->rows();
    DeviceMatrix m;
    m.type = t;
    m.rows = rows;
    m.cols = cols;
    uint8_t* values = take(value_bytes(t, rows, cols));
    uint8_t* scales = scale_bytes(t, rows, cols) ? take(scale_bytes(t, rows, cols)) : nullptr;
    m.data = values;
    m.scales = reinterpret_cast<const uint16_t*>(scales);
    if (!live()) return m;
    int64_t r0 = 0;
    for (const Tensor* p : parts) {
      upload_rows(*p, t, values + value_bytes(t, r0, cols), scales ? scales + scale_bytes(t, r0, cols) : nullptr);
      r0 += p->rows();
    }
    return m;
  }

 private:
  void upload_rows(const Tensor& src, WeightType t, uint8_t* values, uint8_t* scales) {
    const WeightType from = weight_type(src.dtype);
    const int64_t cols = src.cols();
    const size_t row_bytes_src = row_bytes(src.dtype, cols);
    if (from == t && !kernels::has_repacked_layout(t)) {
      // Same layout on both sides (f16, bf16, q4_k, q5_k): one copy.
      LLMP_CUDA_CHECK(cudaMemcpy(values, src.data, row_bytes_src * static_cast<size_t>(src.rows()), cudaMemcpyHostToDevice));
      return;
    }
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(kStagingBytes / row_bytes_src));
    for (int64_t r = 0; r < src.rows(); r += chunk) {
      const int64_t n = std::min(chunk, src.rows() - r);
      LLMP_CUDA_CHECK(cudaMemcpyAsync(staging_, src.row(r), row_bytes_src * static_cast<size_t>(n), cudaMemcpyHostToDevice,
                                      stream_));
      if (kernels::has_repacked_layout(t)) {
        LLMP_CUDA_CHECK(kernels::launch_repack_ggml(t, staging_, n, cols, values + value_bytes(t, r, cols),
                                                    reinterpret_cast<uint16_t*>(scales + scale_bytes(t, r, cols)), stream_));
      } else {
        LLMP_CUDA_CHECK(kernels::launch_convert(from, staging_, n * cols, t, values + value_bytes(t, r, cols), stream_));
      }
      // The staging buffer is reused by the next chunk.
      LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  }

  uint8_t* base_;
  uint8_t* staging_;
  cudaStream_t stream_;
  size_t used_ = 0;
};

// A linear layer from `parts` stacked by rows: one matrix when their device types agree, else
// one matrix per part.
DeviceLinear linear(Builder& b, std::vector<const Tensor*> parts, ActType act) {
  DeviceLinear l;
  l.cols = parts.front()->cols();
  const WeightType t0 = device_type(*parts.front(), act);
  const bool same = std::all_of(parts.begin(), parts.end(), [&](const Tensor* p) { return device_type(*p, act) == t0; });
  if (same) {
    l.parts.push_back({b.matrix(parts, act), 0});
  } else {
    for (const Tensor* p : parts) l.parts.push_back({b.matrix(std::span<const Tensor* const>(&p, 1), act), 0});
  }
  int64_t offset = 0;  // each part's outputs follow the previous part's
  for (auto& part : l.parts) {
    part.offset = offset;
    offset += part.m.rows;
  }
  l.rows = offset;
  return l;
}

void build(Builder& b, const LoadedModel& model, ActType act, DeviceModel& out) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  out.act = act;
  out.layers.clear();
  for (const auto& l : w.layers) {
    DeviceLayer d;
    d.attn_norm = b.floats(to_f32(*l.attn_norm));
    d.ffn_norm = b.floats(to_f32(*l.ffn_norm));
    if (l.bq) {
      std::vector<float> bias;
      for (const Tensor* t : {l.bq, l.bk, l.bv}) {
        const auto v = to_f32(*t);
        bias.insert(bias.end(), v.begin(), v.end());
      }
      d.qkv_bias = b.floats(bias);
    }
    d.qkv = linear(b, {l.wq, l.wk, l.wv}, act);
    d.wo = linear(b, {l.wo}, act);
    d.gate_up = linear(b, {l.w_gate, l.w_up}, act);
    d.down = linear(b, {l.w_down}, act);
    out.layers.push_back(std::move(d));
  }
  const Tensor* embd = w.tok_embd;
  out.tok_embd = b.matrix(std::span<const Tensor* const>(&embd, 1), act);
  if (w.output == w.tok_embd) {
    out.output.parts = {{out.tok_embd, 0}};
    out.output.rows = out.tok_embd.rows;
    out.output.cols = out.tok_embd.cols;
  } else {
    out.output = linear(b, {w.output}, act);
  }
  out.output_norm = b.floats(to_f32(*w.output_norm));
  std::vector<float> factors;
  if (w.rope_freqs) factors = to_f32(*w.rope_freqs);
  out.rope_freqs = b.floats(rope_frequencies(c, factors.empty() ? nullptr : factors.data()));
  out.rope_pos_scale = c.rope_scaling.type == "linear" ? static_cast<float>(1.0 / c.rope_scaling.factor) : 1.0f;
}

}  // namespace

WeightType weight_type(DType t) {
  switch (t) {
    case DType::f32: return WeightType::f32;
    case DType::f16: return WeightType::f16;
    case DType::bf16: return WeightType::bf16;
    case DType::q8_0: return WeightType::q8_0;
    case DType::q4_0: return WeightType::q4_0;
    case DType::q4_k: return WeightType::q4_k;
    case DType::q4_1: return WeightType::q4_1;
    case DType::q2_k: return WeightType::q2_k;
    case DType::iq4_nl: return WeightType::iq4_nl;
    case DType::iq4_xs: return WeightType::iq4_xs;
    case DType::q3_k: return WeightType::q3_k;
    case DType::q5_0: return WeightType::q5_0;
    case DType::q5_1: return WeightType::q5_1;
    case DType::q5_k: return WeightType::q5_k;
    case DType::q6_k: return WeightType::q6_k;
  }
  return WeightType::f32;
}

ActType choose_act_type(const ModelWeights& weights) {
  if (const char* env = std::getenv("LLMP_CUDA_ACT")) {
    if (std::string_view(env) == "bf16") return ActType::bf16;
    if (std::string_view(env) == "f16") return ActType::f16;
  }
  auto bf16 = [](const Tensor* t) { return t && t->dtype == DType::bf16; };
  if (bf16(weights.output) || bf16(weights.tok_embd)) return ActType::bf16;
  for (const auto& l : weights.layers) {
    for (const Tensor* t : {l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_up, l.w_down}) {
      if (bf16(t)) return ActType::bf16;
    }
  }
  return ActType::f16;
}

int64_t device_weight_bytes(const LoadedModel& model, ActType act) {
  Builder sizing(nullptr, nullptr, nullptr);
  DeviceModel scratch;
  build(sizing, model, act, scratch);
  return static_cast<int64_t>(sizing.used());
}

Result<std::unique_ptr<DeviceModel>> upload_model(const LoadedModel& model, ActType act, cudaStream_t stream) {
  auto out = std::make_unique<DeviceModel>();
  const int64_t bytes = device_weight_bytes(model, act);
  auto arena = DeviceBuffer::allocate(static_cast<size_t>(bytes), "the weights");
  if (!arena) return error(arena.error());
  auto staging = DeviceBuffer::allocate(kStagingBytes, "staging the weights");
  if (!staging) return error(staging.error());
  Builder b(arena->as<uint8_t>(), staging->as<uint8_t>(), stream);
  build(b, model, act, *out);
  LLMP_CUDA_CHECK(cudaStreamSynchronize(stream));
  out->bytes = bytes;
  out->arena = std::move(*arena);
  return out;
}

}  // namespace llmp::engine::cuda
