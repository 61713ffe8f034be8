// The CUDA backend: the decoder's forward pass on one GPU. Weights are uploaded once
// (device_weights), the paged KV cache lives in two device allocations in KvStorage's layout,
// and each forward pass is one metadata copy, a fixed sequence of kernel and cuBLAS launches
// on the backend's stream, and either the logits copied back for the host sampler or each row
// sampled on the device (forward_sampled: only ids and logprobs come back). All-decode
// batches are padded to a bucket size and, from the second time a bucket is seen, replayed
// from a CUDA graph captured for it.
#include "backend/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>

#include "activation.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_weights.h"
#include "backend/cuda/linear.h"
#include "backend/cuda/step_plan.h"
#include "dense_gemv.cuh"
#include "embedding.cuh"
#include "kv_cache.cuh"
#include "kv_cache/kv_storage.h"
#include "launch.cuh"
#include "llmp/core/log.h"
#include "paged_attention_decode.cuh"
#include "paged_attention_prefill.cuh"
#include "quant_gemv.cuh"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "sampling.cuh"

namespace llmp::engine {
namespace cuda {
namespace {

using kernels::ActType;

// Decode batch sizes a graph is captured for; a batch is padded up to the next one.
constexpr std::array<int64_t, 19> kGraphBuckets = {1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256};
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;  // set explicitly so graph capture never allocates
constexpr int64_t kDequantScratchElems = int64_t{32} << 20;

int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::clamp<int64_t>(std::atoll(v), lo, hi);
}

// What comes back from sampling n rows: ids [n] i32, chosen logprobs [n] f32, log-sum-exp [n]
// f32, top ids [n, kMaxTopK] i32, top logprobs [n, kMaxTopK] f32, at these offsets.
struct SampleOut {
  size_t ids, logprob, lse, top_ids, top_logprobs, bytes;
};
SampleOut sample_out_layout(int64_t n) {
  const auto u = static_cast<size_t>(n);
  SampleOut o{};
  o.ids = 0;
  o.logprob = o.ids + 4 * u;
  o.lse = o.logprob + 4 * u;
  o.top_ids = o.lse + 4 * u;
  o.top_logprobs = o.top_ids + 4 * u * kernels::kMaxTopK;
  o.bytes = o.top_logprobs + 4 * u * kernels::kMaxTopK;
  return o;
}
size_t sample_out_bytes(int64_t n) { return sample_out_layout(n).bytes; }

size_t align16(size_t v) { return (v + 15) / 16 * 16; }

std::string gib(int64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1 << 30)); }

class CudaBackend final : public DecoderBackend {
 public:
  CudaBackend(const LoadedModel& model, int device, int64_t block_size, KvType kv_type)
      : model_ref_(model), device_(device), bs_(block_size), kv_type_(kv_type == KvType::bf16 ? ActType::bf16 : ActType::f16) {
    const ModelConfig& c = model.config;
    hidden_ = c.hidden;
    n_heads_ = static_cast<int>(c.n_heads);
    n_kv_heads_ = static_cast<int>(c.n_kv_heads);
    head_dim_ = static_cast<int>(c.head_dim);
    q_dim_ = c.n_heads * c.head_dim;
    kv_dim_ = c.n_kv_heads * c.head_dim;
    qkv_w_ = q_dim_ + 2 * kv_dim_;
    ffn_ = c.ffn;
    vocab_ = c.vocab_size;
    n_layers_ = c.n_layers;
    eps_ = static_cast<float>(c.norm_eps);
    interleaved_ = c.rope_layout == RopeLayout::interleaved;
  }

  ~CudaBackend() override {
    if (!stream_) return;
    LLMP_CUDA_CHECK(cudaSetDevice(device_));
    LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    clear_graphs();
    if (cublas_) LLMP_CUBLAS_CHECK(cublasDestroy(cublas_));
    LLMP_CUDA_CHECK(cudaStreamDestroy(stream_));
  }

  Result<void> init(double free_memory_fraction);

  std::string name() const override { return fmt::format("cuda:{}", device_); }
  int64_t kv_blocks() const override { return n_blocks_; }
  std::span<float> forward(std::span<const SequenceChunk> batch) override;
  bool samples_on_device() const override { return device_sampling_; }
  void forward_sampled(std::span<const SequenceChunk> batch, std::span<const RowSampling> rows,
                       std::span<const TokenId> eos_ids, std::span<TokenId> ids, std::span<TokenLogprob> logprobs) override;
  void copy_block(int64_t src, int64_t dst) override;

  CudaBackendStats stats() const {
    CudaBackendStats s = stats_;
    if (linear_) {
      s.dense_gemv_launches = linear_->counts().dense_gemv;
      s.mmq_all_types_launches = linear_->counts().mmq_all_types;
      s.mmq_narrow_launches = linear_->counts().mmq_narrow;
      s.fused_swiglu_launches = linear_->counts().fused_swiglu;
      s.folded_norm_launches = linear_->counts().folded_norm;
      s.qkv_rope_launches = linear_->counts().qkv_rope;
      s.fused_q8_launches = linear_->counts().q8_given;
    }
    return s;
  }

 private:
  struct Graph {
    cudaGraphExec_t exec = nullptr;
    int seen = 0;
    bool failed = false;
  };
  // What one forward pass computes; the arrays are at `layout` in meta_dev_.
  struct Shape {
    int64_t rows = 0, n_dec = 0, n_tiles = 0, n_logits = 0;
    int n_splits = 1;
    MetaLayout layout;
  };

  Result<void> allocate(DeviceBuffer& b, size_t bytes, std::string_view what) {
    auto r = DeviceBuffer::allocate(bytes, what);
    if (!r) return error(r.error());
    b = std::move(*r);
    stats_.scratch_bytes += static_cast<int64_t>(bytes);
    return ok();
  }
  // Where forward_sampled's results go; `done` rows are sampled so far.
  struct SampleJob {
    std::span<const RowSampling> rows;
    std::span<const TokenId> eos_ids;
    std::span<TokenId> ids;
    std::span<TokenLogprob> logprobs;
    size_t done = 0;
  };
  // Runs one piece; its logits rows are copied to logits + filled, or sampled into `job`.
  void run_piece(std::span<const SequenceChunk> piece, float* logits, size_t& filled, SampleJob* job);
  void sample_piece(int64_t n, SampleJob& job);
  void enqueue(const Shape& s);
  void ensure_meta(size_t bytes);
  int decode_splits(int64_t items) const;
  void clear_graphs();
  size_t act_bytes() const { return 2; }
  uint16_t* k_layer(int64_t l) const { return kv_k_.as<uint16_t>() + l * layer_elems_; }
  uint16_t* v_layer(int64_t l) const { return kv_v_.as<uint16_t>() + l * layer_elems_; }

