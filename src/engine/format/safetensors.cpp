#include "format/safetensors.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>

namespace llmp::engine {

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return error(mapped.error());
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->file_ = std::move(*mapped);
  const size_t size = f->file_->size();
  if (size < 8) return error(StatusCode::data_loss, fmt::format("{}: truncated: {} bytes, no header length", path, size));
  uint64_t header_len;
  std::memcpy(&header_len, f->file_->data(), 8);
  if (header_len > size - 8 || header_len > (100ull << 20)) {
    return error(StatusCode::data_loss,
                 fmt::format("{}: header length {} at byte 0 does not fit the file ({} bytes)", path, header_len, size));
  }
  const auto* header = reinterpret_cast<const char*>(f->file_->data() + 8);
  const size_t data_begin = 8 + static_cast<size_t>(header_len);
  const size_t data_size = size - data_begin;

  simdjson::dom::parser parser;
  simdjson::padded_string padded(header, static_cast<size_t>(header_len));
  simdjson::dom::object root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) {
    return error(StatusCode::data_loss, fmt::format("{}: the JSON header (bytes 8..{}) is not a JSON object", path, data_begin));
  }
  struct Range {
    size_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto [key, value] : root) {
    const std::string name(key);
    if (name == "__metadata__") {
      simdjson::dom::object meta;
      if (value.get(meta) == simdjson::SUCCESS) {
        for (auto [mk, mv] : meta) {
          std::string_view s;
          if (mv.get(s) == simdjson::SUCCESS) f->metadata_[std::string(mk)] = std::string(s);
        }
      }
      continue;
    }
    std::string_view dtype_text;
    simdjson::dom::array shape, offsets;
    if (value["dtype"].get(dtype_text) != simdjson::SUCCESS || value["shape"].get(shape) != simdjson::SUCCESS ||
        value["data_offsets"].get(offsets) != simdjson::SUCCESS || offsets.size() != 2) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}': header entry needs dtype, shape and data_offsets", path, name));
    }
    auto dtype = dtype_from_safetensors(dtype_text);
    if (!dtype) {
      return error(StatusCode::unimplemented,
                   fmt::format("{}: tensor '{}' has dtype {}; F32, F16 and BF16 are supported", path, name, dtype_text));
    }
    Tensor t;
    t.name = name;
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (auto dim : shape) {
      int64_t d;
      if (dim.get(d) != simdjson::SUCCESS || d < 0 || d > (int64_t{1} << 40)) {
        return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' has an invalid shape", path, name));
      }
      t.shape.push_back(d);
      numel *= static_cast<uint64_t>(d);
    }
    if (t.shape.empty()) t.shape.push_back(1);  // a scalar
    uint64_t begin, end;
    if (offsets.at(0).get(begin) != simdjson::SUCCESS || offsets.at(1).get(end) != simdjson::SUCCESS || begin > end) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' has invalid data_offsets", path, name));
    }
    t.bytes = static_cast<size_t>(numel) * static_cast<size_t>(dtype_info(t.dtype).block_bytes);
    if (end - begin != t.bytes) {
      return error(StatusCode::data_loss, fmt::format("{}: tensor '{}' {} {} needs {} bytes, data_offsets give {}", path,
                                                      name, dtype_text, t.shape_string(), t.bytes, end - begin));
    }
    if (end > data_size) {
      return error(StatusCode::data_loss,
                   fmt::format("{}: tensor '{}' at byte {}: its data runs past the end of the file ({} bytes)", path,
                               name, data_begin + begin, size));
    }
    t.data = f->file_->data() + data_begin + begin;
    ranges.push_back({static_cast<size_t>(begin), static_cast<size_t>(end), name});
    f->index_[name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      return error(StatusCode::data_loss,
                   fmt::format("{}: tensors '{}' and '{}' overlap", path, ranges[i - 1].name, ranges[i].name));
    }
  }
  return f;
}

const Tensor* SafetensorsFile::tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace llmp::engine
