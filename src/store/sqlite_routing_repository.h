#pragma once

#include "llmp/store/routing_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteRoutingRepository final : public RoutingRepository {
 public:
  explicit SqliteRoutingRepository(SqliteDb& db) : db_(db) {}
  Result<UpstreamRecord> put_upstream(UpstreamRecord u, const AuditActor* by) override;
  Result<void> delete_upstream(const std::string& name, const AuditActor* by) override;
  Result<std::vector<UpstreamRecord>> list_upstreams() override;

  Result<RouteRecord> put_route(RouteRecord r, const AuditActor* by) override;
  Result<void> delete_route(const std::string& alias, const AuditActor* by) override;
  Result<std::vector<RouteRecord>> list_routes() override;

  Result<ReleaseRecord> put_release(ReleaseRecord r, const std::string& action, const std::string& reason,
                                    const AuditActor* by, const std::string& actor) override;
  Result<void> delete_release(const std::string& alias, const AuditActor* by) override;
  Result<std::vector<ReleaseRecord>> list_releases() override;
  Result<std::vector<ReleaseEvent>> release_history(const std::string& alias) override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
