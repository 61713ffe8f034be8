#include "llmp/gateway/identity.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace llmp::gateway {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::platform_admin: return "platform_admin";
    case Role::tenant_admin: return "tenant_admin";
    case Role::app: return "app";
  }
  return "app";
}

std::optional<Role> parse_key_role(std::string_view text) {
  if (text == "tenant_admin") return Role::tenant_admin;
  if (text == "app") return Role::app;
  return std::nullopt;
}

std::optional<Scope> parse_scope(std::string_view text) {
  for (size_t i = 0; i < std::size(kScopeNames); ++i) {
    if (text == kScopeNames[i]) return static_cast<Scope>(1u << i);
  }
  return std::nullopt;
}

std::vector<std::string> scope_names(uint32_t scopes) {
  std::vector<std::string> out;
  for (size_t i = 0; i < std::size(kScopeNames); ++i) {
    if (scopes & (1u << i)) out.emplace_back(kScopeNames[i]);
  }
  return out;
}

bool Identity::allows_model(std::string_view id) const {
  return models.empty() || std::find(models.begin(), models.end(), id) != models.end();
}

Identity platform_admin_identity() {
  Identity id;
  id.role = Role::platform_admin;
  id.scopes = kAllScopes;
  return id;
}

Result<void> check_scope_headers(const Identity& identity, std::string_view tenant_header,
                                 std::string_view project_header) {
  if (identity.role == Role::platform_admin) return ok();
  if (!tenant_header.empty() && tenant_header != identity.tenant_id) {
    return error(StatusCode::permission_denied,
                 fmt::format("X-Tenant-ID is \"{}\" but this API key belongs to tenant \"{}\"", tenant_header,
                             identity.tenant_id));
  }
  if (!project_header.empty() && !identity.project_id.empty() && project_header != identity.project_id) {
    return error(StatusCode::permission_denied,
                 fmt::format("X-Project-ID is \"{}\" but this API key belongs to project \"{}\"", project_header,
                             identity.project_id));
  }
  return ok();
}

Result<void> authorize_admin_api(const Identity& identity) {
  if (identity.role == Role::platform_admin) return ok();
  if (identity.role == Role::tenant_admin && identity.has(Scope::admin)) return ok();
  return error(StatusCode::permission_denied,
               "the admin API needs the platform admin key or a tenant_admin key with the admin scope; this key "
               "cannot use it");
}

Result<void> authorize_tenant(const Identity& identity, std::string_view tenant_id) {
  LLMP_TRY_VOID(authorize_admin_api(identity));
  if (identity.role == Role::platform_admin || identity.tenant_id == tenant_id) return ok();
  return error(StatusCode::permission_denied,
               fmt::format("this API key belongs to tenant \"{}\" and cannot manage tenant \"{}\"", identity.tenant_id,
                           tenant_id));
}

Result<void> authorize_platform(const Identity& identity) {
  if (identity.role == Role::platform_admin) return ok();
  return error(StatusCode::permission_denied, "only the platform admin key may do this");
}

}  // namespace llmp::gateway
