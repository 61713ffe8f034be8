#include "backend/cpu/attention.h"

#include <cmath>

#include <vector>

#include "backend/cpu/dot_kernels.h"
#include "backend/cpu/half.h"
#include "backend/cpu/ops.h"

namespace llmp::engine {

void attend_one_head(const float* q, const KvStorage& kv, int64_t layer, int64_t kv_head, const int32_t* blocks,
                     int64_t n_ctx, int64_t head_dim, float* out, float* scores) {
  const int64_t bs = kv.block_size();
  const int64_t n_blocks = (n_ctx + bs - 1) / bs;
  // The kernels take plain pointers to each block's K and V of this head.
  thread_local std::vector<const uint16_t*> k_blocks, v_blocks;
  k_blocks.resize(static_cast<size_t>(n_blocks));
  v_blocks.resize(static_cast<size_t>(n_blocks));
  for (int64_t b = 0; b < n_blocks; ++b) {
    k_blocks[static_cast<size_t>(b)] = kv.k(layer, blocks[b], kv_head);
    v_blocks[static_cast<size_t>(b)] = kv.v(layer, blocks[b], kv_head);
  }
  const auto attend = kv.type() == KvType::bf16 ? dot_kernels().attend_bf16 : dot_kernels().attend_f16;
  attend(q, k_blocks.data(), v_blocks.data(), bs, n_ctx, head_dim, 1.0f / std::sqrt(static_cast<float>(head_dim)), scores, out);
}

void kv_store(KvStorage& kv, int64_t layer, const int32_t* blocks, int64_t pos, const float* k, const float* v,
              int64_t n_kv_heads, int64_t head_dim) {
  const int64_t bs = kv.block_size();
  const int64_t block = blocks[pos / bs], slot = pos % bs;
  for (int64_t h = 0; h < n_kv_heads; ++h) {
    uint16_t* kd = kv.k(layer, block, h) + slot * head_dim;
    uint16_t* vd = kv.v(layer, block, h) + slot * head_dim;
    const auto store = kv.type() == KvType::bf16 ? f32_to_bf16 : f32_to_fp16;
    for (int64_t i = 0; i < head_dim; ++i) {
      kd[i] = store(k[h * head_dim + i]);
      vd[i] = store(v[h * head_dim + i]);
    }
  }
}

}  // namespace llmp::engine
