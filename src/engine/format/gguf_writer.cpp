#include "format/gguf_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace llmp::engine {
namespace {

class Out {
 public:
  explicit Out(std::FILE* f) : f_(f) {}
  template <class T>
  void pod(const T& v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) ok_ = false;
    pos_ += n;
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[64] = {};
    while (pos_ % alignment) bytes(zeros, std::min<uint64_t>(alignment - pos_ % alignment, sizeof zeros));
  }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  uint64_t pos_ = 0;
  bool ok_ = true;
};

void write_value(Out& o, const GgufWriter::Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, uint32_t>) { o.pod<uint32_t>(4); o.pod(x); }
        else if constexpr (std::is_same_v<T, int32_t>) { o.pod<uint32_t>(5); o.pod(x); }
        else if constexpr (std::is_same_v<T, float>) { o.pod<uint32_t>(6); o.pod(x); }
        else if constexpr (std::is_same_v<T, bool>) { o.pod<uint32_t>(7); o.pod<uint8_t>(x ? 1 : 0); }
        else if constexpr (std::is_same_v<T, std::string>) { o.pod<uint32_t>(8); o.str(x); }
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          o.pod<uint32_t>(9); o.pod<uint32_t>(8); o.pod<uint64_t>(x.size());
          for (const auto& s : x) o.str(s);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          o.pod<uint32_t>(9); o.pod<uint32_t>(6); o.pod<uint64_t>(x.size());
          o.bytes(x.data(), x.size() * sizeof(float));
        } else {
          o.pod<uint32_t>(9); o.pod<uint32_t>(5); o.pod<uint64_t>(x.size());
          o.bytes(x.data(), x.size() * sizeof(int32_t));
        }
      },
      v);
}

size_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return static_cast<size_t>(rows) * row_bytes(dtype, shape.back());
}

}  // namespace

void GgufWriter::add_metadata(std::string key, Value value) { metadata_.emplace_back(std::move(key), std::move(value)); }

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Producer producer) {
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(producer)});
}

Result<void> GgufWriter::write(const std::string& path) const {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) return error(StatusCode::permission_denied, fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  Out o(file.get());
  o.bytes("GGUF", 4);
  o.pod<uint32_t>(3);
  o.pod<uint64_t>(tensors_.size());
  o.pod<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    o.str(key);
    write_value(o, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    o.str(t.name);
    o.pod<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) o.pod<uint64_t>(static_cast<uint64_t>(*it));
    o.pod<uint32_t>(ggml_type_of(t.dtype));
    o.pod<uint64_t>(offset);
    offset += (tensor_bytes(t.dtype, t.shape) + alignment_ - 1) / alignment_ * alignment_;
  }
  o.pad_to(alignment_);
  std::vector<uint8_t> buffer;
  for (const auto& t : tensors_) {
    buffer.assign(tensor_bytes(t.dtype, t.shape), 0);
    t.producer(buffer.data());
    o.bytes(buffer.data(), buffer.size());
    o.pad_to(alignment_);
  }
  if (!o.ok() || std::fflush(file.get()) != 0) {
    return error(StatusCode::resource_exhausted, fmt::format("{}: write failed: {}", path, std::strerror(errno)));
  }
  return ok();
}

}  // namespace llmp::engine