  const LoadedModel& model_ref_;
  int device_;
  int64_t bs_;
  ActType kv_type_;  // the KV cache's element type
  int64_t hidden_ = 0, q_dim_ = 0, kv_dim_ = 0, qkv_w_ = 0, ffn_ = 0, vocab_ = 0, n_layers_ = 0;
  int n_heads_ = 0, n_kv_heads_ = 0, head_dim_ = 0;
  float eps_ = 1e-5f;
  bool interleaved_ = false;

  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  int sm_count_ = 0;
  std::unique_ptr<DeviceModel> model_;
  std::unique_ptr<LinearRunner> linear_;

  int64_t rows_cap_ = 0, logits_cap_ = 0, partial_cap_ = 0, max_graph_batch_ = 0;
  int64_t pdl_max_rows_ = 0;  // steps of up to this many rows use programmatic dependent launch
  int64_t max_decode_splits_ = kernels::kMaxDecodeSplits;  // context partitions per sequence, at most
  DeviceBuffer workspace_, x_, delta_, xn_, qkv_, attn_, gu_, act_, xn_out_, logits_dev_, partial_o_, partial_ml_, quant_scratch_;
  DeviceBuffer q8_act_;          // RMSNorm / SwiGLU outputs quantised per 32 for steps of <= q8_fused_rows_ rows
  int64_t q8_fused_rows_ = 0;
  bool fold_norm_ = false;       // one-row steps fold the RMSNorms into the GEMVs (kernels::FoldedNorm)
  DeviceBuffer xg_, norm_sumsq_; // its x · g [hidden] and block sums of squares
  DeviceBuffer meta_dev_;
  PinnedBuffer meta_host_;
  PinnedBuffer logits_host_;  // [rows, vocab] f32, what forward() returns

  // Sampling on the device: per-row parameters, sparse lists and grammar masks go up in one
  // copy (staging grown as needed); ids, chosen logprobs and top alternatives come back.
  bool device_sampling_ = true;
  DeviceBuffer sample_work_;                  // [logits_cap, vocab] f32
  DeviceBuffer sample_in_dev_, sample_out_dev_;
  PinnedBuffer sample_in_host_, sample_out_host_;

  int64_t n_blocks_ = 0, n_blocks_total_ = 0, layer_elems_ = 0;
  int32_t trash_block_ = 0;
  DeviceBuffer kv_k_, kv_v_;

  bool graphs_enabled_ = true;
  std::map<int64_t, Graph> graphs_;
  StepPlan plan_;
  CudaBackendStats stats_;
};

