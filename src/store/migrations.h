#pragma once
// Schema migrations: migrations/NNNN_name.sql, embedded in the binary at build time, applied in
// order at start, each in its own transaction and recorded with its SHA-256 in
// schema_migrations. A recorded migration whose text has changed stops the start.

#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

class Connection;

struct EmbeddedMigration {
  std::string_view name;  // "0001_init"
  std::string_view sql;
};

//! The migrations compiled into this binary, in order.
const std::vector<EmbeddedMigration>& embedded_migrations();

//! Applies what is missing. Returns the names of all applied migrations, in order.
Result<std::vector<std::string>> apply_migrations(Connection& db, const std::vector<EmbeddedMigration>& migrations);

}  // namespace llmp::store
