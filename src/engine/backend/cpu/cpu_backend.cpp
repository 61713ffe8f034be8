#include "backend/decoder_backend.h"
#include "kv_cache/kv_storage.h"

namespace llmp::engine {
namespace {

class CpuBackend final : public DecoderBackend {
 public:
  CpuBackend(const LoadedModel& model, ThreadPool& pool, KvStorage kv)
      : decoder_(model.config, model.weights, pool), kv_(std::move(kv)) {}

  std::string name() const override { return "cpu"; }
  int64_t kv_blocks() const override { return kv_.n_blocks(); }
  std::span<float> forward(std::span<const SequenceChunk> batch) override {
    decoder_.forward(batch, kv_, logits_);
    return logits_;
  }
  void copy_block(int64_t src, int64_t dst) override { kv_.copy_block(src, dst); }

 private:
  Decoder decoder_;
  KvStorage kv_;
  std::vector<float> logits_;  // [rows, vocab] of the last forward
};

}  // namespace

Result<std::unique_ptr<DecoderBackend>> make_cpu_backend(const LoadedModel& model, ThreadPool& pool, int64_t block_size,
                                                         int64_t kv_budget_bytes, KvType kv_type) {
  const ModelConfig& c = model.config;
  const int64_t per_block = KvStorage::bytes_per_block(c.n_layers, c.n_kv_heads, c.head_dim, block_size);
  const int64_t n_blocks = std::max<int64_t>(1, kv_budget_bytes / per_block);
  auto kv = KvStorage::create(c.n_layers, c.n_kv_heads, c.head_dim, block_size, n_blocks, kv_type);
  if (!kv) return error(kv.error());
  return std::unique_ptr<DecoderBackend>(new CpuBackend(model, pool, std::move(*kv)));
}

}  // namespace llmp::engine
