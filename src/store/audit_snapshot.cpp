#include "audit_snapshot.h"

#include <fmt/format.h>

#include "llmp/core/json.h"

namespace llmp::store {
namespace {

template <class T>
void optional_field(json::Writer& w, std::string_view key, const std::optional<T>& v) {
  w.key(key);
  if (v) w.value(*v); else w.null();
}

void string_array(json::Writer& w, std::string_view key, const std::vector<std::string>& items) {
  w.key(key).begin_array();
  for (const auto& item : items) w.value(item);
  w.end_array();
}

}  // namespace

std::string audit_snapshot(const Tenant& t) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("id", t.id).field("name", t.name).field("created_at_ms", t.created_at_ms).end_object();
  return out;
}

std::string audit_snapshot(const Project& p) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("id", p.id)
      .field("tenant_id", p.tenant_id)
      .field("name", p.name)
      .field("created_at_ms", p.created_at_ms)
      .end_object();
  return out;
}

std::string audit_snapshot(const ApiKey& k) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("id", k.id).field("tenant_id", k.tenant_id);
  optional_field(w, "project_id", k.project_id);
  w.field("name", k.name).field("prefix", k.prefix).field("role", k.role);
  string_array(w, "scopes", k.scopes);
  string_array(w, "models", k.models);
  optional_field(w, "expires_at_ms", k.expires_at_ms);
  optional_field(w, "revoked_at_ms", k.revoked_at_ms);
  w.field("created_at_ms", k.created_at_ms).end_object();
  return out;
}

std::string audit_snapshot(const LimitRecord& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("id", r.id)
      .field("subject", r.subject_kind + ":" + r.subject_id);
  optional_field(w, "tenant_id", r.tenant_id);
  w.field("kind", r.kind)
      .field("limit", r.limit)
      .field("period_seconds", r.period_seconds)
      .field("created_at_ms", r.created_at_ms)
      .field("updated_at_ms", r.updated_at_ms)
      .end_object();
  return out;
}

std::string audit_snapshot(const PriceRecord& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("model", r.model)
      .field("input_per_million", r.input_per_million)
      .field("output_per_million", r.output_per_million)
      .field("cached_input_per_million", r.cached_input_per_million)
      .field("per_gpu_hour", r.per_gpu_hour)
      .field("effective_from", r.effective_from)
      .field("created_at_ms", r.created_at_ms)
      .field("updated_at_ms", r.updated_at_ms)
      .end_object();
  return out;
}

std::string audit_snapshot(const UpstreamRecord& u) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("name", u.name)
      .field("base_url", u.base_url)
      .field("api_key_env", u.api_key_env)
      .field("api_key_set", !u.api_key.empty())
      .field("connect_timeout_ms", u.connect_timeout_ms)
      .field("first_byte_timeout_ms", u.first_byte_timeout_ms)
      .field("total_timeout_ms", u.total_timeout_ms)
      .field("max_retries", u.max_retries)
      .field("created_at_ms", u.created_at_ms)
      .field("updated_at_ms", u.updated_at_ms)
      .end_object();
  return out;
}

std::string audit_snapshot(const RouteRecord& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("alias", r.alias)
      .field("strategy", r.strategy)
      .field("balance", r.balance)
      .field("header_strategy", r.header_strategy);
  string_array(w, "fallbacks", r.fallbacks);
  w.key("deployments").begin_array();
  for (const auto& d : r.deployments) {
    w.begin_object().field("name", d.name).field("kind", d.kind).field("upstream", d.upstream).field("model", d.model);
    w.field("weight", d.weight);
    string_array(w, "labels", d.labels);
    w.end_object();
  }
  w.end_array().field("created_at_ms", r.created_at_ms).field("updated_at_ms", r.updated_at_ms).end_object();
  return out;
}

std::string price_object_id(const PriceRecord& price) { return fmt::format("{}@{}", price.model, price.effective_from); }

}  // namespace llmp::store
