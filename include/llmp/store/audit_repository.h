#pragma once
// The admin API's audit log: one entry per change to tenants, projects, keys, limits and
// prices (who, what, when, the object as stored before and after). Append-only: there is no
// call that changes or deletes an entry, and the table's triggers refuse UPDATE and DELETE.
//
// The repositories' mutating calls take an optional AuditActor; given one, they write the
// change's entry in the same transaction as the change, so the log never misses a committed
// change nor records one that rolled back. The before/after snapshots never hold a key's hash.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

//! Who makes a change, handed to a repository's mutating call to have it audited.
struct AuditActor {
  std::string actor;                     // the API key id; "admin" for the platform admin key
  std::optional<std::string> tenant_id;  // the actor's tenant; none for the platform admin
  std::string request_id;                // the request that made the change; empty when none
};

struct AuditEntry {
  int64_t id = 0;  // increasing in the order the changes committed
  int64_t at_ms = 0;
  std::string actor;
  std::optional<std::string> actor_tenant_id;
  std::optional<std::string> tenant_id;  // the tenant the change concerns; none: platform-wide (prices, model limits)
  std::string action;                    // "create" | "update" | "delete" | "revoke"
  std::string object_type;               // "tenant" | "project" | "api_key" | "limit" | "price"
  std::string object_id;
  std::optional<std::string> before_json;  // the object as stored before; none for a create
  std::optional<std::string> after_json;   // the object as stored after; none for a delete
  std::string request_id;
};

//! Which entries list() returns: all that match every field set.
struct AuditFilter {
  std::optional<std::string> tenant_id;
  std::optional<std::string> object_type;
  std::optional<std::string> object_id;
  std::optional<std::string> actor;
  std::optional<int64_t> since_ms;  // at_ms >= since_ms
  std::optional<int64_t> until_ms;  // at_ms < until_ms
  int64_t after_id = 0;             // entries with a larger id only (paging)
  int64_t limit = 100;
};

class AuditRepository {
 public:
  virtual ~AuditRepository() = default;
  //! Appends `entry` with a new id and, when at_ms is 0, the current time; returns it filled
  //! in. invalid_argument for an unknown action. For changes no audited repository call makes.
  virtual Result<AuditEntry> append(AuditEntry entry) = 0;
  //! Up to `filter.limit` matching entries, oldest first.
  virtual Result<std::vector<AuditEntry>> list(const AuditFilter& filter) = 0;
};

}  // namespace llmp::store
