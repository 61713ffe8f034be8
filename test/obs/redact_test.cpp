#include <catch2/catch.hpp>

#include "llmp/obs/redact.h"

using llmp::obs::redact;

TEST_CASE("e-mail addresses phone numbers and ID numbers are replaced and the rest kept") {
  CHECK(redact("write to jane.doe+work@example.co.uk by Friday.") == "write to [EMAIL] by Friday.");
  CHECK(redact("call +1 (415) 555-0132 or 415-555-0199") == "call [PHONE] or [PHONE]");
  CHECK(redact("手机 13812345678，邮箱 li@corp.cn") == "手机 [PHONE]，邮箱 [EMAIL]");
  CHECK(redact("身份证号 11010519491231002X 已登记") == "身份证号 [ID] 已登记");
  CHECK(redact("SSN 123-45-6789") == "SSN [ID]");
  CHECK(redact("card 4111 1111 1111 1111 exp 12/29") == "card [CARD] exp 12/29");
}

TEST_CASE("numbers that are none of those stay") {
  CHECK(redact("the year 2024 had 365 days and 8760 hours") == "the year 2024 had 365 days and 8760 hours");
  CHECK(redact("order 12345678, version 1.2.3") == "order 12345678, version 1.2.3");
  CHECK(redact("card 4111 1111 1111 1112") == "card 4111 1111 1111 1112");  // fails the Luhn check
  CHECK(redact("user@localhost and @handle") == "user@localhost and @handle");
  CHECK(redact("") == "");
}
