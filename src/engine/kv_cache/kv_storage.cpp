#include "kv_cache/kv_storage.h"

#include <fmt/format.h>

#include <sys/mman.h>

#include <cstring>

namespace llmp::engine {

int64_t KvStorage::bytes_per_block(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t block_size) {
  return 2 * n_layers * n_kv_heads * block_size * head_dim * static_cast<int64_t>(sizeof(uint16_t));
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  if (name == "f16") return KvType::f16;
  if (name == "bf16") return KvType::bf16;
  return std::nullopt;
}

Result<KvStorage> KvStorage::create(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t block_size,
                                    int64_t n_blocks, KvType type) {
  KvStorage s;
  s.type_ = type;
  s.n_layers_ = n_layers;
  s.n_kv_heads_ = n_kv_heads;
  s.head_dim_ = head_dim;
  s.block_size_ = block_size;
  s.n_blocks_ = n_blocks;
  s.elems_ = static_cast<size_t>(n_layers * n_blocks * n_kv_heads * block_size * head_dim);
  const size_t bytes = s.elems_ * sizeof(uint16_t);
  for (auto* target : {&s.k_, &s.v_}) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      return error(StatusCode::resource_exhausted,
                   fmt::format("cannot reserve the KV cache: {} blocks need {} bytes", n_blocks, 2 * bytes));
    }
    *target = std::unique_ptr<uint16_t, Unmap>(static_cast<uint16_t*>(p), Unmap{bytes});
  }
  return s;
}

void KvStorage::Unmap::operator()(uint16_t* p) const {
  if (p) ::munmap(p, bytes);
}

void KvStorage::copy_block(int64_t src, int64_t dst) {
  const size_t block_elems = static_cast<size_t>(n_kv_heads_ * block_size_ * head_dim_);
  for (int64_t l = 0; l < n_layers_; ++l) {
    std::memcpy(k(l, dst, 0), k(l, src, 0), block_elems * sizeof(uint16_t));
    std::memcpy(v(l, dst, 0), v(l, src, 0), block_elems * sizeof(uint16_t));
  }
}

}  // namespace llmp::engine
