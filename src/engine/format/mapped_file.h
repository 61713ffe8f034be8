#pragma once
// A read-only memory mapping of a whole file. Model weights are used in place from the
// mapping (no copy); the kernel pages them in on first touch and may share them between
// processes.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "llmp/core/status.h"

namespace llmp::engine {

class MappedFile {
 public:
  //! Maps `path` read-only. Errors name the path and the system's reason.
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  //! Asks the kernel to read the range ahead (weights about to be used).
  void prefetch(size_t offset, size_t length) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace llmp::engine
