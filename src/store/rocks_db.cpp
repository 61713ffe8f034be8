#include "rocks_db.h"

#include <fmt/format.h>

#include <algorithm>

#include <rocksdb/convenience.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

namespace llmp::store {
namespace {

Status rocks_status(const rocksdb::Status& s, std::string_view what) {
  const std::string message = fmt::format("{}: {}", what, s.ToString());
  if (s.IsNotFound()) return Status(StatusCode::not_found, message);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status(StatusCode::unavailable, message, true);
  if (s.IsNoSpace()) return Status(StatusCode::resource_exhausted, message);
  if (s.IsCorruption()) return Status(StatusCode::data_loss, message);
  if (s.IsIOError()) return Status(StatusCode::unavailable, message);
  return Status(StatusCode::internal, message);
}

}  // namespace

Result<std::unique_ptr<RocksDb>> RocksDb::open(const std::string& path, const std::vector<std::string>& column_families,
                                               bool sync_writes) {
  std::unique_ptr<RocksDb> db(new RocksDb());
  db->path_ = path;
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 3;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : column_families) {
    rocksdb::ColumnFamilyOptions cf_options;
    if (name == "calls" || name == "spans") {
      // Written on every request, read rarely, deleted oldest first: tuned for writing, on the
      // same cores that serve requests (bench/obs). A larger memtable means fewer flushes; L0
      // collects more files before compacting, and the first two levels stay uncompressed (most
      // bytes are rewritten there, and soon again); deeper levels use LZ4, cheaper than Snappy.
      cf_options.write_buffer_size = size_t{32} << 20;
      cf_options.level0_file_num_compaction_trigger = 8;
      cf_options.max_bytes_for_level_base = uint64_t{256} << 20;
      const auto supported = rocksdb::GetSupportedCompressions();
      const bool lz4 = std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
      cf_options.compression_per_level.assign(cf_options.num_levels, lz4 ? rocksdb::kLZ4Compression
                                                                          : rocksdb::kNoCompression);
      cf_options.compression_per_level[0] = rocksdb::kNoCompression;
      cf_options.compression_per_level[1] = rocksdb::kNoCompression;
    } else {
      cf_options.OptimizeForSmallDb();
    }
    descriptors.emplace_back(name, cf_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &handles, &raw);
  if (!s.ok()) return error(rocks_status(s, fmt::format("cannot open RocksDB at {}", path)));
  db->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) db->handles_[column_families[i]] = handles[i];
  db->write_options_.sync = sync_writes;
  return db;
}

RocksDb::~RocksDb() { close(); }

void RocksDb::close() {
  if (!db_) return;
  (void)db_->FlushWAL(true);
  for (auto& [name, h] : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  (void)db_->Close();
  db_.reset();
}

rocksdb::ColumnFamilyHandle* RocksDb::handle(std::string_view cf) {
  auto it = handles_.find(cf);
  return it == handles_.end() ? nullptr : it->second;
}

Result<void> RocksDb::put(std::string_view cf, std::string_view key, std::string_view value) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  auto s = db_->Put(write_options_, h, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
  if (!s.ok()) return error(rocks_status(s, "rocksdb put"));
  return ok();
}

Result<std::string> RocksDb::get(std::string_view cf, std::string_view key) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), h, rocksdb::Slice(key.data(), key.size()), &value);
  if (!s.ok()) return error(rocks_status(s, "rocksdb get"));
  return value;
}

Result<void> RocksDb::erase(std::string_view cf, std::string_view key) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  auto s = db_->Delete(write_options_, h, rocksdb::Slice(key.data(), key.size()));
  if (!s.ok()) return error(rocks_status(s, "rocksdb delete"));
  return ok();
}

Result<std::vector<std::pair<std::string, std::string>>> RocksDb::scan(std::string_view cf, std::string_view prefix,
                                                                        size_t limit) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid() && out.size() < limit; it->Next()) {
    if (!it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return error(rocks_status(it->status(), "rocksdb scan"));
  return out;
}

Result<void> RocksDb::write(std::string_view cf, const std::vector<Change>& changes) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  // Applied in key order: the memtable's skiplist starts each insert from where the last one
  // went, and recomputing that position from higher levels was the largest single cost of
  // storing spans (a request's random trace id, then its time-ordered index key, alternating
  // through a batch: 15 % of a span-store microbenchmark's time, 12.5 % sorted). Stable, so
  // changes to one key keep their order.
  std::vector<const Change*> ordered;
  ordered.reserve(changes.size());
  for (const auto& c : changes) ordered.push_back(&c);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Change* a, const Change* b) { return a->key < b->key; });
  rocksdb::WriteBatch batch;
  for (const Change* c : ordered) {
    rocksdb::Status s = c->value ? batch.Put(h, c->key, *c->value) : batch.Delete(h, c->key);
    if (!s.ok()) return error(rocks_status(s, "rocksdb batch"));
  }
  auto s = db_->Write(write_options_, &batch);
  if (!s.ok()) return error(rocks_status(s, "rocksdb write"));
  return ok();
}

Result<void> RocksDb::for_each(std::string_view cf, std::string_view from, std::string_view to, bool reverse,
                               const std::function<bool(std::string_view, std::string_view)>& visit) {
  auto* h = handle(cf);
  if (!h) return error(StatusCode::internal, fmt::format("unknown column family {}", cf));
  const rocksdb::Slice lower(from.data(), from.size());
  const rocksdb::Slice upper(to.data(), to.size());
  rocksdb::ReadOptions read_options;
  // Bounds let RocksDB skip tombstones outside the range (retention leaves many behind).
  read_options.iterate_lower_bound = &lower;
  if (!to.empty()) read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, h));
  if (reverse) {
    if (to.empty()) it->SeekToLast(); else it->SeekForPrev(upper);
    // SeekForPrev lands on `to` itself when it is stored; the range excludes it.
    if (it->Valid() && !to.empty() && it->key() == upper) it->Prev();
  } else {
    it->Seek(lower);
  }
  for (; it->Valid(); reverse ? it->Prev() : it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.compare(lower) < 0 || (!to.empty() && k.compare(upper) >= 0)) break;
    const rocksdb::Slice v = it->value();
    if (!visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  if (!it->status().ok()) return error(rocks_status(it->status(), "rocksdb scan"));
  return ok();
}

int64_t RocksDb::disk_bytes() {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    if (entry.is_regular_file(ec)) total += static_cast<int64_t>(entry.file_size(ec));
  }
  return total;
}

}  // namespace llmp::store
