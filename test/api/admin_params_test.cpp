// Query parameters of the admin API's lists: the messages name the parameter and what it must be.

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstdint>

#include "admin_common.h"

using namespace llmp;

TEST_CASE("whole_param reads a whole number in range and says what it must be otherwise") {
  net::Request req;
  req.query = "since=1700000000&after=-1&until=12x&big=99999999999999999999&empty=";
  auto since = api::whole_param(req, "since", 100'000'000'000, "a time in seconds since the Unix epoch");
  REQUIRE(since);
  CHECK(*since == 1'700'000'000);

  auto absent = api::whole_param(req, "missing", INT64_MAX, "an id");
  REQUIRE(absent);
  CHECK(!*absent);
  auto empty = api::whole_param(req, "empty", INT64_MAX, "an id");
  REQUIRE(empty);
  CHECK(!*empty);

  for (const char* name : {"after", "until", "big"}) {
    INFO(name);
    auto bad = api::whole_param(req, name, INT64_MAX, "the id of an audit entry");
    REQUIRE(!bad);
    CHECK(bad.error().code() == StatusCode::invalid_argument);
    CHECK(bad.error().message() == fmt::format("'{}' must be the id of an audit entry", name));
  }
  auto over = api::whole_param(req, "since", 1000, "a time in seconds since the Unix epoch");
  REQUIRE(!over);
  CHECK(over.error().message() == "'since' must be a time in seconds since the Unix epoch");
}

TEST_CASE("text_param is nullopt for an absent or empty parameter") {
  net::Request req;
  req.query = "tenant_id=t_1&actor=";
  CHECK(api::text_param(req, "tenant_id") == std::optional<std::string>("t_1"));
  CHECK(!api::text_param(req, "actor"));
  CHECK(!api::text_param(req, "object_id"));
}

TEST_CASE("required_name passes a valid name and refuses a missing or malformed one") {
  using Given = Result<std::optional<std::string_view>>;
  auto ok = api::required_name(Given(std::optional<std::string_view>("team-a_1.x")));
  REQUIRE(ok);
  CHECK(*ok == "team-a_1.x");
  const std::string too_long(129, 'a');
  for (const Given& given : {Given(std::optional<std::string_view>()), Given(std::optional<std::string_view>("a b")),
                             Given(std::optional<std::string_view>(too_long))}) {
    auto refused = api::required_name(given);
    REQUIRE(!refused);
    CHECK(refused.error().code() == StatusCode::invalid_argument);
    CHECK(refused.error().message() == "'name' is required: 1-128 characters of letters, digits, '-', '_' or '.'");
  }
  auto wrong_type = api::required_name(Given(error(StatusCode::invalid_argument, "'name' must be a string")));
  REQUIRE(!wrong_type);
  CHECK(wrong_type.error().message() == "'name' must be a string");
}
