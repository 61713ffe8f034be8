#pragma once
// Checks that the data dir can hold state before anything is opened in it.

#include <cstdint>
#include <string>

#include "llmp/core/status.h"

namespace llmp::store {

//! Holds an exclusive lock on <data_dir>/LOCK for the life of the process.
class DataDirLock {
 public:
  //! Creates the dir if missing, checks it is writable (a probe file written and synced),
  //! checks at least `min_free_mb` is free, and takes the lock. Errors name the path.
  static Result<DataDirLock> acquire(const std::string& data_dir, int64_t min_free_mb);
  DataDirLock(DataDirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& o) noexcept;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace llmp::store
