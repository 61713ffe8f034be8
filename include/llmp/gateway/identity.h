#pragma once
// Who a request acts as, once its bearer token is resolved: the platform admin, a tenant's
// admin, or an application key, with the tenant, project, scopes and models it may use.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::gateway {

enum class Role { platform_admin, tenant_admin, app };

//! "platform_admin", "tenant_admin", "app".
std::string_view to_string(Role role);
//! The role a key may be created with ("tenant_admin" or "app"); nullopt for anything else.
std::optional<Role> parse_key_role(std::string_view text);

//! What a key may be used for, as bits.
enum class Scope : uint32_t { inference = 1, rag = 2, agents = 4, admin = 8 };
inline constexpr uint32_t kAllScopes = 15;
//! The scope names in a fixed order: "inference", "rag", "agents", "admin".
inline constexpr std::string_view kScopeNames[] = {"inference", "rag", "agents", "admin"};
std::optional<Scope> parse_scope(std::string_view text);
//! The names of the bits set in `scopes`, in kScopeNames order.
std::vector<std::string> scope_names(uint32_t scopes);

struct Identity {
  Role role = Role::app;
  std::string tenant_id;            // empty for the platform admin
  std::string project_id;           // empty: every project of the tenant
  uint32_t scopes = 0;              // Scope bits
  std::vector<std::string> models;  // empty: every model
  std::string key_id;               // empty for the platform admin

  bool has(Scope s) const { return (scopes & static_cast<uint32_t>(s)) != 0; }
  //! Whether the key may use model `id`.
  bool allows_model(std::string_view id) const;
};

//! The platform admin: every tenant, every scope.
Identity platform_admin_identity();

//! Checks the X-Tenant-ID and X-Project-ID header values (empty when absent) against what the
//! identity may act as; permission_denied naming the header when they do not match. The
//! platform admin may name any tenant. A tenant-wide key may name any project id: whoever uses
//! it must look the project up within the identity's tenant.
Result<void> check_scope_headers(const Identity& identity, std::string_view tenant_header,
                                 std::string_view project_header);

//! May `identity` use the admin API at all? The platform admin and tenant admins with the admin
//! scope may; anything else is permission_denied.
Result<void> authorize_admin_api(const Identity& identity);

//! May `identity` manage tenant `tenant_id` (its projects and keys)? The platform admin: any;
//! a tenant admin: its own; permission_denied otherwise.
Result<void> authorize_tenant(const Identity& identity, std::string_view tenant_id);

//! Platform-wide operations (creating and listing tenants): the platform admin only.
Result<void> authorize_platform(const Identity& identity);

}  // namespace llmp::gateway
