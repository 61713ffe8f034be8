#pragma once
// Making tenants and keys through the admin API in integration tests: the steps every such test
// starts with, failing the test (with the answer shown) when the server refuses.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "support/http_client.h"
#include "support/response_text.h"

namespace llmp::test {

//! An API key made through the admin API: its id and its value (shown once).
struct CreatedKey {
  std::string id, value;
};

//! POST /admin/v1/tenants {"name": name} with `auth` (an Authorization header line); the id.
inline std::string create_tenant(uint16_t port, const std::string& auth, const std::string& name) {
  auto res = request(port, "POST", "/admin/v1/tenants", "{\"name\":\"" + name + "\"}", {auth});
  INFO(res.body);
  REQUIRE(res.status == 201);
  return string_field(res.body, "id");
}

//! POST /admin/v1/tenants/{tenant}/keys `body` with `auth` (an Authorization header line).
inline CreatedKey create_key(uint16_t port, const std::string& auth, const std::string& tenant,
                             const std::string& body) {
  auto res = request(port, "POST", "/admin/v1/tenants/" + tenant + "/keys", body, {auth});
  INFO(res.body);
  REQUIRE(res.status == 201);
  return {string_field(res.body, "id"), string_field(res.body, "value")};
}

}  // namespace llmp::test
