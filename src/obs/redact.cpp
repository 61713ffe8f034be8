#include "llmp/obs/redact.h"

#include <cctype>
#include <vector>

namespace llmp::obs {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_local_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
bool is_domain_char(char c) { return is_alnum(c) || c == '-' || c == '.'; }

// An e-mail address around the '@' at `at`: [start, end), or end == 0 when there is none.
std::pair<size_t, size_t> email_at(std::string_view s, size_t at) {
  size_t b = at;
  while (b > 0 && is_local_char(s[b - 1])) --b;
  size_t e = at + 1;
  while (e < s.size() && is_domain_char(s[e])) ++e;
  while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) --e;  // trailing punctuation is the sentence's
  const std::string_view domain = s.substr(at + 1, e - at - 1);
  const size_t dot = domain.rfind('.');
  if (b == at || dot == std::string_view::npos || dot == 0 || domain.size() - dot - 1 < 2) return {0, 0};
  return {b, e};
}

bool luhn(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// A run of digits with the separators phone numbers, cards and IDs use (space, '-', '.', '(',
// ')', a leading '+'), starting at `b`: its end, and the digits in it.
size_t digit_run(std::string_view s, size_t b, std::string& digits) {
  size_t e = b;
  if (e < s.size() && s[e] == '+') ++e;
  size_t last_digit_end = b;
  while (e < s.size()) {
    const char c = s[e];
    if (is_digit(c)) {
      digits.push_back(c);
      last_digit_end = e + 1;
    } else if (c == 'X' || c == 'x') {
      // The check character of a resident ID.
      if (digits.size() == 17) {
        digits.push_back('X');
        last_digit_end = e + 1;
      } else {
        break;
      }
    } else if (!(c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')) {
      break;
    } else if (e + 1 < s.size() && !is_digit(s[e + 1]) && s[e + 1] != '(' && s[e + 1] != ' ') {
      break;  // a separator not followed by more of the number ends it
    }
    ++e;
  }
  return last_digit_end;
}

// What the digit run is, as its placeholder; empty when it is none of them.
std::string_view classify(std::string_view run, const std::string& digits) {
  const size_t n = digits.size();
  const size_t x = digits.find('X');
  if (n == 18 && (x == std::string::npos || x == 17) && run.find(' ') == std::string_view::npos) {
    // Mainland China resident ID: 6-digit region, birth date (19xx/20xx), 3 digits, check.
    if (digits.compare(6, 2, "19") == 0 || digits.compare(6, 2, "20") == 0) return "[ID]";
  }
  if (x != std::string::npos) return {};
  if (n >= 13 && n <= 19 && luhn(digits)) return "[CARD]";
  if (n == 9 && run.size() == 11 && run[3] == '-' && run[6] == '-') return "[ID]";  // US SSN 123-45-6789
  // Phones: 7 to 15 digits (E.164) written with a '+' or separators, or a mainland mobile
  // number (11 digits starting 1[3-9]).
  const bool formatted = run.front() == '+' || run.find_first_of(" -.()") != std::string_view::npos;
  if (n >= 7 && n <= 15 && formatted) return "[PHONE]";
  if (n == 11 && digits[0] == '1' && digits[1] >= '3' && digits[1] <= '9') return "[PHONE]";
  return {};
}

}  // namespace

std::string redact(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    // E-mail: find the next '@' and check the text around it.
    if (s[i] == '@') {
      // The local part is already in `out`, copied as it was: take it back.
      auto [b, e] = email_at(s, i);
      const std::string_view local = s.substr(b, i - b);
      if (e != 0 && out.ends_with(local)) {
        out.resize(out.size() - local.size());
        out += "[EMAIL]";
        i = e;
        continue;
      }
    }
    const bool starts_number = (is_digit(s[i]) || (s[i] == '+' && i + 1 < s.size() && is_digit(s[i + 1])) ||
                                (s[i] == '(' && i + 1 < s.size() && is_digit(s[i + 1]))) &&
                               (i == 0 || !is_alnum(s[i - 1]));
    if (starts_number) {
      std::string digits;
      const size_t e = digit_run(s, i, digits);
      const bool ends_clean = e >= s.size() || !is_alnum(s[e]);
      if (e > i && ends_clean) {
        const std::string_view what = classify(s.substr(i, e - i), digits);
        if (!what.empty()) {
          out += what;
          i = e;
          continue;
        }
        out.append(s.substr(i, e - i));
        i = e;
        continue;
      }
    }
    out.push_back(s[i]);
    ++i;
  }
  return out;
}

}  // namespace llmp::obs
