#pragma once
// Limit rules as stored: one value per subject (tenant, project, key or model) and limit kind.
// What the kinds mean and how they are enforced is the gateway's Limiter; this only keeps them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct LimitRecord {
  std::string id;                        // "lim_" + 24 hex digits
  std::string subject_kind;              // "tenant" | "project" | "key" | "model"
  std::string subject_id;                // the tenant, project or key id, or the model name
  std::optional<std::string> tenant_id;  // the subject's tenant; none for model rules
  std::string kind;                      // a gateway::LimitKind name
  double limit = 0;
  int64_t period_seconds = 0;            // spend only; 0: the UTC month
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

//! A quota or spend counter of the gateway's Limiter in one window, as stored.
struct LimitCounterRecord {
  std::string subject;  // as the Limiter names it: "tenant:<id>", "key:<id>", "model:<name>", ...
  std::string kind;     // a gateway::LimitKind name
  int64_t window_start_ms = 0;
  double used = 0;
};

struct AuditActor;

class LimitRepository {
 public:
  virtual ~LimitRepository() = default;
  //! The tenant that owns a subject: the tenant itself, the project's or the key's tenant;
  //! nullopt for a model. not_found when there is no such tenant, project or key;
  //! invalid_argument for an unknown subject kind.
  virtual Result<std::optional<std::string>> subject_tenant(const std::string& subject_kind,
                                                            const std::string& subject_id) = 0;
  //! Sets the rule for (subject, kind): creates it, or replaces the limit and period of the one
  //! there (keeping its id). `rule.tenant_id` is filled in from the subject; not_found when the
  //! subject does not exist. Audited (create or update) when `by` is set.
  virtual Result<LimitRecord> put(LimitRecord rule, const AuditActor* by = nullptr) = 0;
  //! not_found when there is no such id.
  virtual Result<LimitRecord> get(const std::string& id) = 0;
  //! Every rule (nullopt) or the rules of one tenant's subjects, ordered by id.
  virtual Result<std::vector<LimitRecord>> list(const std::optional<std::string>& tenant_id) = 0;
  //! Deletes the rule, and its stored counters; not_found when there is no such id. Audited
  //! when `by` is set.
  virtual Result<void> remove(const std::string& id, const AuditActor* by = nullptr) = 0;

  //! Writes a batch of counters in one transaction: each replaces the count stored for its
  //! (subject, kind, window_start_ms), and deletes the older windows of its (subject, kind).
  virtual Result<void> save_counters(const std::vector<LimitCounterRecord>& counters) = 0;
  //! Every stored counter (each (subject, kind) has only its latest window); the Limiter's
  //! restore() drops those whose window has ended.
  virtual Result<std::vector<LimitCounterRecord>> counters() = 0;
};

}  // namespace llmp::store
