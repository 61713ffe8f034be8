#pragma once
// RocksDB with one column family per kind of high-volume record, WAL on.

#include <rocksdb/db.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

class RocksDb {
 public:
  //! Opens (creating if missing) the database at `path` with `column_families`.
  static Result<std::unique_ptr<RocksDb>> open(const std::string& path, const std::vector<std::string>& column_families,
                                               bool sync_writes);
  ~RocksDb();

  Result<void> put(std::string_view cf, std::string_view key, std::string_view value);
  //! not_found when the key is absent.
  Result<std::string> get(std::string_view cf, std::string_view key);
  Result<void> erase(std::string_view cf, std::string_view key);
  //! Key/value pairs whose key starts with `prefix`, in key order, at most `limit`.
  Result<std::vector<std::pair<std::string, std::string>>> scan(std::string_view cf, std::string_view prefix,
                                                                 size_t limit);
  //! One change of an atomic write(): a put, or a delete when `value` is nullopt.
  struct Change {
    std::string key;
    std::optional<std::string> value;
  };
  //! Applies every change to `cf` in one atomic batch.
  Result<void> write(std::string_view cf, const std::vector<Change>& changes);
  //! Calls `visit(key, value)` for the keys in [from, to) (`to` empty: up to the end), in key
  //! order, or from the last down when `reverse`, until it returns false.
  Result<void> for_each(std::string_view cf, std::string_view from, std::string_view to, bool reverse,
                        const std::function<bool(std::string_view key, std::string_view value)>& visit);
  //! Bytes of live SST files plus the WAL.
  int64_t disk_bytes();
  //! Flushes memtables and the WAL, then closes. Idempotent.
  void close();

 private:
  RocksDb() = default;
  rocksdb::ColumnFamilyHandle* handle(std::string_view cf);

  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  rocksdb::WriteOptions write_options_;
  std::string path_;
};

}  // namespace llmp::store
