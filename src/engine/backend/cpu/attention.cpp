#include "backend/cpu/attention.h"

#include <cmath>

#include "backend/cpu/half.h"
#include "backend/cpu/ops.h"

namespace llmp::engine {

void attend_one_head(const float* q, const KvStorage& kv, int64_t layer, int64_t kv_head, const int32_t* blocks,
                     int64_t n_ctx, int64_t head_dim, float* out, float* scores) {
  const int64_t bs = kv.block_size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = kv.k(layer, blocks[p / bs], kv_head) + (p % bs) * head_dim;
    float s = 0;
    for (int64_t i = 0; i < head_dim; ++i) s += q[i] * fp16_to_f32(k[i]);
    scores[p] = s * scale;
  }
  softmax(scores, n_ctx);
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* v = kv.v(layer, blocks[p / bs], kv_head) + (p % bs) * head_dim;
    const float w = scores[p];
    for (int64_t i = 0; i < head_dim; ++i) out[i] += w * fp16_to_f32(v[i]);
  }
}

void kv_store(KvStorage& kv, int64_t layer, const int32_t* blocks, int64_t pos, const float* k, const float* v,
              int64_t n_kv_heads, int64_t head_dim) {
  const int64_t bs = kv.block_size();
  const int64_t block = blocks[pos / bs], slot = pos % bs;
  for (int64_t h = 0; h < n_kv_heads; ++h) {
    uint16_t* kd = kv.k(layer, block, h) + slot * head_dim;
    uint16_t* vd = kv.v(layer, block, h) + slot * head_dim;
    for (int64_t i = 0; i < head_dim; ++i) {
      kd[i] = f32_to_fp16(k[h * head_dim + i]);
      vd[i] = f32_to_fp16(v[h * head_dim + i]);
    }
  }
}

}  // namespace llmp::engine
