// JWS parsing and verification through OpenSSL's EVP API; the header, claims and JWKS are JSON
// the gateway owns (like the engine's model configs), so they are parsed here with simdjson.

#include "llmp/gateway/jwt.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "llmp/core/base64.h"

// Binds `var` to the value of a Result, or returns its error.
#define JWT_TRY(var, expr)                                                       \
  auto var##_result_ = (expr);                                                   \
  if (!var##_result_) return std::unexpected(std::move(var##_result_.error())); \
  auto var = std::move(*var##_result_)

namespace llmp::gateway {

struct Jwks::Key {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // the JWK's "alg", empty when it has none
  std::shared_ptr<EVP_PKEY> pkey;
};

namespace {

constexpr size_t kMaxShown = 64;  // of a kid or claim value echoed in a message

std::unexpected<Status> unauthenticated(std::string message) {
  return error(StatusCode::unauthenticated, std::move(message));
}

std::string shown(std::string_view text) {
  return std::string(text.substr(0, kMaxShown));
}

// RS256 → "RSA", ES256 → "EC", anything else → empty (not allowed).
std::string_view kty_of(std::string_view alg) {
  if (alg == "RS256") return "RSA";
  if (alg == "ES256") return "EC";
  return {};
}

struct ParamBuilderDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

std::shared_ptr<EVP_PKEY> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

Result<std::string> b64_member(simdjson::dom::object key, std::string_view member, std::string_view what) {
  std::string_view text;
  if (key[member].get(text) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("JWKS: {} key \"{}\" has no string member", what, member));
  }
  auto bytes = base64::decode_url(text);
  if (!bytes || bytes->empty()) {
    return error(StatusCode::invalid_argument, fmt::format("JWKS: {} key member \"{}\" is not base64url", what, member));
  }
  return std::move(*bytes);
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(simdjson::dom::object key, std::string_view kid) {
  JWT_TRY(n, b64_member(key, "n", "RSA"));
  JWT_TRY(e, b64_member(key, "e", "RSA"));
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuilderDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return error(StatusCode::internal, "JWKS: out of memory building an RSA key");
  }
  auto pkey = pkey_from_params("RSA", bld.get());
  if (!pkey) return error(StatusCode::invalid_argument, fmt::format("JWKS: RSA key \"{}\" is not a valid key", kid));
  if (EVP_PKEY_get_bits(pkey.get()) < 2048) {
    return error(StatusCode::invalid_argument,
                 fmt::format("JWKS: RSA key \"{}\" has {} bits; RS256 needs at least 2048", kid, EVP_PKEY_get_bits(pkey.get())));
  }
  return pkey;
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(simdjson::dom::object key, std::string_view kid) {
  JWT_TRY(x, b64_member(key, "x", "EC"));
  JWT_TRY(y, b64_member(key, "y", "EC"));
  if (x.size() != 32 || y.size() != 32) {
    return error(StatusCode::invalid_argument, fmt::format("JWKS: EC key \"{}\": x and y must be 32 bytes for P-256", kid));
  }
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuilderDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return error(StatusCode::internal, "JWKS: out of memory building an EC key");
  }
  auto pkey = pkey_from_params("EC", bld.get());
  bool valid = pkey != nullptr;
  if (valid) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    valid = check && EVP_PKEY_public_check(check.get()) == 1;
  }
  if (!valid) {
    return error(StatusCode::invalid_argument, fmt::format("JWKS: EC key \"{}\" is not a point on P-256", kid));
  }
  return pkey;
}

// JOSE's ES256 signature is r||s, 32 bytes each; OpenSSL verifies the DER ECDSA-Sig-Value.
std::optional<std::string> ecdsa_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool verify_signature(EVP_PKEY* pkey, std::string_view signing_input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) return false;
  return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

struct Parts {
  std::string_view header, payload, signature;  // still base64url
};

Result<Parts> split(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return unauthenticated("the bearer token is not a JWT (header.payload.signature)");
  }
  return Parts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

Result<simdjson::dom::object> json_object(simdjson::dom::parser& parser, std::string_view b64, std::string_view what) {
  auto text = base64::decode_url(b64);
  if (!text) return unauthenticated(fmt::format("the JWT's {} is not base64url", what));
  simdjson::dom::object obj;
  if (parser.parse(*text).get(obj) != simdjson::SUCCESS) {
    return unauthenticated(fmt::format("the JWT's {} is not a JSON object", what));
  }
  return obj;
}

// A NumericDate: an integer or a number with a fraction (floored).
Result<std::optional<int64_t>> numeric_date(simdjson::dom::object claims, std::string_view name) {
  auto field = claims[name];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<int64_t>();
  int64_t i = 0;
  double d = 0;
  if (field.get(i) == simdjson::SUCCESS) return std::optional<int64_t>(i);
  if (field.get(d) == simdjson::SUCCESS && std::isfinite(d) && std::abs(d) < 1e15) {
    return std::optional<int64_t>(static_cast<int64_t>(std::floor(d)));
  }
  return unauthenticated(fmt::format("the JWT's \"{}\" claim is not a number", name));
}

Result<std::optional<std::string_view>> string_claim(simdjson::dom::object claims, std::string_view name) {
  auto field = claims[name];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<std::string_view>();
  std::string_view v;
  if (field.get(v) != simdjson::SUCCESS) {
    return unauthenticated(fmt::format("the JWT's \"{}\" claim is not a string", name));
  }
  return std::optional<std::string_view>(v);
}

Result<void> check_audience(simdjson::dom::object claims, std::string_view audience) {
  auto field = claims["aud"];
  if (field.error() == simdjson::NO_SUCH_FIELD) return unauthenticated("the JWT has no \"aud\" claim");
  std::string_view one;
  simdjson::dom::array many;
  if (field.get(one) == simdjson::SUCCESS) {
    if (one == audience) return ok();
  } else if (field.get(many) == simdjson::SUCCESS) {
    for (auto element : many) {
      std::string_view v;
      if (element.get(v) == simdjson::SUCCESS && v == audience) return ok();
    }
  } else {
    return unauthenticated("the JWT's \"aud\" claim is neither a string nor an array");
  }
  return unauthenticated(fmt::format("wrong audience: the JWT is not for \"{}\"", audience));
}

Result<Identity> identity_from(simdjson::dom::object claims, const JwtClaimNames& names) {
  JWT_TRY(role_text, string_claim(claims, names.role));
  Role role = Role::app;
  if (role_text) {
    if (*role_text == "platform_admin") {
      role = Role::platform_admin;
    } else if (auto parsed = parse_key_role(*role_text)) {
      role = *parsed;
    } else {
      return unauthenticated(fmt::format("the JWT's \"{}\" claim is \"{}\", not platform_admin, tenant_admin or app",
                                         names.role, shown(*role_text)));
    }
  }
  if (role == Role::platform_admin) return platform_admin_identity();

  Identity id;
  id.role = role;
  JWT_TRY(tenant, string_claim(claims, names.tenant));
  if (!tenant || tenant->empty()) {
    return unauthenticated(fmt::format("the JWT has no \"{}\" claim naming its tenant", names.tenant));
  }
  id.tenant_id = std::string(*tenant);
  JWT_TRY(project, string_claim(claims, names.project));
  if (project) id.project_id = std::string(*project);

  auto scope = claims[names.scope];
  if (scope.error() == simdjson::NO_SUCH_FIELD) {
    id.scopes = static_cast<uint32_t>(Scope::inference);
  } else {
    // Space-separated names (RFC 8693 "scope"), or an array of them ("scp" in some IdPs);
    // names that are not ours (openid, profile, ...) are ignored.
    auto add = [&id](std::string_view name) {
      if (auto s = parse_scope(name)) id.scopes |= static_cast<uint32_t>(*s);
    };
    std::string_view text;
    simdjson::dom::array list;
    if (scope.get(text) == simdjson::SUCCESS) {
      size_t at = 0;
      while (at <= text.size()) {
        const size_t end = std::min(text.find(' ', at), text.size());
        if (end > at) add(text.substr(at, end - at));
        at = end + 1;
      }
    } else if (scope.get(list) == simdjson::SUCCESS) {
      for (auto element : list) {
        if (element.get(text) == simdjson::SUCCESS) add(text);
      }
    } else {
      return unauthenticated(fmt::format("the JWT's \"{}\" claim is neither a string nor an array", names.scope));
    }
  }

  auto models = claims[names.models];
  if (models.error() != simdjson::NO_SUCH_FIELD) {
    simdjson::dom::array list;
    if (models.get(list) != simdjson::SUCCESS) {
      return unauthenticated(fmt::format("the JWT's \"{}\" claim is not an array of model ids", names.models));
    }
    for (auto element : list) {
      std::string_view model;
      if (element.get(model) != simdjson::SUCCESS) {
        return unauthenticated(fmt::format("the JWT's \"{}\" claim is not an array of model ids", names.models));
      }
      id.models.emplace_back(model);
    }
  }
  return id;
}

}  // namespace

bool looks_like_jwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

Jwks::Jwks() : keys_(std::make_shared<const std::vector<std::shared_ptr<const Key>>>()) {}

Result<Jwks> Jwks::parse(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  if (auto e = parser.parse(simdjson::padded_string(json)).get(doc); e != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("JWKS: not a JSON object ({})", simdjson::error_message(e)));
  }
  simdjson::dom::array list;
  if (doc["keys"].get(list) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, "JWKS: no \"keys\" array");
  }
  auto keys = std::make_shared<std::vector<std::shared_ptr<const Key>>>();
  for (auto element : list) {
    simdjson::dom::object obj;
    if (element.get(obj) != simdjson::SUCCESS) return error(StatusCode::invalid_argument, "JWKS: a key is not an object");
    std::string_view kty, kid, alg, use, crv;
    if (obj["kty"].get(kty) != simdjson::SUCCESS) return error(StatusCode::invalid_argument, "JWKS: a key has no \"kty\"");
    if (obj["kid"].get(kid) != simdjson::SUCCESS) kid = {};
    if (obj["alg"].get(alg) != simdjson::SUCCESS) alg = {};
    if (obj["use"].get(use) == simdjson::SUCCESS && use != "sig") continue;  // an encryption key
    auto key = std::make_shared<Key>();
    key->kid = std::string(kid);
    key->kty = std::string(kty);
    key->alg = std::string(alg);
    if (kty == "RSA") {
      if (!alg.empty() && alg != "RS256") continue;  // RS384, PS256, ...: not for us
      JWT_TRY(pkey, rsa_key(obj, kid));
      key->pkey = std::move(pkey);
    } else if (kty == "EC") {
      if (obj["crv"].get(crv) != simdjson::SUCCESS || crv != "P-256" || (!alg.empty() && alg != "ES256")) continue;
      JWT_TRY(pkey, ec_key(obj, kid));
      key->pkey = std::move(pkey);
    } else {
      continue;  // oct (a shared secret), OKP, ...
    }
    keys->push_back(std::move(key));
  }
  if (keys->empty()) {
    return error(StatusCode::invalid_argument, "JWKS: no RS256 (RSA) or ES256 (EC P-256) signing key");
  }
  Jwks out;
  out.keys_ = std::move(keys);
  return out;
}

