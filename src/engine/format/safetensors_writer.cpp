#include "format/safetensors_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "llmp/core/json.h"

namespace llmp::engine {

void SafetensorsWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Producer producer) {
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(producer)});
}

Result<void> SafetensorsWriter::write(const std::string& path) const {
  auto bytes_of = [](const Entry& e) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    return static_cast<size_t>(n) * static_cast<size_t>(dtype_info(e.dtype).block_bytes);
  };
  std::string header;
  json::Writer w(header);
  w.begin_object();
  w.key("__metadata__").begin_object().field("format", "pt").end_object();
  size_t offset = 0;
  for (const auto& e : tensors_) {
    const char* dtype = e.dtype == DType::f32 ? "F32" : e.dtype == DType::f16 ? "F16" : "BF16";
    w.key(e.name).begin_object().field("dtype", dtype).key("shape").begin_array();
    for (int64_t d : e.shape) w.value(d);
    w.end_array().key("data_offsets").begin_array().value(static_cast<uint64_t>(offset));
    offset += bytes_of(e);
    w.value(static_cast<uint64_t>(offset)).end_array().end_object();
  }
  w.end_object();
  while (header.size() % 8) header.push_back(' ');  // the format pads the header with spaces

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) return error(StatusCode::permission_denied, fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  const uint64_t len = header.size();
  bool good = std::fwrite(&len, 8, 1, file.get()) == 1 && std::fwrite(header.data(), 1, header.size(), file.get()) == header.size();
  std::vector<uint8_t> buffer;
  for (const auto& e : tensors_) {
    buffer.assign(bytes_of(e), 0);
    e.producer(buffer.data());
    good = good && std::fwrite(buffer.data(), 1, buffer.size(), file.get()) == buffer.size();
  }
  if (!good || std::fflush(file.get()) != 0) {
    return error(StatusCode::resource_exhausted, fmt::format("{}: write failed: {}", path, std::strerror(errno)));
  }
  return ok();
}

}  // namespace llmp::engine
