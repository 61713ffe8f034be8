#pragma once
// The JSON an audit entry keeps of a stored object (before and after a change): its stored
// fields by their names, minus anything secret. An API key's snapshot has no hash, so the log
// never helps anyone check a guessed key.

#include <string>

#include "llmp/store/api_key_repository.h"
#include "llmp/store/limit_repository.h"
#include "llmp/store/price_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/routing_repository.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::store {

std::string audit_snapshot(const Tenant& tenant);
std::string audit_snapshot(const Project& project);
//! Without the hash; the prefix (not secret, shown in every key list) stays.
std::string audit_snapshot(const ApiKey& key);
std::string audit_snapshot(const LimitRecord& rule);
std::string audit_snapshot(const PriceRecord& price);
//! Without the api_key itself: "api_key_set" says whether there is one.
std::string audit_snapshot(const UpstreamRecord& upstream);
//! With its deployments, in order.
std::string audit_snapshot(const RouteRecord& route);

//! The id an audit entry gives a price, which has none of its own: "<model>@<effective_from>".
std::string price_object_id(const PriceRecord& price);

}  // namespace llmp::store
