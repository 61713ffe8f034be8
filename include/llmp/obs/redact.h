#pragma once
// The built-in redactor for captured call content (capture = "redacted"): e-mail addresses,
// phone numbers and ID numbers (mainland China resident IDs, US SSNs, payment card numbers
// that pass the Luhn check) are replaced by a placeholder naming what was there, so the
// record still reads naturally ("write to [EMAIL] by Friday").

#include <string>
#include <string_view>

namespace llmp::obs {

//! `text` with every e-mail address → "[EMAIL]", phone number → "[PHONE]", ID number → "[ID]",
//! card number → "[CARD]". Works on UTF-8 (only ASCII characters are ever matched or removed).
std::string redact(std::string_view text);

}  // namespace llmp::obs