Result<void> CudaBackend::init(double free_memory_fraction) {
  const std::string where = fmt::format("loading {} onto cuda:{}", model_ref_.path, device_);
  if (cudaError_t e = cudaSetDevice(device_); e != cudaSuccess) return error(cuda_status(e, where));
  cudaDeviceProp prop{};
  if (cudaError_t e = cudaGetDeviceProperties(&prop, device_); e != cudaSuccess) return error(cuda_status(e, where));
  if (kv_type_ == ActType::bf16 && prop.major < 8) {
    return error(StatusCode::invalid_argument,
                 fmt::format("{}: engine.kv_cache_dtype \"bf16\" needs compute capability 8.0 (bf16 tensor cores); this GPU is {}.{}",
                             where, prop.major, prop.minor));
  }
  sm_count_ = prop.multiProcessorCount;
  stats_.kv_bf16 = kv_type_ == ActType::bf16;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); e != cudaSuccess) {
    stream_ = nullptr;
    return error(cuda_status(e, where));
  }
  if (cublasStatus_t st = cublasCreate(&cublas_); st != CUBLAS_STATUS_SUCCESS) {
    cublas_ = nullptr;
    return error(StatusCode::unavailable, fmt::format("{}: cuBLAS: {}", where, cublasGetStatusString(st)));
  }
  LLMP_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));

  // Weights first: when they do not fit, say how much they need against what is free.
  const ActType act = choose_act_type(model_ref_.weights);
  stats_.bf16 = act == ActType::bf16;
  const int64_t weight_bytes = device_weight_bytes(model_ref_, act);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaError_t e = cudaMemGetInfo(&free_bytes, &total_bytes); e != cudaSuccess) return error(cuda_status(e, where));
  if (weight_bytes > static_cast<int64_t>(free_bytes)) {
    return error(StatusCode::resource_exhausted,
                 fmt::format("{}: the weights need {} bytes ({}) of GPU memory, but {} bytes ({}) are free of {}", where,
                             weight_bytes, gib(weight_bytes), free_bytes, gib(static_cast<int64_t>(free_bytes)),
                             gib(static_cast<int64_t>(total_bytes))));
  }
  auto uploaded = upload_model(model_ref_, act, stream_);
  if (!uploaded) return error(uploaded.error().with_context(where));
  model_ = std::move(*uploaded);
  stats_.weight_bytes = model_->bytes;

  // Activations for the largest forward piece; bigger batches are cut into pieces.
  rows_cap_ = env_int("LLMP_CUDA_MAX_BATCH_TOKENS", 2048, 64, 65535);
  logits_cap_ = env_int("LLMP_CUDA_MAX_LOGIT_ROWS", 256, 1, 65535);
  max_graph_batch_ = std::min({kGraphBuckets.back(), rows_cap_, logits_cap_});
  graphs_enabled_ = env_int("LLMP_CUDA_GRAPHS", 1, 0, 1) == 1;
  // Which path multiplies quantised weights (linear.h), by activation rows. The int8 GEMV reads
  // the weights once for up to kGemvMaxRows rows, but its cost grows with every row: at 8 rows
  // the MMA was as fast for Q4_0 and 1.16x faster for Q4_K_M (1B, H200, run 13c), hence 4. The
  // int8 MMA reads them once per 64 rows: on an H100 it beat the dequantising path by
  // 1.2-1.6x at 16 and 64 rows for Q4_0 and lost at 256 (bench/gpu/NOTES.md, 2026-11-27),
  // hence 64; for Q4_K/Q5_K/Q6_K/IQ4 it made 8B Q4_K_M 1.30x faster at 16 rows and 1.20x at 64
  // (run 12).
  // Past both, dequantise to the activation type and run cuBLAS, which writes and reads the
  // weights again in 16 bits but is the faster GEMM for prefill-sized pieces.
  LinearRunner::Paths paths;
  // (More than kGemvMaxRows rows in chunks was 1.8-3x slower than the MMA, run 12.)
  paths.gemv_max_rows = env_int("LLMP_CUDA_GEMV_MAX_ROWS", 4, 0, kernels::kGemvMaxRows);
  // (mma.sync on int8 and cp.async need compute capability 8.0.)
  paths.mmq_max_rows = env_int("LLMP_CUDA_MMQ_MAX_ROWS", 64, 0, 4096);
  paths.mmq_all_types = env_int("LLMP_CUDA_MMQ_ALL_TYPES", 1, 0, 1) == 1;
  // The MMA's 16-row tiles for 5-16 rows, where the 64-row tile is mostly padding (8B Q4_K_M
  // at batch 16 ran 0.89x llama.cpp with it, run 13); off until measured.
  paths.mmq_narrow = env_int("LLMP_CUDA_MMQ_NARROW", 0, 0, 1) == 1;
  if (paths.mmq_max_rows > 0 && prop.major < 8) {
    if (std::getenv("LLMP_CUDA_MMQ_MAX_ROWS") != nullptr) {
      log::warn("LLMP_CUDA_MMQ_MAX_ROWS ignored: the int8 MMA needs compute capability 8.0", {{"device", device_}, {"major", prop.major}});
    }
    paths.mmq_max_rows = 0;
  }
  // Programmatic dependent launch (launch.cuh, compute capability 9.0+) for steps of up to
  // pdl_max_rows_ rows: our kernels start while the one before drains and load their weights
  // before waiting. At batch 1 it made 1B Q4_K_M 1.18x and 8B Q4_K_M 1.09x faster (H100, run
  // 13); at 16-64 rows it was within 2 % either way, and at 64 rows of context 2048 it cost
  // 4.5 % (1B bf16, H200, run 13b), hence 8.
  pdl_max_rows_ = kernels::programmatic_launch_supported(device_) ? env_int("LLMP_CUDA_PDL_MAX_ROWS", 8, 0, 65535) : 0;
  // Dense 16-bit matrices of one row through our GEMV instead of cuBLAS: with programmatic
  // launch it loads its first weights before the previous kernel ends (1B bf16 at batch 1: 1.37
  // -> 1.29 ms per step, H100, run 13); at 2 rows cuBLAS stays faster (1.13 vs 1.21 ms, H200).
  paths.dense_gemv_max_rows = std::min<int64_t>(env_int("LLMP_CUDA_DENSE_GEMV_MAX_ROWS", 1, 0, 4096), kernels::kDenseGemvMaxRows);
  // One row's dense gate/up product and SwiGLU in one launch (16 launches fewer per step at
  // batch 1 for a 1B model); off until measured.
  paths.fused_swiglu = env_int("LLMP_CUDA_FUSED_SWIGLU", 0, 0, 1) == 1;
  // One row's dense q/k/v product, RoPE and cache write in one launch (16 launches fewer per
  // step at batch 1 for a 1B model); off until measured.
  paths.qkv_rope = env_int("LLMP_CUDA_QKV_ROPE", 0, 0, 1) == 1;
  paths.sm_count = sm_count_;
  // Splits only happen while items * kv heads * head groups < 2 * SMs (see decode_splits). At
  // batch 1 that is 32 splits, of which 4 have work at context 256 (each takes whole 64-position
  // tiles); LLMP_CUDA_DECODE_SPLITS caps them, to time fewer (not measured yet).
  max_decode_splits_ = env_int("LLMP_CUDA_DECODE_SPLITS", kernels::kMaxDecodeSplits, 1, kernels::kMaxDecodeSplits);
  partial_cap_ = 4 * sm_count_ + 64;
  // Scratch for quantised matrices: row chunks of at most kDequantScratchElems elements (at
  // least one row) for the dequantising path; the GEMV's and the MMA's quantised activations
  // and split sums for every row count that reaches them.
  int64_t quant_scratch_elems = 0;
  const int64_t int8_rows = std::min<int64_t>(std::max(paths.gemv_max_rows, paths.mmq_max_rows), rows_cap_);
  bool any_quantized = false;
  auto need_scratch = [&](const DeviceLinear& l) {
    for (const auto& p : l.parts) {
      if (!kernels::is_quantized(p.m.type)) continue;
      any_quantized = true;
      const auto a = static_cast<int64_t>(act_bytes());
      int64_t bytes = std::min(p.m.rows * p.m.cols, std::max(kDequantScratchElems, p.m.cols)) * a;
      for (int64_t n = 1; n <= int8_rows; ++n) {
        bytes = std::max(bytes, LinearRunner::scratch_bytes(paths, p.m.type, p.m.rows, p.m.cols, n));
      }
      quant_scratch_elems = std::max(quant_scratch_elems, (bytes + a - 1) / a);
    }
  };
  for (const auto& l : model_->layers) {
    for (const DeviceLinear* lin : {&l.qkv, &l.wo, &l.gate_up, &l.down}) need_scratch(*lin);
  }
  need_scratch(model_->output);
  // RMSNorm and SwiGLU quantise their outputs for the int8 GEMV / MMA in the same launch (one
  // quantisation launch fewer per linear, up to int8_rows rows): 1B Q4_K_M decode at batch 1
  // went from 1.18 to 1.10 ms per step on an H100 (run 12).
  q8_fused_rows_ = env_int("LLMP_CUDA_FUSED_Q8", 1, 0, 1) == 1 && any_quantized && hidden_ % 32 == 0 && ffn_ % 32 == 0 ? int8_rows : 0;
  // One-row steps fold each RMSNorm after the first into the dense GEMVs either side of it
  // (dense_gemv.cuh, FoldedNorm): two launches fewer per layer at batch 1, where a step is
  // ~150 short kernels. bf16 models whose every matrix takes our dense GEMV. Off until measured.
  fold_norm_ = env_int("LLMP_CUDA_FOLD_NORM", 0, 0, 1) == 1 && act == ActType::bf16 && paths.dense_gemv_max_rows >= 1 &&
               hidden_ <= kernels::kFoldedNormMaxHidden && LinearRunner::folds_norm(model_->output, false) &&
               std::all_of(model_->layers.begin(), model_->layers.end(), [](const DeviceLayer& l) {
                 return LinearRunner::folds_norm(l.qkv, false) && LinearRunner::folds_norm(l.wo, true) &&
                        LinearRunner::folds_norm(l.gate_up, false) && LinearRunner::folds_norm(l.down, true);
               });

  const int64_t R = rows_cap_, Lc = logits_cap_;
  const size_t f = sizeof(float), a = act_bytes();
  struct Want {
    DeviceBuffer* buf;
    size_t bytes;
    const char* what;
  };
  const Want wants[] = {
      {&workspace_, kCublasWorkspaceBytes, "the cuBLAS workspace"},
      {&x_, static_cast<size_t>(R * hidden_) * f, "the residual stream"},
      {&delta_, static_cast<size_t>(R * hidden_) * f, "sublayer outputs"},
      {&xn_, static_cast<size_t>(R * hidden_) * a, "normalised activations"},
      {&qkv_, static_cast<size_t>(R * qkv_w_) * f, "q, k and v"},
      {&attn_, static_cast<size_t>(R * q_dim_) * a, "attention outputs"},
      {&gu_, static_cast<size_t>(R * 2 * ffn_) * f, "gate and up projections"},
      {&act_, static_cast<size_t>(R * ffn_) * a, "SwiGLU outputs"},
      {&xn_out_, static_cast<size_t>(Lc * hidden_) * a, "final norms"},
      {&logits_dev_, static_cast<size_t>(Lc * vocab_) * f, "logits"},
      {&partial_o_, static_cast<size_t>(partial_cap_ * n_heads_ * head_dim_) * f, "split attention partials"},
      {&partial_ml_, static_cast<size_t>(partial_cap_ * n_heads_ * 2) * f, "split attention maxima"},
      {&q8_act_, q8_fused_rows_ > 0 ? static_cast<size_t>(kernels::q8_rows_bytes(static_cast<int>(q8_fused_rows_), std::max(hidden_, ffn_))) : 0,
       "quantised norm and SwiGLU outputs"},
      {&quant_scratch_, static_cast<size_t>(quant_scratch_elems) * a, "quantised matrices' scratch"},
      {&xg_, fold_norm_ ? static_cast<size_t>(hidden_) * a : 0, "folded norms' inputs"},
      {&norm_sumsq_, fold_norm_ ? static_cast<size_t>(kernels::dense_gemv_blocks(hidden_)) * f : 0, "folded norms' sums"},
      {&sample_work_, static_cast<size_t>(Lc * std::max<int64_t>(vocab_, 2 * kernels::kArgmaxMaxChunks)) * f, "sampling scratch"},
      {&sample_out_dev_, sample_out_bytes(Lc), "sampled ids and logprobs"},
  };
  for (const Want& w : wants) {
    if (auto r = allocate(*w.buf, w.bytes, w.what); !r) return error(r.error().with_context(where));
  }
  LLMP_CUBLAS_CHECK(cublasSetWorkspace(cublas_, workspace_.as(), kCublasWorkspaceBytes));
  device_sampling_ = env_int("LLMP_CUDA_DEVICE_SAMPLING", 1, 0, 1) == 1;
  auto so = PinnedBuffer::allocate(sample_out_bytes(Lc), "sampled ids and logprobs");
  if (!so) return error(so.error().with_context(where));
  sample_out_host_ = std::move(*so);
  linear_ = std::make_unique<LinearRunner>(cublas_, stream_, act, quant_scratch_.as(), quant_scratch_elems, paths);

  // Metadata: room for the largest piece and block tables of a full cache (grown if needed).
  const MetaLayout full = MetaLayout::make(R, R, Lc);
  const size_t meta_bytes = full.bytes(R + 4096);
  auto md = DeviceBuffer::allocate(meta_bytes, "step metadata");
  if (!md) return error(md.error().with_context(where));
  meta_dev_ = std::move(*md);
  auto mh = PinnedBuffer::allocate(meta_bytes, "step metadata");
  if (!mh) return error(mh.error().with_context(where));
  meta_host_ = std::move(*mh);

  // The KV cache: a fraction of what is free now, plus one block that padding rows write to.
  if (cudaError_t e = cudaMemGetInfo(&free_bytes, &total_bytes); e != cudaSuccess) return error(cuda_status(e, where));
  const int64_t per_block = KvStorage::bytes_per_block(n_layers_, n_kv_heads_, head_dim_, bs_);
  const auto budget = static_cast<int64_t>(static_cast<double>(free_bytes) * std::clamp(free_memory_fraction, 0.0, 1.0));
  n_blocks_total_ = budget / per_block;
  n_blocks_ = n_blocks_total_ - 1;
  if (n_blocks_ < 1) {
    return error(StatusCode::resource_exhausted,
                 fmt::format("{}: no room for the KV cache: {} of {} bytes free after the weights ({} bytes) is {} bytes, "
                             "less than two blocks of {} bytes",
                             where, free_memory_fraction, free_bytes, weight_bytes, budget, per_block));
  }
  trash_block_ = static_cast<int32_t>(n_blocks_);
  layer_elems_ = n_blocks_total_ * n_kv_heads_ * bs_ * head_dim_;
  const size_t kv_half = static_cast<size_t>(n_layers_ * layer_elems_) * 2;
  auto k = DeviceBuffer::allocate(kv_half, "the K cache");
  if (!k) return error(k.error().with_context(where));
  auto v = DeviceBuffer::allocate(kv_half, "the V cache");
  if (!v) return error(v.error().with_context(where));
  kv_k_ = std::move(*k);
  kv_v_ = std::move(*v);
  stats_.kv_bytes = static_cast<int64_t>(2 * kv_half);
  log::info("cuda backend ready",
            {{"device", device_}, {"model", std::string_view(model_ref_.path)}, {"activations", act == ActType::bf16 ? "bf16" : "f16"},
             {"kv_cache_dtype", kv_type_ == ActType::bf16 ? "bf16" : "f16"},
             {"weight_bytes", stats_.weight_bytes}, {"kv_blocks", n_blocks_}, {"kv_bytes", stats_.kv_bytes},
             {"scratch_bytes", stats_.scratch_bytes}, {"graphs", graphs_enabled_}});
  return ok();
}

