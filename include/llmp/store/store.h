#pragma once
// The state store: one SQLite file (metadata; WAL, one writer thread, a pool of readers) and
// one RocksDB database (high-volume records, in column families) under the data dir.
// Typed repositories are the only code that touches SQL or RocksDB.
//
// Repository calls block (on the writer's commit, on a read); call them from a blocking pool,
// never from an I/O thread. A write that returns success has been committed to the WAL and
// survives a crash of the process (synchronous = "full" also survives power loss).

#include <cstdint>
#include <memory>
#include <string>

#include "llmp/core/settings.h"
#include "llmp/core/status.h"

namespace llmp::store {

class TenantRepository;
class ProjectRepository;
class ApiKeyRepository;
class LimitRepository;
class PriceRepository;
class RoutingRepository;
class AuditRepository;
class CallRecordRepository;
class CaptureRepository;
class UsageRepository;
class SpanRepository;
class AlertStateRepository;

struct StoreOptions {
  std::string data_dir;
  int64_t sqlite_readers = 0;
  std::string sqlite_synchronous;
  int64_t sqlite_busy_timeout_ms = 0;
  bool rocksdb_sync = false;
  int64_t min_free_mb = 0;
};

//! Declares the [store] section.
void declare_settings(SettingsRegistry& registry, StoreOptions& options);

//! Column families of the RocksDB database (one per kind of high-volume record).
inline constexpr const char* kColumnFamilies[] = {"default", "calls", "spans", "sessions", "chunks", "jobs"};

class Store {
 public:
  //! Checks the data dir (writable, enough free space, not used by another process), opens
  //! SQLite and applies migrations, opens RocksDB. Errors name the path and what is wrong.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();

  //! Finishes queued writes, flushes RocksDB and closes both databases. Idempotent.
  void close();

  TenantRepository& tenants();
  ProjectRepository& projects();
  ApiKeyRepository& api_keys();
  LimitRepository& limits();
  PriceRepository& prices();
  //! Upstream providers and model routes.
  RoutingRepository& routing();
  //! The admin API's append-only audit log.
  AuditRepository& audit();
  //! LLM call records and their scores (RocksDB, "calls").
  CallRecordRepository& calls();
  //! Each tenant's choice of how much call content to keep.
  CaptureRepository& capture();
  //! The usage ledger's hourly counters and the tenants' budget alerts.
  UsageRepository& usage();
  //! Spans of traces, by trace id (RocksDB, "spans").
  SpanRepository& spans();
  //! The alert center's state per alert, kept across restarts.
  AlertStateRepository& alert_states();

  //! Versions of the applied migrations, in order ("0001_init", ...).
  const std::vector<std::string>& applied_migrations() const;

  //! Bytes on disk: the SQLite file with its WAL, and RocksDB's live files.
  int64_t sqlite_bytes() const;
  int64_t rocksdb_bytes() const;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmp::store
