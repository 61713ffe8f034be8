#include <catch2/catch.hpp>

#include <set>

#include "llmp/core/crypto.h"
#include "llmp/gateway/api_key.h"

using namespace llmp;
using namespace llmp::gateway;

TEST_CASE("minted keys have the documented shape and their prefix parses back") {
  const MintedKey m = mint_api_key();
  CHECK(m.key.starts_with("sk-llmp-" + m.prefix + "-"));
  CHECK(m.prefix.size() == kApiKeyPrefixHex);
  CHECK(m.key.size() == kApiKeyStart.size() + kApiKeyPrefixHex + 1 + kApiKeySecretHex);
  CHECK(kApiKeySecretHex * 4 >= 128);
  CHECK(m.hash == crypto::sha256_hex(m.key));
  auto prefix = api_key_prefix(m.key);
  REQUIRE(prefix);
  CHECK(*prefix == m.prefix);
  CHECK(redacted_api_key(m.prefix) == "sk-llmp-" + m.prefix + "-...");
}

TEST_CASE("minted keys differ") {
  std::set<std::string> keys, prefixes;
  for (int i = 0; i < 200; ++i) {
    const MintedKey m = mint_api_key();
    keys.insert(m.key);
    prefixes.insert(m.prefix);
  }
  CHECK(keys.size() == 200);
  CHECK(prefixes.size() == 200);
}

TEST_CASE("tokens that are not shaped like keys have no prefix") {
  const MintedKey m = mint_api_key();
  CHECK_FALSE(api_key_prefix(""));
  CHECK_FALSE(api_key_prefix("llmp-admin-0123"));
  CHECK_FALSE(api_key_prefix(m.key.substr(0, m.key.size() - 1)));
  CHECK_FALSE(api_key_prefix(m.key + "0"));
  std::string upper = m.key;
  upper[kApiKeyStart.size()] = 'G';
  CHECK_FALSE(api_key_prefix(upper));
  std::string no_dash = m.key;
  no_dash[kApiKeyStart.size() + kApiKeyPrefixHex] = '_';
  CHECK_FALSE(api_key_prefix(no_dash));
  std::string other_start = m.key;
  other_start[0] = 'x';
  CHECK_FALSE(api_key_prefix(other_start));
}