int CudaBackend::decode_splits(int64_t items) const {
  // Enough blocks for about two waves; each split takes at least one 64-position tile.
  const int64_t group = n_heads_ / n_kv_heads_;
  const int64_t per_item = n_kv_heads_ * ((group + kernels::kDecodeHeadsPerBlock - 1) / kernels::kDecodeHeadsPerBlock);
  const int64_t target = 2 * static_cast<int64_t>(sm_count_);
  int64_t s = (target + items * per_item - 1) / (items * per_item);
  s = std::clamp<int64_t>(s, 1, max_decode_splits_);
  s = std::min<int64_t>(s, partial_cap_ / items);
  return static_cast<int>(std::max<int64_t>(s, 1));
}

void CudaBackend::clear_graphs() {
  for (auto& [b, g] : graphs_) {
    if (g.exec) LLMP_CUDA_CHECK(cudaGraphExecDestroy(g.exec));
  }
  graphs_.clear();
}

void CudaBackend::ensure_meta(size_t bytes) {
  if (bytes <= meta_dev_.bytes()) return;
  // Longer block tables than planned for: grow. Captured graphs point at the old buffer.
  LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  clear_graphs();
  const size_t grown = std::max(bytes, meta_dev_.bytes() * 2);
  auto md = DeviceBuffer::allocate(grown, "step metadata");
  auto mh = PinnedBuffer::allocate(grown, "step metadata");
  if (!md || !mh) {
    cuda_fail("ensure_meta", __FILE__, __LINE__, "out of memory", "cannot grow the step metadata buffer");
  }
  meta_dev_ = std::move(*md);
  meta_host_ = std::move(*mh);
}

