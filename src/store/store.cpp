#include "llmp/store/store.h"

#include <fmt/format.h>

#include <filesystem>

#include "data_dir.h"
#include "llmp/core/log.h"
#include "migrations.h"
#include "rocks_db.h"
#include "sqlite_db.h"
#include "rocks_call_record_repository.h"
#include "rocks_span_repository.h"
#include "sqlite_api_key_repository.h"
#include "sqlite_alert_state_repository.h"
#include "sqlite_capture_repository.h"
#include "sqlite_audit_repository.h"
#include "sqlite_limit_repository.h"
#include "sqlite_price_repository.h"
#include "sqlite_project_repository.h"
#include "sqlite_routing_repository.h"
#include "sqlite_tenant_repository.h"
#include "sqlite_usage_repository.h"

namespace llmp::store {

void declare_settings(SettingsRegistry& r, StoreOptions& o) {
  r.describe_section("store", "State under the data dir: SQLite (metadata) and RocksDB (high-volume records).");
  r.add(StringSetting{.section = "store", .key = "data_dir", .target = &o.data_dir, .default_value = "./data",
                      .help = "Directory for all state: llmplatform.sqlite, rocksdb/, models. Created if missing."});
  r.add(IntSetting{.section = "store", .key = "sqlite_readers", .target = &o.sqlite_readers, .default_value = 4,
                   .min = 1, .max = 64, .help = "SQLite reader connections (reads run on the blocking pool)."});
  r.add(StringSetting{.section = "store", .key = "sqlite_synchronous", .target = &o.sqlite_synchronous,
                      .default_value = "normal",
                      .help = "SQLite sync mode. \"normal\": committed writes survive a crash of the process; "
                              "\"full\": they also survive power loss, at one fsync per commit group.",
                      .choices = {"normal", "full"}});
  r.add(IntSetting{.section = "store", .key = "sqlite_busy_timeout_ms", .target = &o.sqlite_busy_timeout_ms,
                   .default_value = 5000, .min = 0, .max = 600000, .help = "How long a SQLite call waits on a lock."});
  r.add(BoolSetting{.section = "store", .key = "rocksdb_sync", .target = &o.rocksdb_sync, .default_value = false,
                    .help = "fsync RocksDB's WAL on every write (power-loss durability); off still survives a "
                            "crash of the process."});
  r.add(IntSetting{.section = "store", .key = "min_free_mb", .target = &o.min_free_mb, .default_value = 64, .min = 0,
                   .max = 1 << 30, .help = "Refuse to start when the data dir's disk has less free space (MiB)."});
}

struct Store::Impl {
  DataDirLock lock;
  std::unique_ptr<SqliteDb> sqlite;
  std::unique_ptr<RocksDb> rocks;
  std::unique_ptr<SqliteTenantRepository> tenants;
  std::vector<std::string> migrations;
  std::string rocks_path;
  std::unique_ptr<SqliteProjectRepository> projects;
  std::unique_ptr<SqliteApiKeyRepository> api_keys;
  std::unique_ptr<SqliteLimitRepository> limits;
  std::unique_ptr<SqlitePriceRepository> prices;
  std::unique_ptr<SqliteAuditRepository> audit;
  std::unique_ptr<SqliteRoutingRepository> routing;
  std::unique_ptr<RocksCallRecordRepository> calls;
  std::unique_ptr<SqliteCaptureRepository> capture;
  std::unique_ptr<SqliteUsageRepository> usage;
  std::unique_ptr<RocksSpanRepository> spans;
  std::unique_ptr<SqliteAlertStateRepository> alert_states;
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() { close(); }

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  auto lock = DataDirLock::acquire(options.data_dir, options.min_free_mb);
  if (!lock) return error(lock.error());

  const std::string sqlite_path = options.data_dir + "/llmplatform.sqlite";
  std::vector<std::string> applied;
  auto sqlite = SqliteDb::open({.path = sqlite_path,
                                .readers = options.sqlite_readers,
                                .synchronous = options.sqlite_synchronous,
                                .busy_timeout_ms = options.sqlite_busy_timeout_ms},
                               [&](Connection& conn) -> Result<void> {
                                 auto names = apply_migrations(conn, embedded_migrations());
                                 if (!names) return error(names.error());
                                 applied = std::move(*names);
                                 return ok();
                               });
  if (!sqlite) return error(sqlite.error());

  const std::string rocks_path = options.data_dir + "/rocksdb";
  std::vector<std::string> families(std::begin(kColumnFamilies), std::end(kColumnFamilies));
  auto rocks = RocksDb::open(rocks_path, families, options.rocksdb_sync);
  if (!rocks) return error(rocks.error());

  auto impl = std::make_unique<Impl>(Impl{std::move(*lock), std::move(*sqlite), std::move(*rocks), nullptr,
                                          std::move(applied), rocks_path});
  impl->tenants = std::make_unique<SqliteTenantRepository>(*impl->sqlite);
  impl->projects = std::make_unique<SqliteProjectRepository>(*impl->sqlite);
  impl->api_keys = std::make_unique<SqliteApiKeyRepository>(*impl->sqlite);
  impl->limits = std::make_unique<SqliteLimitRepository>(*impl->sqlite);
  impl->prices = std::make_unique<SqlitePriceRepository>(*impl->sqlite);
  impl->audit = std::make_unique<SqliteAuditRepository>(*impl->sqlite);
  impl->routing = std::make_unique<SqliteRoutingRepository>(*impl->sqlite);
  auto calls = RocksCallRecordRepository::open(*impl->rocks);
  if (!calls) return error(calls.error());
  impl->calls = std::move(*calls);
  impl->capture = std::make_unique<SqliteCaptureRepository>(*impl->sqlite);
  impl->usage = std::make_unique<SqliteUsageRepository>(*impl->sqlite);
  impl->spans = std::make_unique<RocksSpanRepository>(*impl->rocks);
  impl->alert_states = std::make_unique<SqliteAlertStateRepository>(*impl->sqlite);
  log::info("store opened", {{"data_dir", options.data_dir},
                             {"sqlite", sqlite_path},
                             {"migrations", static_cast<int64_t>(impl->migrations.size())},
                             {"rocksdb", rocks_path}});
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

void Store::close() {
  if (!impl_) return;
  impl_->sqlite->close();
  impl_->rocks->close();
}

TenantRepository& Store::tenants() { return *impl_->tenants; }
ProjectRepository& Store::projects() { return *impl_->projects; }
ApiKeyRepository& Store::api_keys() { return *impl_->api_keys; }
LimitRepository& Store::limits() { return *impl_->limits; }
PriceRepository& Store::prices() { return *impl_->prices; }
AuditRepository& Store::audit() { return *impl_->audit; }
RoutingRepository& Store::routing() { return *impl_->routing; }
CallRecordRepository& Store::calls() { return *impl_->calls; }
CaptureRepository& Store::capture() { return *impl_->capture; }
AlertStateRepository& Store::alert_states() { return *impl_->alert_states; }
UsageRepository& Store::usage() { return *impl_->usage; }
SpanRepository& Store::spans() { return *impl_->spans; }

const std::vector<std::string>& Store::applied_migrations() const { return impl_->migrations; }

int64_t Store::sqlite_bytes() const {
  int64_t total = 0;
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const auto size = std::filesystem::file_size(impl_->sqlite->path() + suffix, ec);
    if (!ec) total += static_cast<int64_t>(size);
  }
  return total;
}

int64_t Store::rocksdb_bytes() const { return impl_->rocks->disk_bytes(); }

}  // namespace llmp::store
