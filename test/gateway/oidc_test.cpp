// OidcVerifier over a JWKS file: loaded at start, re-read when it changes (a rotated key is
// taken, a removed one stops admitting its cached tokens), and tokens cached until their exp;
// over a JWKS URL: fetched when due, and again on an unknown kid at most once a minute.

#include "llmp/gateway/oidc.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <thread>

#include "llmp/net/http_client.h"
#include "support/jwt_signer.h"
#include "support/static_http_server.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::gateway;
using llmp::test::TestSigningKey;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string claims(int64_t exp) {
  return R"({"iss":"https://issuer.test","aud":"llmplatform","sub":"bob","tenant_id":"ten_1","exp":)" +
         std::to_string(exp) + "}";
}

}  // namespace

TEST_CASE("OidcVerifier re-reads its JWKS file when it changes and caches tokens until exp") {
  llmp::test::TempDir dir;
  const std::string path = dir / "jwks.json";
  const TestSigningKey first = TestSigningKey::rsa("k1");
  const TestSigningKey second = TestSigningKey::ec("k2");
  write(path, llmp::test::jwks_of({&first}));

  int64_t now_ms = 1'800'000'000'000;
  OidcOptions options;
  options.policy.issuer = "https://issuer.test";
  options.policy.audience = "llmplatform";
  options.jwks_file = path;
  options.now_ms = [&now_ms] { return now_ms; };
  OidcVerifier verifier(options, nullptr, nullptr, nullptr);
  REQUIRE(verifier.load());

  const std::string token = first.sign(claims(now_ms / 1000 + 100));
  CHECK_FALSE(verifier.verify_cached(token));
  auto verified = verifier.verify(token);
  REQUIRE(verified);
  CHECK(verified->key_id == "jwt:bob");
  CHECK(verifier.verify_cached(token));

  // Not yet in the file: unknown kid. Rotated in (the first key removed): the new key works and
  // the first key's cached token is dropped.
  const std::string rotated = second.sign(claims(now_ms / 1000 + 100));
  CHECK_THAT(verifier.verify(rotated).error().message(), Catch::Contains("unknown kid"));
  write(path, llmp::test::jwks_of({&second}) + "\n");
  CHECK(verifier.verify(rotated));
  CHECK_FALSE(verifier.verify_cached(token));
  CHECK_FALSE(verifier.verify(token));

  // A broken file keeps the keys held.
  write(path, "{\"keys\":");
  CHECK(verifier.verify(rotated));

  // Past exp the cache no longer answers.
  now_ms += 101'000;
  CHECK_FALSE(verifier.verify_cached(rotated));
}

TEST_CASE("OidcVerifier load names the setting when the JWKS file is unusable") {
  llmp::test::TempDir dir;
  OidcOptions options;
  options.policy.issuer = "i";
  options.policy.audience = "a";
  options.jwks_file = dir / "missing.json";
  OidcVerifier verifier(options, nullptr, nullptr, nullptr);
  auto loaded = verifier.load();
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message(), Catch::Contains("auth.oidc_jwks_file"));
}

TEST_CASE("OidcVerifier fetches its JWKS URL and again on an unknown kid at most once a minute") {
  const TestSigningKey first = TestSigningKey::rsa("k1");
  const TestSigningKey second = TestSigningKey::ec("k2");
  llmp::test::StaticHttpServer jwks_server(llmp::test::jwks_of({&first}));

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  {
    net::HttpClient client(io.get_executor(), net::ClientOptions{});
    int64_t now_ms = 1'800'000'000'000;
    OidcOptions options;
    options.policy.issuer = "https://issuer.test";
    options.policy.audience = "llmplatform";
    options.jwks_url = jwks_server.url("/jwks");
    options.jwks_refresh_seconds = 300;
    options.now_ms = [&now_ms] { return now_ms; };
    OidcVerifier verifier(options, nullptr, nullptr, &client);
    auto refresh = [&](const std::string& token) {
      boost::asio::co_spawn(io, verifier.refresh_if_due(token), boost::asio::use_future).get();
    };

    const std::string token = first.sign(claims(now_ms / 1000 + 1000));
    refresh(token);
    CHECK(jwks_server.requests() == 1);
    CHECK(verifier.verify(token));
    refresh(token);  // not due: known kid, fresh keys
    CHECK(jwks_server.requests() == 1);

    // The issuer rotates in k2. Within a minute of the last fetch an unknown kid does not fetch.
    jwks_server.set_body(llmp::test::jwks_of({&first, &second}));
    const std::string rotated = second.sign(claims(now_ms / 1000 + 1000));
    now_ms += 30'000;
    refresh(rotated);
    CHECK(jwks_server.requests() == 1);
    CHECK_THAT(verifier.verify(rotated).error().message(), Catch::Contains("unknown kid"));
    now_ms += 31'000;
    refresh(rotated);
    CHECK(jwks_server.requests() == 2);
    CHECK(verifier.verify(rotated));

    // The period: fetched again after jwks_refresh_seconds even when every kid is known.
    now_ms += 300'000;
    refresh(token);
    CHECK(jwks_server.requests() == 3);
  }
  work.reset();
  io_thread.join();
}
