// JWT verification against keys generated at test time: RS256 and ES256 accepted, every other
// algorithm refused, and exp/nbf/iss/aud, kid selection and tampering each refused with a
// message that says why.

#include "llmp/gateway/jwt.h"

#include <catch2/catch.hpp>
#include <string>

#include "support/jwt_signer.h"

using namespace llmp;
using namespace llmp::gateway;
using llmp::test::b64url;
using llmp::test::TestSigningKey;

namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr const char* kIssuer = "https://issuer.test";
constexpr const char* kAudience = "llmplatform";

const TestSigningKey& rsa_key() {
  static const TestSigningKey key = TestSigningKey::rsa("rsa-1");
  return key;
}
const TestSigningKey& ec_key() {
  static const TestSigningKey key = TestSigningKey::ec("ec-1");
  return key;
}

Jwks keys() {
  auto parsed = Jwks::parse(llmp::test::jwks_of({&rsa_key(), &ec_key()}));
  REQUIRE(parsed);
  return *parsed;
}

JwtPolicy policy() {
  JwtPolicy p;
  p.issuer = kIssuer;
  p.audience = kAudience;
  return p;
}

std::string claims(const std::string& extra = R"("tenant_id":"ten_1")", int64_t exp = kNow + 600,
                   const std::string& aud = "\"llmplatform\"", const std::string& iss = kIssuer) {
  return "{\"iss\":\"" + iss + "\",\"aud\":" + aud + ",\"sub\":\"alice\",\"exp\":" + std::to_string(exp) +
         ",\"iat\":" + std::to_string(kNow - 10) + (extra.empty() ? "" : "," + extra) + "}";
}

Result<VerifiedJwt> verify(const std::string& token) {
  return verify_jwt(token, keys(), policy(), kNow);
}

std::string refusal(const std::string& token) {
  auto r = verify(token);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::unauthenticated);
  return r.error().message();
}

}  // namespace

TEST_CASE("looks_like_jwt needs exactly two dots") {
  CHECK(looks_like_jwt("a.b.c"));
  CHECK_FALSE(looks_like_jwt("sk-llmp-abc"));
  CHECK_FALSE(looks_like_jwt("a.b"));
  CHECK_FALSE(looks_like_jwt("a.b.c.d"));
}

TEST_CASE("a valid RS256 token maps to an app identity of its tenant") {
  auto r = verify(rsa_key().sign(claims()));
  REQUIRE(r);
  CHECK(r->subject == "alice");
  CHECK(r->expires_at_s == kNow + 600);
  CHECK(r->identity.role == Role::app);
  CHECK(r->identity.tenant_id == "ten_1");
  CHECK(r->identity.project_id.empty());
  CHECK(r->identity.scopes == static_cast<uint32_t>(Scope::inference));
  CHECK(r->identity.models.empty());
  CHECK(r->identity.key_id == "jwt:alice");
}

TEST_CASE("a valid ES256 token maps its role and scope and models and project claims") {
  auto r = verify(ec_key().sign(claims(
      R"("tenant_id":"ten_2","role":"tenant_admin","scope":"openid inference admin","models":["m1","m2"],"project_id":"prj_9")")));
  REQUIRE(r);
  CHECK(r->identity.role == Role::tenant_admin);
  CHECK(r->identity.tenant_id == "ten_2");
  CHECK(r->identity.project_id == "prj_9");
  CHECK(r->identity.has(Scope::inference));
  CHECK(r->identity.has(Scope::admin));
  CHECK_FALSE(r->identity.has(Scope::rag));
  CHECK(r->identity.models == std::vector<std::string>{"m1", "m2"});
}

TEST_CASE("a platform_admin token needs no tenant") {
  auto r = verify(rsa_key().sign(claims(R"("role":"platform_admin")")));
  REQUIRE(r);
  CHECK(r->identity.role == Role::platform_admin);
  CHECK(r->identity.tenant_id.empty());
  CHECK(r->identity.key_id == "jwt:alice");
}

TEST_CASE("configured claim names are read instead of the defaults") {
  JwtPolicy p = policy();
  p.claims.tenant = "org";
  p.claims.role = "llmp_role";
  auto r = verify_jwt(rsa_key().sign(claims(R"("org":"ten_7","llmp_role":"tenant_admin")")), keys(), p, kNow);
  REQUIRE(r);
  CHECK(r->identity.tenant_id == "ten_7");
  CHECK(r->identity.role == Role::tenant_admin);
}

TEST_CASE("an expired token is refused after the leeway only") {
  CHECK(verify(rsa_key().sign(claims(R"("tenant_id":"t")", kNow - 30))));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t")", kNow - 61))), Catch::Contains("expired"));
}

TEST_CASE("a token whose nbf is in the future is refused") {
  CHECK(verify(rsa_key().sign(claims(R"("tenant_id":"t","nbf":)" + std::to_string(kNow + 30)))));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t","nbf":)" + std::to_string(kNow + 120)))),
             Catch::Contains("not valid yet"));
}

TEST_CASE("a token without exp is refused") {
  CHECK_THAT(refusal(rsa_key().sign(R"({"iss":"https://issuer.test","aud":"llmplatform","tenant_id":"t"})")),
             Catch::Contains("\"exp\""));
}

TEST_CASE("a token from another issuer is refused") {
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t")", kNow + 600, "\"llmplatform\"", "https://evil.test"))),
             Catch::Contains("wrong issuer"));
}

