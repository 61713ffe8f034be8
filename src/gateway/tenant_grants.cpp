#include "llmp/gateway/tenant_grants.h"

#include <mutex>

namespace llmp::gateway {

void TenantGrants::replace(const std::vector<store::TenantModels>& grants) {
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> next;
  for (const auto& g : grants) next[g.tenant_id].insert(g.models.begin(), g.models.end());
  std::unique_lock lock(mu_);
  grants_ = std::move(next);
}

bool TenantGrants::allows(std::string_view tenant_id, std::string_view id) const {
  if (tenant_id.empty()) return true;
  std::shared_lock lock(mu_);
  auto it = grants_.find(tenant_id);
  return it == grants_.end() || it->second.contains(id);
}

}  // namespace llmp::gateway
