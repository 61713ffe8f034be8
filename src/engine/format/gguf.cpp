#include "format/gguf.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

namespace llmp::engine {
namespace {

constexpr uint64_t kMaxStringBytes = 1ull << 30;   // no key or value string is this long
constexpr uint64_t kMaxArrayElems = 1ull << 31;
constexpr uint64_t kMaxTensors = 1ull << 20;
constexpr uint64_t kMaxMetadata = 1ull << 20;

// Bounds-checked little-endian reads from the mapping. Every failure names the byte offset.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  size_t offset() const { return pos_; }

  Status truncated(size_t need, std::string_view what) const {
    return Status(StatusCode::data_loss,
                  fmt::format("{}: truncated at byte {}: {} needs {} bytes, {} left", path_, pos_, what, need,
                              size_ - pos_));
  }

  template <class T>
  Result<T> read(std::string_view what) {
    if (size_ - pos_ < sizeof(T)) return error(truncated(sizeof(T), what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string_view> read_string(std::string_view what) {
    const size_t at = pos_;
    auto len = read<uint64_t>(what);
    if (!len) return error(len.error());
    if (*len > kMaxStringBytes) {
      return error(StatusCode::data_loss, fmt::format("{}: byte {}: {} claims a length of {} bytes", path_, at, what, *len));
    }
    if (size_ - pos_ < *len) return error(truncated(static_cast<size_t>(*len), what));
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(*len));
    pos_ += static_cast<size_t>(*len);
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

std::string_view type_name(GgufType t) {
  switch (t) {
    case GgufType::u8: return "u8";
    case GgufType::i8: return "i8";
    case GgufType::u16: return "u16";
    case GgufType::i16: return "i16";
    case GgufType::u32: return "u32";
    case GgufType::i32: return "i32";
    case GgufType::f32: return "f32";
    case GgufType::boolean: return "bool";
    case GgufType::string: return "string";
    case GgufType::array: return "array";
    case GgufType::u64: return "u64";
    case GgufType::i64: return "i64";
    case GgufType::f64: return "f64";
  }
  return "?";
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::u8: case GgufType::i8: case GgufType::u16: case GgufType::i16: case GgufType::u32:
    case GgufType::i32: case GgufType::u64: case GgufType::i64: return true;
    default: return false;
  }
}

// Reads one scalar of type `t` as int64 / uint64 / double / bool.
Result<GgufValue> read_scalar(Reader& r, GgufType t, std::string_view what) {
  GgufValue v;
  v.type = t;
  auto widen = [&](auto res) -> Result<GgufValue> {
    if (!res) return error(res.error());
    if constexpr (std::is_same_v<std::decay_t<decltype(*res)>, uint64_t>) v.value = *res;
    else v.value = static_cast<int64_t>(*res);
    return v;
  };
  switch (t) {
    case GgufType::u8: return widen(r.read<uint8_t>(what));
    case GgufType::i8: return widen(r.read<int8_t>(what));
    case GgufType::u16: return widen(r.read<uint16_t>(what));
    case GgufType::i16: return widen(r.read<int16_t>(what));
    case GgufType::u32: return widen(r.read<uint32_t>(what));
    case GgufType::i32: return widen(r.read<int32_t>(what));
    case GgufType::i64: return widen(r.read<int64_t>(what));
    case GgufType::u64: return widen(r.read<uint64_t>(what));
    case GgufType::f32: {
      auto f = r.read<float>(what);
      if (!f) return error(f.error());
      v.value = static_cast<double>(*f);
      return v;
    }
    case GgufType::f64: {
      auto f = r.read<double>(what);
      if (!f) return error(f.error());
      v.value = *f;
      return v;
    }
    case GgufType::boolean: {
      auto b = r.read<uint8_t>(what);
      if (!b) return error(b.error());
      v.value = *b != 0;
      return v;
    }
    case GgufType::string: {
      auto s = r.read_string(what);
      if (!s) return error(s.error());
      v.value = *s;
      return v;
    }
    default: break;
  }
  return error(StatusCode::data_loss, fmt::format("{}: unknown value type {}", what, static_cast<uint32_t>(t)));
}

Result<GgufValue> read_value(Reader& r, const std::string& path, const std::string& key) {
  const size_t at = r.offset();
  auto raw_type = r.read<uint32_t>(key);
  if (!raw_type) return error(raw_type.error());
  if (*raw_type > static_cast<uint32_t>(GgufType::f64)) {
    return error(StatusCode::data_loss, fmt::format("{}: byte {}: key '{}' has unknown value type {}", path, at, key, *raw_type));
  }
  const auto type = static_cast<GgufType>(*raw_type);
  if (type != GgufType::array) return read_scalar(r, type, key);

  auto raw_elem = r.read<uint32_t>(key);
  if (!raw_elem) return error(raw_elem.error());
  if (*raw_elem > static_cast<uint32_t>(GgufType::f64) || *raw_elem == static_cast<uint32_t>(GgufType::array)) {
    return error(StatusCode::data_loss, fmt::format("{}: key '{}': unsupported array element type {}", path, key, *raw_elem));
  }
  auto count = r.read<uint64_t>(key);
  if (!count) return error(count.error());
  if (*count > kMaxArrayElems) {
    return error(StatusCode::data_loss, fmt::format("{}: key '{}': array claims {} elements", path, key, *count));
  }
  GgufValue v;
  v.type = GgufType::array;
  v.array_type = static_cast<GgufType>(*raw_elem);
  const size_t n = static_cast<size_t>(*count);
  if (v.array_type == GgufType::string) {
    std::vector<std::string_view> items;
    items.reserve(std::min<size_t>(n, 1 << 20));
    for (size_t i = 0; i < n; ++i) {
      auto s = r.read_string(key);
      if (!s) return error(s.error().with_context(fmt::format("key '{}' element {}", key, i)));
      items.push_back(*s);
    }
    v.value = std::move(items);
  } else if (v.array_type == GgufType::f32 || v.array_type == GgufType::f64) {
    std::vector<double> items;
    items.reserve(std::min<size_t>(n, 1 << 20));
    for (size_t i = 0; i < n; ++i) {
      auto e = read_scalar(r, v.array_type, key);
      if (!e) return error(e.error());
      items.push_back(std::get<double>(e->value));
    }
    v.value = std::move(items);
  } else if (v.array_type == GgufType::boolean) {
    std::vector<bool> items;
    for (size_t i = 0; i < n; ++i) {
      auto e = read_scalar(r, v.array_type, key);
      if (!e) return error(e.error());
      items.push_back(std::get<bool>(e->value));
    }
    v.value = std::move(items);
  } else {
    std::vector<int64_t> items;
    items.reserve(std::min<size_t>(n, 1 << 20));
    for (size_t i = 0; i < n; ++i) {
      auto e = read_scalar(r, v.array_type, key);
      if (!e) return error(e.error());
      if (auto* u = std::get_if<uint64_t>(&e->value)) items.push_back(static_cast<int64_t>(*u));
      else items.push_back(std::get<int64_t>(e->value));
    }
    v.value = std::move(items);
  }
  return v;
}

}  // namespace

std::string GgufValue::describe() const {
  if (type != GgufType::array) return std::string(type_name(type));
  size_t n = std::visit(
      [](const auto& x) -> size_t {
        if constexpr (requires { x.size(); } && !std::is_same_v<std::decay_t<decltype(x)>, std::string_view>) return x.size();
        else return 0;
      },
      value);
  return fmt::format("array of {} ({})", type_name(array_type), n);
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return error(mapped.error());
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->file_ = std::move(*mapped);
  Reader r(f->file_->data(), f->file_->size(), path);

  auto magic = r.read<uint32_t>("magic");
  if (!magic) return error(magic.error());
  if (std::memcmp(f->file_->data(), "GGUF", 4) != 0) {
    return error(StatusCode::invalid_argument, fmt::format("{}: not a GGUF file (bad magic at byte 0)", path));
  }
  auto version = r.read<uint32_t>("version");
  if (!version) return error(version.error());
  if (*version != 2 && *version != 3) {
    return error(StatusCode::invalid_argument, fmt::format("{}: GGUF version {} is not supported (2 and 3 are)", path, *version));
  }
  f->version_ = *version;
  auto n_tensors = r.read<uint64_t>("tensor count");
  auto n_kv = r.read<uint64_t>("metadata count");
  if (!n_tensors) return error(n_tensors.error());
  if (!n_kv) return error(n_kv.error());
  if (*n_tensors > kMaxTensors || *n_kv > kMaxMetadata) {
    return error(StatusCode::data_loss, fmt::format("{}: header claims {} tensors and {} metadata keys", path, *n_tensors, *n_kv));
  }

  for (uint64_t i = 0; i < *n_kv; ++i) {
    auto key = r.read_string("metadata key");
    if (!key) return error(key.error());
    std::string k(*key);
    auto value = read_value(r, path, k);
    if (!value) return error(value.error());
    if (f->metadata_.count(k)) {
      return error(StatusCode::data_loss, fmt::format("{}: metadata key '{}' appears twice", path, k));
    }
    f->metadata_.emplace(std::move(k), std::move(*value));
  }
  if (const auto* a = f->find("general.alignment")) {
    const auto* v = std::get_if<int64_t>(&a->value);
    const int64_t alignment = v ? *v : 0;
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      return error(StatusCode::data_loss, fmt::format("{}: general.alignment must be a power of two", path));
    }
    f->alignment_ = static_cast<uint64_t>(alignment);
  }

  struct Info {
    std::string name;
    std::vector<int64_t> shape;
    uint32_t ggml_type;
    uint64_t offset;
    size_t info_at;
  };
  std::vector<Info> infos;
  infos.reserve(static_cast<size_t>(*n_tensors));
  for (uint64_t i = 0; i < *n_tensors; ++i) {
    Info info;
    info.info_at = r.offset();
    auto name = r.read_string("tensor name");
    if (!name) return error(name.error());
    info.name = std::string(*name);
    auto n_dims = r.read<uint32_t>(info.name);
    if (!n_dims) return error(n_dims.error());
    if (*n_dims == 0 || *n_dims > 4) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' has {} dimensions", path, info.name, *n_dims));
    }
    std::vector<int64_t> ne(*n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = r.read<uint64_t>(info.name);
      if (!dim) return error(dim.error());
      if (*dim == 0 || *dim > (1ull << 40) || numel > std::numeric_limits<uint64_t>::max() / *dim) {
        return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' has an invalid dimension {}", path, info.name, *dim));
      }
      numel *= *dim;
      ne[d] = static_cast<int64_t>(*dim);
    }
    // GGUF lists the fastest-varying dimension first; we keep PyTorch order.
    info.shape.assign(ne.rbegin(), ne.rend());
    auto type = r.read<uint32_t>(info.name);
    auto offset = r.read<uint64_t>(info.name);
    if (!type) return error(type.error());
    if (!offset) return error(offset.error());
    info.ggml_type = *type;
    info.offset = *offset;
    infos.push_back(std::move(info));
  }
  f->data_offset_ = (r.offset() + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  const uint64_t file_size = f->file_->size();
  if (f->data_offset_ > file_size && !infos.empty()) {
    return error(StatusCode::data_loss, fmt::format("{}: truncated: tensor data would start at byte {}, file has {}", path,
                                                    f->data_offset_, file_size));
  }

  for (auto& info : infos) {
    auto dtype = dtype_from_ggml(info.ggml_type);
    if (!dtype) {
      return error(StatusCode::unimplemented,
                   fmt::format("{}: tensor '{}' has type {}, which this engine does not load (f32, f16, bf16, q8_0, "
                               "q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl and iq4_xs are supported)",
                               path, info.name, ggml_type_name(info.ggml_type)));
    }
    const auto& di = dtype_info(*dtype);
    const int64_t cols = info.shape.back();
    if (cols % di.block_elems != 0) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' ({}) has rows of {} elements, not a multiple of {}",
                                                      path, info.name, di.name, cols, di.block_elems));
    }
    if (info.offset % f->alignment_ != 0) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' data offset {} is not aligned to {}", path,
                                                      info.name, info.offset, f->alignment_));
    }
    Tensor t;
    t.name = info.name;
    t.dtype = *dtype;
    t.shape = info.shape;
    t.bytes = static_cast<size_t>(t.rows()) * row_bytes(t.dtype, cols);
    const uint64_t begin = f->data_offset_ + info.offset;
    if (begin > file_size || file_size - begin < t.bytes) {
      return error(StatusCode::data_loss,
                   fmt::format("{}: tensor '{}' at byte {}: its {} bytes run past the end of the file ({} bytes)", path,
                               info.name, begin, t.bytes, file_size));
    }
    t.data = f->file_->data() + begin;
    if (f->tensor_index_.count(t.name)) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' appears twice", path, t.name));
    }
    f->tensor_index_[t.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const Tensor* GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Status missing(const std::string& path, std::string_view key) {
  return Status(StatusCode::not_found, fmt::format("{}: metadata key '{}' is missing", path, key));
}
Status wrong_type(const std::string& path, std::string_view key, const GgufValue& v, std::string_view want) {
  return Status(StatusCode::invalid_argument, fmt::format("{}: metadata key '{}' is {}, expected {}", path, key, v.describe(), want));
}
}  // namespace

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* s = std::get_if<std::string_view>(&v->value)) return *s;
  return error(wrong_type(path(), key, *v, "string"));
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* i = std::get_if<int64_t>(&v->value)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v->value)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(*u);
  }
  return error(wrong_type(path(), key, *v, "an integer"));
}

