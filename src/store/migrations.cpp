#include "migrations.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "llmp/core/crypto.h"
#include "sqlite_db.h"

namespace llmp::store {
namespace {

// "0007_add_keys" -> 7; -1 when the name does not start with four digits and an underscore.
int version_of(std::string_view name) {
  if (name.size() < 6 || name[4] != '_') return -1;
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

}  // namespace

Result<std::vector<std::string>> apply_migrations(Connection& db, const std::vector<EmbeddedMigration>& migrations) {
  LLMP_TRY_VOID(db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)"));

  std::map<int, std::pair<std::string, std::string>> applied;  // version -> (name, checksum)
  {
    auto stmt = db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    if (!stmt) return error(stmt.error());
    for (;;) {
      auto row = stmt->step();
      if (!row) return error(row.error());
      if (!*row) break;
      applied[static_cast<int>(stmt->column_int(0))] = {stmt->column_text(1), stmt->column_text(2)};
    }
  }

  std::vector<std::string> names;
  int previous = 0;
  for (const EmbeddedMigration& m : migrations) {
    const int version = version_of(m.name);
    if (version <= previous) {
      return error(StatusCode::internal,
                   fmt::format("migration {}.sql: names must be NNNN_name.sql with increasing numbers", m.name));
    }
    previous = version;
    const std::string checksum = crypto::sha256_hex(m.sql);
    if (auto it = applied.find(version); it != applied.end()) {
      if (it->second.second != checksum) {
        return error(StatusCode::failed_precondition,
                     fmt::format("migration {}.sql was changed after it was applied (recorded sha256 {}, now {}); "
                                 "restore the file and add a new migration instead",
                                 m.name, it->second.second, checksum));
      }
      names.emplace_back(m.name);
      applied.erase(it);
      continue;
    }
    LLMP_TRY_VOID(db.exec("BEGIN IMMEDIATE"));
    auto done = db.exec(m.sql);
    if (done) {
      auto stmt = db.prepare("INSERT INTO schema_migrations(version, name, checksum, applied_at_ms) VALUES (?,?,?,?)");
      if (!stmt) {
        done = error(stmt.error());
      } else {
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        done = stmt->bind(1, static_cast<int64_t>(version)).bind(2, m.name).bind(3, checksum).bind(4, static_cast<int64_t>(now)).run();
      }
    }
    if (!done) {
      (void)db.exec("ROLLBACK");
      return error(done.error().with_context(fmt::format("applying migration {}.sql", m.name)));
    }
    LLMP_TRY_VOID(db.exec("COMMIT"));
    names.emplace_back(m.name);
  }
  if (!applied.empty()) {
    const auto& [version, rec] = *applied.begin();
    return error(StatusCode::failed_precondition,
                 fmt::format("the database has migration {} which this binary does not know: it was written by a newer "
                             "llmplatform",
                             rec.first));
  }
  return names;
}

}  // namespace llmp::store
