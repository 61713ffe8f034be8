// Base64 in both alphabets: round trips at every length, padding, and what each decoder refuses.

#include <catch2/catch.hpp>

#include <string>

#include "llmp/core/base64.h"

using namespace llmp;

TEST_CASE("base64url round-trips every length and refuses other alphabets") {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    CHECK(base64::decode_url(base64::encode_url(bytes)) == bytes);
    bytes += static_cast<char>(i * 37 + 251);
  }
  CHECK(base64::encode_url("\xfb\xff") == "-_8");
  CHECK(base64::decode_url("-_8=") == std::string("\xfb\xff"));
  CHECK_FALSE(base64::decode_url("ab+/"));
  CHECK_FALSE(base64::decode_url("a"));
}

TEST_CASE("standard base64 pads, round-trips every length and has one text per value") {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    CHECK(base64::decode(base64::encode(bytes)) == bytes);
    CHECK(base64::encode(bytes).size() % 4 == 0);
    bytes += static_cast<char>(i * 37 + 251);
  }
  CHECK(base64::encode("f") == "Zg==");
  CHECK(base64::encode("fo") == "Zm8=");
  CHECK(base64::encode("foo") == "Zm9v");
  CHECK(base64::encode("\xfb\xff") == "+/8=");
  CHECK(base64::decode("Zm8") == std::string("fo"));
  CHECK_FALSE(base64::decode("-_8="));
  CHECK_FALSE(base64::decode("Zm9="));  // leftover bits set: not the encoding of any value
  CHECK_FALSE(base64::decode("Zm 9v"));
}
