#pragma once
// Attention of one query token over a sequence's cached keys and values (paged, f16 or bf16).

#include <cstdint>

#include "kv_cache/kv_storage.h"

namespace llmp::engine {

//! For one head: out = softmax(q · Kᵀ / √d) · V over positions [0, n_ctx) of the sequence
//! whose block table is `blocks`. q: [head_dim]; out: [head_dim]; scores: scratch of n_ctx.
void attend_one_head(const float* q, const KvStorage& kv, int64_t layer, int64_t kv_head, const int32_t* blocks,
                     int64_t n_ctx, int64_t head_dim, float* out, float* scores);

//! Stores one token's k and v (f32, [head_dim] per kv head) at position `pos`, rounded to the
//! cache's type.
void kv_store(KvStorage& kv, int64_t layer, const int32_t* blocks, int64_t pos, const float* k, const float* v,
              int64_t n_kv_heads, int64_t head_dim);

}  // namespace llmp::engine
