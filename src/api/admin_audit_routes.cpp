// Admin API for the audit log: GET /admin/v1/audit. Entries are written by the repositories'
// mutating calls (in the change's transaction); this only reads them. The platform admin reads
// every entry; a tenant admin its own tenant's, and 403 when it names another tenant.

#include "admin_common.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/store/audit_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_entry(json::Writer& w, const store::AuditEntry& e) {
  auto optional_text = [&w](std::string_view key, const std::optional<std::string>& v) {
    w.key(key);
    if (v) w.value(*v); else w.null();
  };
  // The snapshots are JSON the store wrote; they go in as objects, not as strings.
  auto snapshot = [&w](std::string_view key, const std::optional<std::string>& v) {
    w.key(key);
    if (v) w.raw(*v); else w.null();
  };
  w.begin_object().field("id", e.id).field("object", "audit_entry").field("created_at", e.at_ms / 1000);
  w.field("actor", e.actor);
  optional_text("actor_tenant_id", e.actor_tenant_id);
  optional_text("tenant_id", e.tenant_id);
  w.field("action", e.action).field("object_type", e.object_type).field("object_id", e.object_id);
  snapshot("before", e.before_json);
  snapshot("after", e.after_json);
  w.field("request_id", e.request_id).end_object();
}

// The filter a request asks for, before the tenant rule is applied; the failing parameter's
// name goes to `param`.
Result<store::AuditFilter> parse_filter(const Request& req, std::string& param) {
  store::AuditFilter f;
  auto page = page_params(req);
  if (!page) {
    param = "limit";
    return error(page.error());
  }
  f.limit = page->limit + 1;  // one more than asked: list_page() reads it as has_more
  if (!page->after.empty()) {
    auto after = whole_param(req, "after", INT64_MAX, "the id of an audit entry");
    if (!after) {
      param = "after";
      return error(after.error());
    }
    f.after_id = **after;
  }
  // since/until are unix seconds, as created_at is; the store compares milliseconds.
  constexpr int64_t kMaxSeconds = 100'000'000'000;  // far from overflow in ms
  for (auto [name, out] : {std::pair<std::string_view, std::optional<int64_t>*>{"since", &f.since_ms},
                           {"until", &f.until_ms}}) {
    auto v = whole_param(req, name, kMaxSeconds, "a time in seconds since the Unix epoch");
    if (!v) {
      param = name;
      return error(v.error());
    }
    if (*v) *out = **v * 1000;
  }
  f.tenant_id = text_param(req, "tenant_id");
  f.object_type = text_param(req, "object_type");
  f.object_id = text_param(req, "object_id");
  f.actor = text_param(req, "actor");
  return f;
}

}  // namespace

void add_admin_audit_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/admin/v1/audit",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::string param;
               auto filter = parse_filter(req, param);
               if (!filter) co_return response_for(filter.error(), req, param);
               // A tenant admin reads its own tenant's entries only.
               if (auto scoped = scope_to_own_tenant(who, filter->tenant_id); !scoped) {
                 co_return response_for(scoped.error(), req, "tenant_id");
               }
               const int64_t limit = filter->limit - 1;
               auto list = [&s, f = *filter] { return s.store->audit().list(f); };
               auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!page) co_return response_for(page.error(), req);
               co_return list_page(*page, limit, [](json::Writer& w, const auto& item) { write_entry(w, item); });
             }));
}

}  // namespace llmp::api