std::span<float> CudaBackend::forward(std::span<const SequenceChunk> batch) {
  LLMP_CUDA_CHECK(cudaSetDevice(device_));
  int64_t rows = 0;
  for (const auto& c : batch) {
    const auto len = static_cast<int64_t>(c.tokens.size());
    rows += c.all_logits ? len : (!c.no_logits && len > 0 ? 1 : 0);
  }
  // Logits land in pinned host memory: a copy to pageable memory goes through a staging
  // buffer at a fraction of the bus speed (measured on an H200: 33 MB of logits at batch 64
  // took ~3 ms of a 6 ms decode step). Grown, never shrunk; a grown buffer is rare.
  const size_t n = static_cast<size_t>(rows * vocab_);
  if (n * sizeof(float) > logits_host_.bytes()) {
    logits_host_ = PinnedBuffer();
    auto grown = PinnedBuffer::allocate(std::max(n, static_cast<size_t>(logits_cap_ * vocab_)) * sizeof(float), "logits");
    if (!grown) cuda_fail("forward", __FILE__, __LINE__, "out of memory", grown.error().message().c_str());
    logits_host_ = std::move(*grown);
  }
  const std::span<float> logits(logits_host_.as<float>(), n);
  size_t filled = 0;
  for (const auto& piece : split_batch(batch, rows_cap_, logits_cap_)) run_piece(piece, logits.data(), filled, nullptr);
  if (filled != n) {
    cuda_fail("forward", __FILE__, __LINE__, "internal", "logit rows computed differ from the rows the batch asks for");
  }
  return logits;
}

void CudaBackend::forward_sampled(std::span<const SequenceChunk> batch, std::span<const RowSampling> rows,
                                  std::span<const TokenId> eos_ids, std::span<TokenId> ids, std::span<TokenLogprob> logprobs) {
  LLMP_CUDA_CHECK(cudaSetDevice(device_));
  SampleJob job{rows, eos_ids, ids, logprobs, 0};
  size_t filled = 0;
  for (const auto& piece : split_batch(batch, rows_cap_, logits_cap_)) run_piece(piece, nullptr, filled, &job);
  if (job.done != rows.size() || ids.size() != rows.size() || logprobs.size() != rows.size()) {
    cuda_fail("forward_sampled", __FILE__, __LINE__, "internal", "rows sampled differ from the rows the batch asks for");
  }
}

