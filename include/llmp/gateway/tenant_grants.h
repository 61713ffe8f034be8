#pragma once
// The models each tenant is granted, in memory for the request path: a tenant's keys and tokens
// may use only those (a key's own list narrows it further). Tenants without a grant may use
// every model. Replaced whole from the store on every change. Thread-safe.

#include <map>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/store/tenant_repository.h"

namespace llmp::gateway {

class TenantGrants {
 public:
  void replace(const std::vector<store::TenantModels>& grants);
  //! Whether tenant `tenant_id` may use model `id`: true for an empty tenant (the platform
  //! admin) and for a tenant without a grant of its own.
  bool allows(std::string_view tenant_id, std::string_view id) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> grants_;
};

}  // namespace llmp::gateway