Jwks Jwks::combine(const Jwks& a, const Jwks& b) {
  auto keys = std::make_shared<std::vector<std::shared_ptr<const Key>>>(*a.keys_);
  keys->insert(keys->end(), b.keys_->begin(), b.keys_->end());
  Jwks out;
  out.keys_ = std::move(keys);
  return out;
}

size_t Jwks::size() const {
  return keys_->size();
}

bool Jwks::has_kid(std::string_view kid) const {
  for (const auto& k : *keys_) {
    if (k->kid == kid) return true;
  }
  return false;
}

Result<const Jwks::Key*> Jwks::select(std::string_view kid, std::string_view alg) const {
  const std::string_view kty = kty_of(alg);
  const Key* found = nullptr;
  if (!kid.empty()) {
    for (const auto& k : *keys_) {
      if (k->kid == kid) {
        found = k.get();
        break;
      }
    }
    if (!found) return unauthenticated(fmt::format("unknown kid: no key \"{}\" in the JWKS", shown(kid)));
    if (found->kty != kty) {
      return unauthenticated(fmt::format("key \"{}\" is an {} key, which cannot verify {}", shown(kid), found->kty, alg));
    }
    return found;
  }
  for (const auto& k : *keys_) {
    if (k->kty != kty) continue;
    if (found) return unauthenticated(fmt::format("the JWT has no kid and the JWKS has several {} keys", kty));
    found = k.get();
  }
  if (!found) return unauthenticated(fmt::format("the JWT has no kid and the JWKS has no {} key", kty));
  return found;
}