void CudaBackend::run_piece(std::span<const SequenceChunk> piece, float* logits, size_t& filled, SampleJob* job) {
  // An all-decode piece is padded to its bucket (also when it runs eagerly), so a graph
  // replay and an eager run of the same batch compute exactly the same thing.
  bool decode_only = !piece.empty();
  int64_t n_tokens = 0;
  for (const auto& c : piece) {
    decode_only = decode_only && c.tokens.size() == 1 && !c.no_logits;
    n_tokens += static_cast<int64_t>(c.tokens.size());
  }
  int64_t bucket = 0;
  if (decode_only && n_tokens <= max_graph_batch_) {
    bucket = *std::lower_bound(kGraphBuckets.begin(), kGraphBuckets.end(), n_tokens);
    if (bucket > rows_cap_ || bucket > logits_cap_) bucket = 0;
  }
  plan_step(piece, bs_, bucket, trash_block_, plan_);
  if (plan_.n_rows() == 0) return;
  // For the step's launches, its graph's capture and its sampling (launch.cuh); reset on the
  // way out, so that launches made elsewhere on this thread stay plain.
  const bool programmatic = plan_.n_rows() <= pdl_max_rows_;
  kernels::set_programmatic_launch(programmatic);
  struct PlainAgain {
    ~PlainAgain() { kernels::set_programmatic_launch(false); }
  } plain_again;
  if (programmatic) ++stats_.programmatic_steps;

  Shape s;
  s.rows = plan_.n_rows();
  s.n_dec = static_cast<int64_t>(plan_.dec_rows.size());
  s.n_tiles = static_cast<int64_t>(plan_.tile_n.size());
  s.n_logits = static_cast<int64_t>(plan_.logit_rows.size());
  s.n_splits = s.n_dec > 0 ? decode_splits(s.n_dec) : 1;
  s.layout = bucket ? MetaLayout::make(bucket, 0, bucket) : MetaLayout::make(s.rows, s.n_tiles, s.n_logits);
  const size_t meta_bytes = s.layout.bytes(static_cast<int64_t>(plan_.bt_flat.size()));
  ensure_meta(meta_bytes);
  pack_step(plan_, s.layout, meta_host_.as<uint8_t>());
  LLMP_CUDA_CHECK(cudaMemcpyAsync(meta_dev_.as(), meta_host_.as(), meta_bytes, cudaMemcpyHostToDevice, stream_));

  if (bucket && graphs_enabled_) {
    Graph& g = graphs_[bucket];
    if (!g.exec && !g.failed && ++g.seen >= 2) {
      // Second sighting of this bucket: capture it once, replay from now on.
      cudaGraph_t graph = nullptr;
      LLMP_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      enqueue(s);
      const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
      cudaError_t inst = end;
      if (end == cudaSuccess) inst = cudaGraphInstantiate(&g.exec, graph, 0);
      if (graph) LLMP_CUDA_CHECK(cudaGraphDestroy(graph));
      if (inst != cudaSuccess) {
        g.exec = nullptr;
        g.failed = true;
        (void)cudaGetLastError();
        log::warn("cuda graph capture failed; this batch size runs eagerly",
                  {{"batch", bucket}, {"error", std::string_view(cudaGetErrorString(inst))}});
      } else {
        ++stats_.graph_captures;
      }
    }
    if (g.exec) {
      LLMP_CUDA_CHECK(cudaGraphLaunch(g.exec, stream_));
      ++stats_.graph_replays;
    } else {
      enqueue(s);
      ++stats_.eager_steps;
    }
  } else {
    enqueue(s);
    ++stats_.eager_steps;
  }

  if (plan_.n_real_logits > 0 && job) {
    sample_piece(plan_.n_real_logits, *job);
    return;
  }
  if (plan_.n_real_logits > 0) {
    const size_t n = static_cast<size_t>(plan_.n_real_logits * vocab_);
    LLMP_CUDA_CHECK(cudaMemcpyAsync(logits + filled, logits_dev_.as(), n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    filled += n;
  }
  // The caller samples from the logits; the pinned metadata is reused by the next piece.
  LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::sample_piece(int64_t n, SampleJob& job) {
  // The piece's n logits rows (logits_dev_[0, n)) are rows [done, done + n) of the job.
  if (job.done + static_cast<size_t>(n) > job.rows.size()) {
    cuda_fail("forward_sampled", __FILE__, __LINE__, "internal", "more logits rows than sampling rows");
  }
  const std::span<const RowSampling> rows = job.rows.subspan(job.done, static_cast<size_t>(n));
  const int64_t words = (vocab_ + 63) / 64;
  size_t n_list = 0, n_mask_words = 0;
  int top = -1;  // alternatives to compute: the most any row asks for; -1: no row wants logprobs
  for (const RowSampling& r : rows) {
    const SamplingParams& p = *r.params;
    n_list += p.logit_bias.size() + (p.repetition_penalty != 1.0 ? r.seen.size() : 0) +
              (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0 ? r.output_tokens.size() : 0) +
              (r.suppress_eos ? job.eos_ids.size() : 0);
    if (!r.allowed.empty()) n_mask_words += static_cast<size_t>(words);
    if (p.logprobs) top = std::max(top, std::min(p.top_logprobs, kernels::kMaxTopK));
  }
  // Staging: rows | ids | values | masks, each 16-byte aligned.
  const size_t off_ids = align16(static_cast<size_t>(n) * sizeof(kernels::SampleRow));
  const size_t off_values = off_ids + align16(n_list * sizeof(int32_t));
  const size_t off_masks = off_values + align16(n_list * sizeof(float));
  const size_t bytes = off_masks + n_mask_words * sizeof(uint64_t);
  if (bytes > sample_in_host_.bytes()) {
    LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const size_t grown = std::max(bytes, sample_in_host_.bytes() * 2);
    sample_in_host_ = PinnedBuffer();
    sample_in_dev_ = DeviceBuffer();
    auto h = PinnedBuffer::allocate(grown, "sampling parameters");
    auto d = DeviceBuffer::allocate(grown, "sampling parameters");
    if (!h || !d) cuda_fail("forward_sampled", __FILE__, __LINE__, "out of memory", "cannot grow the sampling parameters");
    sample_in_host_ = std::move(*h);
    sample_in_dev_ = std::move(*d);
  }
  auto* base = sample_in_host_.as<uint8_t>();
  auto* out_rows = reinterpret_cast<kernels::SampleRow*>(base);
  auto* ids = reinterpret_cast<int32_t*>(base + off_ids);
  auto* values = reinterpret_cast<float*>(base + off_values);
  auto* masks = reinterpret_cast<uint64_t*>(base + off_masks);
  int32_t k = 0;
  int64_t mask_at = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const RowSampling& r = rows[i];
    const SamplingParams& p = *r.params;
    kernels::SampleRow d;
    // The same float conversions as the host Sampler.
    d.uniform = r.uniform;
    d.inv_temperature = p.greedy() ? 0.0f : static_cast<float>(1.0 / p.temperature);
    d.top_p = p.top_p;
    d.min_p = p.min_p > 0 ? static_cast<float>(p.min_p) : 0.0f;
    d.top_k = static_cast<int32_t>(std::min<int64_t>(p.top_k, INT32_MAX));
    d.repetition_penalty = static_cast<float>(p.repetition_penalty);
    d.bias_begin = k;
    for (const auto& [id, bias] : p.logit_bias) {
      ids[k] = id;
      values[k++] = bias;
    }
    d.bias_count = k - d.bias_begin;
    d.seen_begin = k;
    if (p.repetition_penalty != 1.0) {
      for (TokenId t : r.seen) {
        ids[k] = t;
        values[k++] = 0;
      }
    }
    d.seen_count = k - d.seen_begin;
    d.output_begin = k;
    if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
      for (size_t j = 0; j < r.output_tokens.size(); ++j) {
        ids[k] = r.output_tokens[j];
        values[k++] = static_cast<float>(p.presence_penalty + p.frequency_penalty * r.output_counts[j]);
      }
    }
    d.output_count = k - d.output_begin;
    d.banned_begin = k;
    if (r.suppress_eos) {
      for (TokenId t : job.eos_ids) {
        ids[k] = t;
        values[k++] = 0;
      }
    }
    d.banned_count = k - d.banned_begin;
    if (!r.allowed.empty()) {
      // Words past the grammar's bitset block their tokens, as apply_token_mask does.
      const size_t have = std::min(r.allowed.size(), static_cast<size_t>(words));
      std::copy_n(r.allowed.begin(), have, masks + mask_at);
      std::fill(masks + mask_at + static_cast<int64_t>(have), masks + mask_at + words, uint64_t{0});
      d.mask_word = mask_at;
      mask_at += words;
    }
    out_rows[i] = d;
  }
  uint8_t* dev = sample_in_dev_.as<uint8_t>();
  // Plain greedy rows (no list, no mask) are an argmax over the raw logits: many blocks per row
  // instead of the sampler's one, and nothing to upload.
  const bool plain_greedy = std::all_of(out_rows, out_rows + n, [](const kernels::SampleRow& d) {
    return d.inv_temperature == 0.0f && d.bias_count == 0 && d.seen_count == 0 && d.output_count == 0 &&
           d.banned_count == 0 && d.mask_word < 0;
  });
  if (!plain_greedy) LLMP_CUDA_CHECK(cudaMemcpyAsync(dev, base, bytes, cudaMemcpyHostToDevice, stream_));

  const SampleOut o = sample_out_layout(logits_cap_);
  uint8_t* out = sample_out_dev_.as<uint8_t>();
  uint8_t* out_host = sample_out_host_.as<uint8_t>();
  const auto* logits = logits_dev_.as<float>();
  float* lse = nullptr;
  if (top >= 0) {
    lse = reinterpret_cast<float*>(out + o.lse);
    LLMP_CUDA_CHECK(kernels::launch_logprobs_topk(logits, n, vocab_, top, lse, reinterpret_cast<int32_t*>(out + o.top_ids),
                                                  reinterpret_cast<float*>(out + o.top_logprobs), stream_));
  }
  if (plain_greedy) {
    LLMP_CUDA_CHECK(kernels::launch_argmax(logits, n, vocab_, reinterpret_cast<int32_t*>(out + o.ids), sample_work_.as(), lse,
                                           reinterpret_cast<float*>(out + o.logprob), stream_));
  } else {
    LLMP_CUDA_CHECK(kernels::launch_sample_rows(logits, n, vocab_, reinterpret_cast<const kernels::SampleRow*>(dev),
                                                reinterpret_cast<const int32_t*>(dev + off_ids),
                                                reinterpret_cast<const float*>(dev + off_values),
                                                n_mask_words ? reinterpret_cast<const uint64_t*>(dev + off_masks) : nullptr,
                                                sample_work_.as<float>(), lse, reinterpret_cast<int32_t*>(out + o.ids),
                                                reinterpret_cast<float*>(out + o.logprob), stream_));
  }
  const auto un = static_cast<size_t>(n);
  // ids and chosen logprobs are adjacent only when laid out for n rows; copy each part.
  LLMP_CUDA_CHECK(cudaMemcpyAsync(out_host + o.ids, out + o.ids, 4 * un, cudaMemcpyDeviceToHost, stream_));
  if (top >= 0) {
    LLMP_CUDA_CHECK(cudaMemcpyAsync(out_host + o.logprob, out + o.logprob, 4 * un, cudaMemcpyDeviceToHost, stream_));
    if (top > 0) {
      // Rows of `top` entries at a stride of `top` (launch_logprobs_topk's layout for k = top).
      const size_t t = static_cast<size_t>(top);
      LLMP_CUDA_CHECK(cudaMemcpyAsync(out_host + o.top_ids, out + o.top_ids, 4 * un * t, cudaMemcpyDeviceToHost, stream_));
      LLMP_CUDA_CHECK(cudaMemcpyAsync(out_host + o.top_logprobs, out + o.top_logprobs, 4 * un * t, cudaMemcpyDeviceToHost, stream_));
    }
  }
  LLMP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  const auto* got_ids = reinterpret_cast<const int32_t*>(out_host + o.ids);
  const auto* got_lp = reinterpret_cast<const float*>(out_host + o.logprob);
  const auto* got_top_ids = reinterpret_cast<const int32_t*>(out_host + o.top_ids);
  const auto* got_top_lp = reinterpret_cast<const float*>(out_host + o.top_logprobs);
  for (size_t i = 0; i < rows.size(); ++i) {
    const SamplingParams& p = *rows[i].params;
    const size_t at = job.done + i;
    job.ids[at] = got_ids[i];
    if (!p.logprobs) continue;
    TokenLogprob& lp = job.logprobs[at];
    lp.token = got_ids[i];
    lp.logprob = got_lp[i];
    lp.top.clear();
    for (int j = 0; j < std::min(p.top_logprobs, top); ++j) {
      const size_t e = i * static_cast<size_t>(top) + static_cast<size_t>(j);
      lp.top.emplace_back(got_top_ids[e], got_top_lp[e]);
    }
  }
  job.done += rows.size();
}

void CudaBackend::enqueue(const Shape& s) {
  const DeviceModel& m = *model_;
  const auto* meta = meta_dev_.as<uint8_t>();
  auto i32 = [&](size_t off) { return reinterpret_cast<const int32_t*>(meta + off); };
  const MetaLayout& L = s.layout;
  const int64_t n = s.rows;
  auto* x = x_.as<float>();
  auto* delta = delta_.as<float>();
  auto* qkv = qkv_.as<float>();
  auto* gu = gu_.as<float>();
  const ActType act = m.act;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));

  // With fused quantisation, the norms and SwiGLU also write their outputs as q8 rows, which
  // the int8 GEMV / MMA of the next linear read instead of quantising again.
  const bool fused_q8 = n <= q8_fused_rows_;
  const kernels::Q8Rows q8_hidden = fused_q8 ? kernels::q8_rows_at(q8_act_.as(), static_cast<int>(n), hidden_) : kernels::Q8Rows{};
  const kernels::Q8Rows q8_ffn = fused_q8 ? kernels::q8_rows_at(q8_act_.as(), static_cast<int>(n), ffn_) : kernels::Q8Rows{};
  const kernels::Q8Rows* xq_hidden = fused_q8 ? &q8_hidden : nullptr;
  const kernels::Q8Rows* xq_ffn = fused_q8 ? &q8_ffn : nullptr;

  // One-row steps with fold_norm_: the GEMVs that add to x (wo, down) also write the next
  // norm's x · g into xg_ and its block sums; the GEMVs after (qkv, gate/up, output) read them.
  const bool fold = fold_norm_ && n == 1;
  auto folded = [&](const float* weight) {
    return kernels::FoldedNorm{weight, xg_.as(), norm_sumsq_.as<float>(), hidden_, eps_};
  };

  LLMP_CUDA_CHECK(kernels::launch_embedding_gather(m.tok_embd, i32(L.token_ids), n, x, stream_));
  for (int64_t l = 0; l < n_layers_; ++l) {
    const DeviceLayer& layer = m.layers[static_cast<size_t>(l)];
    // The attention norm: folded into the q/k/v product (one-row steps past layer 0), or
    // x += previous layer's FFN output (none before layer 0) and xn = norm(x).
    const bool fold_attn = fold && l > 0;
    const kernels::FoldedNorm attn_norm = folded(layer.attn_norm);
    const kernels::FoldedNorm* qkv_norm = fold_attn ? &attn_norm : nullptr;
    if (!fold_attn) {
      LLMP_CUDA_CHECK(kernels::launch_rms_norm_residual(x, l == 0 ? nullptr : delta, nullptr, layer.attn_norm, n, hidden_,
                                                        eps_, act, xn_.as(), stream_, xq_hidden));
    }
    const void* qkv_in = fold_attn ? xg_.as() : xn_.as();
    // The q/k/v product, then RoPE on q and k and k and v stored in this layer's cache (one
    // launch, or one launch for all of it at one row).
    const kernels::RopeKvWrite kv_write{reinterpret_cast<const int64_t*>(meta + L.slots), static_cast<int>(bs_), k_layer(l),
                                        v_layer(l), kv_type_ == ActType::bf16};
    const kernels::QkvRope rope{layer.qkv_bias, i32(L.positions), m.rope_freqs, m.rope_pos_scale, interleaved_,
                                n_heads_, n_kv_heads_, head_dim_, kv_write};
    if (!linear_->qkv_rope(layer.qkv, qkv_in, n, qkv, rope, qkv_norm)) {
      if (fold_attn) linear_->run_folded(layer.qkv, qkv_in, qkv, qkv_norm, nullptr);
      else linear_->run(layer.qkv, qkv_in, hidden_, n, qkv, qkv_w_, false, xq_hidden);
      LLMP_CUDA_CHECK(kernels::launch_rope_qk(qkv, qkv_w_, layer.qkv_bias, i32(L.positions), m.rope_freqs, m.rope_pos_scale,
                                              interleaved_, n, n_heads_, n_kv_heads_, head_dim_, stream_, kv_write));
    }
    if (s.n_dec > 0) {
      kernels::PagedDecodeArgs d;
      d.q = qkv;
      d.q_stride = qkv_w_;
      d.rows = i32(L.dec_rows);
      d.k_cache = k_layer(l);
      d.v_cache = v_layer(l);
      d.block_tables = i32(L.bt_flat);
      d.bt_offsets = i32(L.dec_bt);
      d.ctx_lens = i32(L.dec_ctx);
      d.n_items = s.n_dec;
      d.n_heads = n_heads_;
      d.n_kv_heads = n_kv_heads_;
      d.head_dim = head_dim_;
      d.block_size = static_cast<int>(bs_);
      d.scale = scale;
      d.n_splits = s.n_splits;
      d.partial_o = partial_o_.as<float>();
      d.partial_ml = partial_ml_.as<float>();
      d.kv_type = kv_type_;
      d.out_type = act;
      d.out = attn_.as();
      d.out_stride = q_dim_;
      LLMP_CUDA_CHECK(kernels::launch_paged_attention_decode(d, stream_));
    }
    if (s.n_tiles > 0) {
      kernels::PagedPrefillArgs p;
      p.q = qkv;
      p.q_stride = qkv_w_;
      p.k_cache = k_layer(l);
      p.v_cache = v_layer(l);
      p.block_tables = i32(L.bt_flat);
      p.tile_bt = i32(L.tile_bt);
      p.tile_row = i32(L.tile_row);
      p.tile_pos = i32(L.tile_pos);
      p.tile_n = i32(L.tile_n);
      p.n_tiles = s.n_tiles;
      p.n_heads = n_heads_;
      p.n_kv_heads = n_kv_heads_;
      p.head_dim = head_dim_;
      p.block_size = static_cast<int>(bs_);
      p.scale = scale;
      p.kv_type = kv_type_;
      p.out_type = act;
      p.out = attn_.as();
      p.out_stride = q_dim_;
      LLMP_CUDA_CHECK(kernels::launch_paged_attention_prefill(p, stream_));
    }
    if (fold) {
      const kernels::FoldedNorm ffn_norm = folded(layer.ffn_norm);
      linear_->run_folded(layer.wo, attn_.as(), x, nullptr, &ffn_norm);
      if (!linear_->gate_up_swiglu(layer.gate_up, xg_.as(), n, act_.as(), &ffn_norm)) {
        linear_->run_folded(layer.gate_up, xg_.as(), gu, &ffn_norm, nullptr);
        LLMP_CUDA_CHECK(kernels::launch_swiglu(gu, n, ffn_, act, act_.as(), stream_, nullptr));
      }
      const kernels::FoldedNorm next_norm = folded(l + 1 < n_layers_ ? m.layers[static_cast<size_t>(l + 1)].attn_norm : m.output_norm);
      linear_->run_folded(layer.down, act_.as(), x, nullptr, &next_norm);
      continue;
    }
    linear_->run(layer.wo, attn_.as(), q_dim_, n, delta, hidden_, false);
    LLMP_CUDA_CHECK(
        kernels::launch_rms_norm_residual(x, delta, nullptr, layer.ffn_norm, n, hidden_, eps_, act, xn_.as(), stream_, xq_hidden));
    if (xq_ffn || !linear_->gate_up_swiglu(layer.gate_up, xn_.as(), n, act_.as())) {
      linear_->run(layer.gate_up, xn_.as(), hidden_, n, gu, 2 * ffn_, false, xq_hidden);
      LLMP_CUDA_CHECK(kernels::launch_swiglu(gu, n, ffn_, act, act_.as(), stream_, xq_ffn));
    }
    linear_->run(layer.down, act_.as(), ffn_, n, delta, hidden_, false, xq_ffn);
  }
  if (s.n_logits > 0 && fold) {
    // x holds the last residual add already; the one row's logits.
    const kernels::FoldedNorm output_norm = folded(m.output_norm);
    linear_->run_folded(m.output, xg_.as(), logits_dev_.as<float>(), &output_norm, nullptr);
  } else if (s.n_logits > 0) {
    // The last residual add only for the rows whose logits are wanted.
    const kernels::Q8Rows q8_out = fused_q8 ? kernels::q8_rows_at(q8_act_.as(), static_cast<int>(s.n_logits), hidden_) : kernels::Q8Rows{};
    const kernels::Q8Rows* xq_out = fused_q8 ? &q8_out : nullptr;
    LLMP_CUDA_CHECK(kernels::launch_rms_norm_residual(x, delta, i32(L.logit_rows), m.output_norm, s.n_logits, hidden_, eps_, act,
                                                      xn_out_.as(), stream_, xq_out));
    linear_->run(m.output, xn_out_.as(), hidden_, s.n_logits, logits_dev_.as<float>(), vocab_, false, xq_out);
  }
}