Result<double> GgufFile::get_float(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* d = std::get_if<double>(&v->value)) return *d;
  if (is_integer(v->type)) {
    auto i = get_int(key);
    if (i) return static_cast<double>(*i);
  }
  return error(wrong_type(path(), key, *v, "a number"));
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  return error(wrong_type(path(), key, *v, "a bool"));
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* a = std::get_if<std::vector<std::string_view>>(&v->value)) return *a;
  return error(wrong_type(path(), key, *v, "an array of strings"));
}

Result<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* a = std::get_if<std::vector<double>>(&v->value)) return *a;
  if (const auto* a = std::get_if<std::vector<int64_t>>(&v->value)) return std::vector<double>(a->begin(), a->end());
  return error(wrong_type(path(), key, *v, "an array of numbers"));
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return error(missing(path(), key));
  if (const auto* a = std::get_if<std::vector<int64_t>>(&v->value)) return *a;
  return error(wrong_type(path(), key, *v, "an array of integers"));
}

Result<int64_t> GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) ? get_int(key) : Result<int64_t>(fallback);
}
Result<double> GgufFile::get_float_or(std::string_view key, double fallback) const {
  return find(key) ? get_float(key) : Result<double>(fallback);
}
Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) ? get_bool(key) : Result<bool>(fallback);
}

}  // namespace llmp::engine