Result<std::string> jwt_key_id(std::string_view token) {
  JWT_TRY(parts, split(token));
  simdjson::dom::parser parser;
  JWT_TRY(header, json_object(parser, parts.header, "header"));
  std::string_view kid;
  if (auto field = header["kid"]; field.error() != simdjson::NO_SUCH_FIELD && field.get(kid) != simdjson::SUCCESS) {
    return unauthenticated("the JWT's \"kid\" is not a string");
  }
  return std::string(kid);
}

Result<VerifiedJwt> verify_jwt(std::string_view token, const Jwks& keys, const JwtPolicy& policy, int64_t now_s) {
  JWT_TRY(parts, split(token));
  simdjson::dom::parser header_parser;
  JWT_TRY(header, json_object(header_parser, parts.header, "header"));
  std::string_view alg, kid;
  if (header["alg"].get(alg) != simdjson::SUCCESS) return unauthenticated("the JWT's header has no \"alg\"");
  if (kty_of(alg).empty()) {
    return unauthenticated(fmt::format("alg not allowed: \"{}\" (only RS256 and ES256 are accepted)", shown(alg)));
  }
  if (auto field = header["kid"]; field.error() != simdjson::NO_SUCH_FIELD && field.get(kid) != simdjson::SUCCESS) {
    return unauthenticated("the JWT's \"kid\" is not a string");
  }
  // RFC 7515 §4.1.11: an extension the recipient does not understand makes the JWS invalid.
  if (header["crit"].error() != simdjson::NO_SUCH_FIELD) {
    return unauthenticated("the JWT's header has \"crit\" extensions, which are not supported");
  }
  JWT_TRY(key, keys.select(kid, alg));

  auto signature = base64::decode_url(parts.signature);
  if (!signature) return unauthenticated("bad signature: not base64url");
  if (alg == "ES256") {
    signature = ecdsa_der(*signature);
    if (!signature) return unauthenticated("bad signature: an ES256 signature is 64 bytes");
  }
  const std::string_view signing_input = token.substr(0, parts.header.size() + 1 + parts.payload.size());
  if (!verify_signature(key->pkey.get(), signing_input, *signature)) {
    return unauthenticated("bad signature: the JWT was not signed by the JWKS key it names, or was altered");
  }

  // Only now are the claims worth reading.
  simdjson::dom::parser payload_parser;
  JWT_TRY(claims, json_object(payload_parser, parts.payload, "payload"));
  JWT_TRY(exp, numeric_date(claims, "exp"));
  if (!exp) return unauthenticated("the JWT has no \"exp\" claim");
  if (now_s > *exp + policy.leeway_s) return unauthenticated("the JWT has expired");
  JWT_TRY(nbf, numeric_date(claims, "nbf"));
  if (nbf && now_s + policy.leeway_s < *nbf) return unauthenticated("the JWT is not valid yet (nbf is in the future)");
  JWT_TRY(iss, string_claim(claims, "iss"));
  if (!iss || *iss != policy.issuer) {
    return unauthenticated(fmt::format("wrong issuer: the JWT is not from \"{}\"", policy.issuer));
  }
  LLMP_TRY_VOID(check_audience(claims, policy.audience));
  JWT_TRY(sub, string_claim(claims, "sub"));
  JWT_TRY(identity, identity_from(claims, policy.claims));

  VerifiedJwt out;
  out.subject = std::string(sub.value_or(""));
  out.expires_at_s = *exp;
  out.identity = std::move(identity);
  out.identity.key_id = "jwt:" + out.subject;
  return out;
}

}  // namespace llmp::gateway