void CudaBackend::copy_block(int64_t src, int64_t dst) {
  LLMP_CUDA_CHECK(cudaSetDevice(device_));
  LLMP_CUDA_CHECK(kernels::launch_kv_cache_copy_block(kv_k_.as<uint16_t>(), kv_v_.as<uint16_t>(), n_layers_, n_blocks_total_,
                                                      n_kv_heads_ * bs_ * head_dim_, src, dst, stream_));
}

}  // namespace

CudaBackendStats cuda_backend_stats(const DecoderBackend& backend) {
  if (const auto* b = dynamic_cast<const CudaBackend*>(&backend)) return b->stats();
  return {};
}

}  // namespace cuda

Result<std::unique_ptr<DecoderBackend>> make_cuda_backend(const LoadedModel& model, int device, int64_t block_size,
                                                          double free_memory_fraction, KvType kv_type) {
  const ModelConfig& c = model.config;
  const std::string where = fmt::format("loading {} onto cuda:{}", model.path, device);
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    return error(cuda::cuda_status(e, fmt::format("{}: no usable CUDA device", where)));
  }
  if (device < 0 || device >= count) {
    return error(StatusCode::unavailable, fmt::format("{}: this machine has {} CUDA device(s)", where, count));
  }
  if (c.is_encoder()) {
    return error(StatusCode::unimplemented, fmt::format("{}: encoders run on the CPU backend", where));
  }
  if (c.head_dim % 8 != 0 || c.head_dim > kernels::kMaxHeadDim) {
    return error(StatusCode::unimplemented,
                 fmt::format("{}: head_dim {} is not supported by the CUDA kernels (a multiple of 8, at most {})", where,
                             c.head_dim, kernels::kMaxHeadDim));
  }
  if (block_size < 1 || block_size > (1 << 16)) {
    return error(StatusCode::invalid_argument, fmt::format("{}: block_size {} is out of range", where, block_size));
  }
  auto backend = std::make_unique<cuda::CudaBackend>(model, device, block_size, kv_type);
  if (auto r = backend->init(free_memory_fraction); !r) return error(r.error());
  return std::unique_ptr<DecoderBackend>(std::move(backend));
}

}  // namespace llmp::engine
