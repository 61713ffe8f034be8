#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "llmp/store/audit_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteAuditRepository final : public AuditRepository {
 public:
  explicit SqliteAuditRepository(SqliteDb& db) : db_(db) {}
  Result<AuditEntry> append(AuditEntry entry) override;
  Result<std::vector<AuditEntry>> list(const AuditFilter& filter) override;

 private:
  SqliteDb& db_;
};

//! One change to record: what it was and the object's snapshots (audit_snapshot.h).
struct AuditChange {
  std::string action;                   // "create" | "update" | "delete" | "revoke"
  std::string object_type;
  std::string object_id;
  std::optional<std::string> tenant_id;  // the tenant the change concerns
  std::optional<std::string> before_json;
  std::optional<std::string> after_json;
};

//! Appends the entry of `change` by `by` on the caller's connection, inside the caller's
//! transaction: the change and its entry commit or roll back together. Does nothing when `by`
//! is null (an unaudited call, such as a test's setup).
Result<void> append_audit(Connection& conn, const AuditActor* by, AuditChange change);

//! A row to delete and record: the object its "delete" entry names and the row as it was.
struct AuditedDelete {
  std::string object_type;
  std::string object_id;                 // also the key the DELETE statement's one `?` binds
  std::optional<std::string> tenant_id;  // the tenant the change concerns
  std::string before_json;
};

//! Runs `delete_sql` with `row.object_id` bound to its one parameter, then appends the row's
//! "delete" entry (append_audit), in the caller's transaction. The caller has read the row and
//! answered not_found when there was none: those reads and messages differ by repository.
Result<void> delete_audited(Connection& conn, const AuditActor* by, std::string_view delete_sql, AuditedDelete row);

}  // namespace llmp::store