TEST_CASE("the audience may be a string or an array holding it") {
  CHECK(verify(rsa_key().sign(claims(R"("tenant_id":"t")", kNow + 600, R"(["other","llmplatform"])"))));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t")", kNow + 600, "\"other\""))),
             Catch::Contains("wrong audience"));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t")", kNow + 600, R"(["a","b"])"))),
             Catch::Contains("wrong audience"));
}

TEST_CASE("a token signed by a key not in the JWKS is refused as a bad signature") {
  const TestSigningKey impostor = TestSigningKey::rsa("rsa-1");  // same kid, other key
  CHECK_THAT(refusal(impostor.sign(claims())), Catch::Contains("bad signature"));
  const TestSigningKey ec_impostor = TestSigningKey::ec("ec-1");
  CHECK_THAT(refusal(ec_impostor.sign(claims())), Catch::Contains("bad signature"));
}

TEST_CASE("a tampered payload fails the signature check") {
  const std::string token = rsa_key().sign(claims(R"("tenant_id":"ten_1")"));
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string forged = token.substr(0, dot1 + 1) + b64url(claims(R"("tenant_id":"ten_2")")) + token.substr(dot2);
  CHECK_THAT(refusal(forged), Catch::Contains("bad signature"));
  std::string flipped = token;
  flipped[dot1 + 5] = flipped[dot1 + 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verify(flipped));
}

TEST_CASE("alg none and HS256 and RS512 are refused") {
  const std::string payload = b64url(claims());
  CHECK_THAT(refusal(b64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."), Catch::Contains("alg not allowed"));
  CHECK_THAT(refusal(b64url(R"({"alg":"HS256","kid":"rsa-1"})") + "." + payload + ".c2ln"),
             Catch::Contains("alg not allowed"));
  CHECK_THAT(refusal(rsa_key().sign(R"({"alg":"RS512","kid":"rsa-1"})", claims())), Catch::Contains("alg not allowed"));
  CHECK_THAT(refusal(rsa_key().sign(R"({"kid":"rsa-1"})", claims())), Catch::Contains("\"alg\""));
}

TEST_CASE("an alg that does not fit the kid's key type is refused") {
  // An RS256 signature presented as ES256 against the RSA key, and the other way round.
  CHECK_THAT(refusal(rsa_key().sign(R"({"alg":"ES256","kid":"rsa-1"})", claims())), Catch::Contains("cannot verify"));
  CHECK_THAT(refusal(ec_key().sign(R"({"alg":"RS256","kid":"ec-1"})", claims())), Catch::Contains("cannot verify"));
}

TEST_CASE("an unknown kid is refused") {
  const TestSigningKey other = TestSigningKey::ec("rotated-2");
  CHECK_THAT(refusal(other.sign(claims())), Catch::Contains("unknown kid"));
}

TEST_CASE("without a kid the only key of the algorithm's type is used") {
  const TestSigningKey rsa = TestSigningKey::rsa("");
  const TestSigningKey ec1 = TestSigningKey::ec(""), ec2 = TestSigningKey::ec("");
  auto one = Jwks::parse(llmp::test::jwks_of({&rsa}));
  REQUIRE(one);
  CHECK(verify_jwt(rsa.sign(claims()), *one, policy(), kNow));
  auto two = Jwks::parse(llmp::test::jwks_of({&rsa, &ec1, &ec2}));
  REQUIRE(two);
  CHECK(verify_jwt(rsa.sign(claims()), *two, policy(), kNow));
  auto refused = verify_jwt(ec1.sign(claims()), *two, policy(), kNow);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("several EC keys"));
}

TEST_CASE("a token without its tenant claim or with an unknown role is refused naming the claim") {
  CHECK_THAT(refusal(rsa_key().sign(claims(""))), Catch::Contains("\"tenant_id\""));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t","role":"root")"))), Catch::Contains("\"role\""));
  CHECK_THAT(refusal(rsa_key().sign(claims(R"("tenant_id":"t","models":"m1")"))), Catch::Contains("\"models\""));
}

TEST_CASE("malformed tokens are refused without echoing them") {
  CHECK_THAT(refusal("a.b"), Catch::Contains("not a JWT"));
  CHECK_THAT(refusal("!!.e30.e30"), Catch::Contains("base64url"));
  CHECK_THAT(refusal(b64url("[1]") + ".e30.e30"), Catch::Contains("JSON object"));
}

TEST_CASE("a JWKS without usable keys or with a bad key is refused") {
  CHECK_FALSE(Jwks::parse("not json"));
  CHECK_FALSE(Jwks::parse(R"({"nokeys":[]})"));
  auto only_secret = Jwks::parse(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  REQUIRE_FALSE(only_secret);
  CHECK_THAT(only_secret.error().message(), Catch::Contains("no RS256"));
  auto off_curve = Jwks::parse(
      R"({"keys":[{"kty":"EC","crv":"P-256","kid":"x","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]})");
  REQUIRE_FALSE(off_curve);
  CHECK_THAT(off_curve.error().message(), Catch::Contains("P-256"));
  auto small_rsa = Jwks::parse(R"({"keys":[{"kty":"RSA","kid":"s","n":"AQAB","e":"AQAB"}]})");
  REQUIRE_FALSE(small_rsa);
}

TEST_CASE("jwt_key_id reads the header kid") {
  CHECK(jwt_key_id(rsa_key().sign(claims())).value() == "rsa-1");
  CHECK(jwt_key_id(TestSigningKey::ec("").sign(claims())).value().empty());
  CHECK_FALSE(jwt_key_id("nope"));
}
