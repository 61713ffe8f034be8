#include <catch2/catch.hpp>

#include "llmp/core/utf8.h"

using namespace llmp;

TEST_CASE("well-formed UTF-8 sequences") {
  CHECK(utf8::valid_sequence_length("a") == 1);
  CHECK(utf8::valid_sequence_length("\xc3\xa9") == 2);          // é
  CHECK(utf8::valid_sequence_length("\xe4\xb8\xad") == 3);      // 中
  CHECK(utf8::valid_sequence_length("\xf0\x9f\x98\x80") == 4);  // 😀
}

TEST_CASE("ill-formed UTF-8 sequences") {
  CHECK(utf8::valid_sequence_length("\xc0\xaf") == 0);          // overlong '/'
  CHECK(utf8::valid_sequence_length("\xed\xa0\x80") == 0);      // surrogate
  CHECK(utf8::valid_sequence_length("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
  CHECK(utf8::valid_sequence_length("\xe4\xb8") == 0);          // truncated
  CHECK(utf8::valid_sequence_length("\x80") == 0);              // lone continuation
  CHECK(utf8::first_invalid("ab\xe4\xb8\xad\xff") == 5);
  CHECK(utf8::is_valid("plain ascii"));
}
