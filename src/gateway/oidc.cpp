#include "llmp/gateway/oidc.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "llmp/core/log.h"
#include "llmp/net/http_client.h"

namespace llmp::gateway {
namespace {

constexpr size_t kMaxTenantsSeen = 10000;
constexpr std::chrono::milliseconds kFetchTimeout{10000};

}  // namespace

OidcVerifier::OidcVerifier(OidcOptions options, store::TenantRepository* tenants, store::ProjectRepository* projects,
                           net::HttpClient* client)
    : options_(std::move(options)), tenants_(tenants), projects_(projects), client_(client) {
  if (options_.token_cache_capacity == 0) options_.token_cache_capacity = 1;
}

int64_t OidcVerifier::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void OidcVerifier::set_keys_locked() {
  keys_ = Jwks::combine(file_keys_, url_keys_);
  // A key taken out of the set (rotated, compromised) must stop admitting the tokens it signed.
  tokens_.clear();
}

Result<void> OidcVerifier::load() {
  if (options_.jwks_file.empty()) return ok();
  if (auto r = reload_file_if_changed(); !r) {
    return error(StatusCode::invalid_argument, fmt::format("auth.oidc_jwks_file: {}", r.error().message()));
  }
  return ok();
}

Result<void> OidcVerifier::reload_file_if_changed() {
  if (options_.jwks_file.empty()) return ok();
  struct stat st {};
  if (::stat(options_.jwks_file.c_str(), &st) != 0) {
    return error(StatusCode::unavailable, fmt::format("cannot read {}", options_.jwks_file));
  }
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard lock(mu_);
    if (mtime_ns == file_mtime_ns_ && st.st_size == file_size_) return ok();
  }
  std::ifstream in(options_.jwks_file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return error(StatusCode::unavailable, fmt::format("cannot read {}", options_.jwks_file));
  auto parsed = Jwks::parse(text.str());
  std::lock_guard lock(mu_);
  file_mtime_ns_ = mtime_ns;
  file_size_ = st.st_size;
  if (!parsed) {
    // Keep the keys held: a half-written file must not lock everyone out. Say so once per change.
    log::warn("cannot use the OIDC JWKS file; keeping the keys held",
              {{"path", options_.jwks_file}, {"error", parsed.error().message()}});
    if (!have_file_keys_) return error(parsed.error());
    return ok();
  }
  file_keys_ = std::move(*parsed);
  have_file_keys_ = true;
  set_keys_locked();
  log::info("OIDC JWKS file loaded", {{"path", options_.jwks_file}, {"keys", static_cast<int64_t>(file_keys_.size())}});
  return ok();
}

net::Awaitable<void> OidcVerifier::refresh_if_due(std::string token) {
  if (options_.jwks_url.empty() || !client_) co_return;
  std::string kid;
  if (!token.empty()) {
    if (auto k = jwt_key_id(token)) kid = std::move(*k);
  }
  const int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    if (url_fetching_) co_return;  // another request is fetching; this one uses the keys held
    const int64_t age = url_fetched_at_ms_ < 0 ? INT64_MAX : now - url_fetched_at_ms_;
    const bool missing = !have_url_keys_ || (!kid.empty() && !keys_.has_kid(kid));
    const bool due = url_fetched_at_ms_ < 0 || age >= options_.jwks_refresh_seconds * 1000 ||
                     (missing && age >= options_.unknown_kid_refetch_ms);
    if (!due) co_return;
    url_fetching_ = true;
    url_fetched_at_ms_ = now;
  }
  net::ClientRequest request;
  request.url = options_.jwks_url;
  request.headers.set("Accept", "application/json");
  request.total_timeout = kFetchTimeout;
  request.first_byte_timeout = kFetchTimeout;
  auto response = co_await client_->request(std::move(request));
  Result<Jwks> parsed = error(StatusCode::unavailable, "");
  if (!response) {
    parsed = error(response.error());
  } else if (response->status != 200) {
    parsed = error(StatusCode::unavailable, fmt::format("HTTP status {}", response->status));
  } else {
    parsed = Jwks::parse(response->body);
  }
  std::lock_guard lock(mu_);
  url_fetching_ = false;
  if (!parsed) {
    log::warn("cannot fetch the OIDC JWKS; keeping the keys held",
              {{"url", options_.jwks_url}, {"error", parsed.error().message()}});
    co_return;
  }
  url_keys_ = std::move(*parsed);
  have_url_keys_ = true;
  set_keys_locked();
  log::info("OIDC JWKS fetched", {{"url", options_.jwks_url}, {"keys", static_cast<int64_t>(url_keys_.size())}});
}

std::optional<Identity> OidcVerifier::verify_cached(std::string_view token) {
  const int64_t now = now_ms();
  std::lock_guard lock(mu_);
  auto it = tokens_.find(std::string(token));
  if (it == tokens_.end()) return std::nullopt;
  if (now >= it->second.expires_at_ms) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.identity;
}

Result<Identity> OidcVerifier::verify(std::string_view token) {
  if (auto reloaded = reload_file_if_changed(); !reloaded) {
    log::warn("cannot re-read the OIDC JWKS file; keeping the keys held",
              {{"path", options_.jwks_file}, {"error", reloaded.error().message()}});
  }
  Jwks keys;
  {
    std::lock_guard lock(mu_);
    keys = keys_;
  }
  const int64_t now = now_ms();
  auto verified = verify_jwt(token, keys, options_.policy, now / 1000);
  if (!verified) return std::unexpected(std::move(verified.error()));
  if (auto known = check_tenant(verified->identity); !known) return std::unexpected(std::move(known.error()));

  std::lock_guard lock(mu_);
  if (tokens_.size() >= options_.token_cache_capacity) {
    std::erase_if(tokens_, [now](const auto& entry) { return now >= entry.second.expires_at_ms; });
    if (tokens_.size() >= options_.token_cache_capacity) tokens_.clear();
  }
  tokens_[std::string(token)] = CachedToken{verified->identity, verified->expires_at_s * 1000};
  return std::move(verified->identity);
}

Result<void> OidcVerifier::check_tenant(const Identity& identity) {
  if (identity.role == Role::platform_admin || !tenants_) return ok();
  const std::string key = identity.tenant_id + "/" + identity.project_id;
  const int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    if (auto it = tenants_seen_.find(key); it != tenants_seen_.end() && now - it->second < options_.tenant_cache_ttl_ms) {
      return ok();
    }
  }
  const auto& names = options_.policy.claims;
  if (auto tenant = tenants_->get(identity.tenant_id); !tenant) {
    if (tenant.error().code() != StatusCode::not_found) return error(tenant.error());
    return error(StatusCode::unauthenticated,
                 fmt::format("the JWT's \"{}\" claim names tenant \"{}\", which does not exist", names.tenant,
                             identity.tenant_id.substr(0, 64)));
  }
  if (!identity.project_id.empty() && projects_) {
    if (auto project = projects_->get(identity.tenant_id, identity.project_id); !project) {
      if (project.error().code() != StatusCode::not_found) return error(project.error());
      return error(StatusCode::unauthenticated,
                   fmt::format("the JWT's \"{}\" claim names project \"{}\", which is not a project of tenant \"{}\"",
                               names.project, identity.project_id.substr(0, 64), identity.tenant_id));
    }
  }
  std::lock_guard lock(mu_);
  if (tenants_seen_.size() >= kMaxTenantsSeen) tenants_seen_.clear();
  tenants_seen_[key] = now;
  return ok();
}

}  // namespace llmp::gateway
