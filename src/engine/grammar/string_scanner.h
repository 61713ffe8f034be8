#pragma once
// The byte-level scanner of the inside of a JSON string: escapes, and UTF-8 validated byte by
// byte so that a token ending in the middle of a character leaves a state that only the right
// continuation bytes can follow. Its whole state is one byte, kept in a recogniser frame.

#include <cstdint>

namespace llmp::engine::grammar {

enum StringScan : uint8_t {
  kScanNormal = 0,  // between characters
  kScanEscape,      // after '\'
  kScanHex1,        // after "\u"
  kScanHex2,        // after "\uX" (X not D)
  kScanHex2LowD,    // after "\uD": 0-7 only, so no surrogate (a lone one is not valid text)
  kScanHex3,
  kScanHex4,
  kScanCont1,       // one continuation byte (80-BF) to go
  kScanCont2,       // two to go
  kScanCont3,       // three to go
  kScanCont2E0,     // after E0: A0-BF, then one more (no overlong forms)
  kScanCont2ED,     // after ED: 80-9F, then one more (no surrogates)
  kScanCont3F0,     // after F0: 90-BF, then two more (no overlong forms)
  kScanCont3F4,     // after F4: 80-8F, then two more (nothing past U+10FFFF)
};

enum class ScanResult : uint8_t {
  reject,     // the byte cannot come here
  close,      // the closing quote
  start,      // the first byte of a character (a plain byte, an escape's '\', a UTF-8 lead byte)
  continues,  // a later byte of a character
};

inline bool is_hex_digit(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//! Advances `scan` by byte `c` (0..255).
inline ScanResult scan_string_byte(uint8_t& scan, int c) {
  switch (scan) {
    case kScanNormal:
      if (c == '"') return ScanResult::close;
      if (c == '\\') {
        scan = kScanEscape;
        return ScanResult::start;
      }
      if (c < 0x20) return ScanResult::reject;
      if (c < 0x80) return ScanResult::start;
      if (c < 0xC2) return ScanResult::reject;  // a continuation byte, or an overlong lead
      if (c < 0xE0) {
        scan = kScanCont1;
      } else if (c == 0xE0) {
        scan = kScanCont2E0;
      } else if (c == 0xED) {
        scan = kScanCont2ED;
      } else if (c < 0xF0) {
        scan = kScanCont2;
      } else if (c == 0xF0) {
        scan = kScanCont3F0;
      } else if (c < 0xF4) {
        scan = kScanCont3;
      } else if (c == 0xF4) {
        scan = kScanCont3F4;
      } else {
        return ScanResult::reject;
      }
      return ScanResult::start;
    case kScanEscape:
      switch (c) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          scan = kScanNormal;
          return ScanResult::continues;
        case 'u':
          scan = kScanHex1;
          return ScanResult::continues;
        default:
          return ScanResult::reject;
      }
    case kScanHex1:
      if (!is_hex_digit(c)) return ScanResult::reject;
      scan = (c == 'd' || c == 'D') ? kScanHex2LowD : kScanHex2;
      return ScanResult::continues;
    case kScanHex2LowD:
      if (c < '0' || c > '7') return ScanResult::reject;
      scan = kScanHex3;
      return ScanResult::continues;
    case kScanHex2:
    case kScanHex3:
      if (!is_hex_digit(c)) return ScanResult::reject;
      scan = scan == kScanHex2 ? kScanHex3 : kScanHex4;
      return ScanResult::continues;
    case kScanHex4:
      if (!is_hex_digit(c)) return ScanResult::reject;
      scan = kScanNormal;
      return ScanResult::continues;
    case kScanCont1:
    case kScanCont2:
    case kScanCont3:
      if (c < 0x80 || c > 0xBF) return ScanResult::reject;
      scan = scan == kScanCont1 ? kScanNormal : scan == kScanCont2 ? kScanCont1 : kScanCont2;
      return ScanResult::continues;
    case kScanCont2E0:
      if (c < 0xA0 || c > 0xBF) return ScanResult::reject;
      scan = kScanCont1;
      return ScanResult::continues;
    case kScanCont2ED:
      if (c < 0x80 || c > 0x9F) return ScanResult::reject;
      scan = kScanCont1;
      return ScanResult::continues;
    case kScanCont3F0:
      if (c < 0x90 || c > 0xBF) return ScanResult::reject;
      scan = kScanCont2;
      return ScanResult::continues;
    case kScanCont3F4:
      if (c < 0x80 || c > 0x8F) return ScanResult::reject;
      scan = kScanCont2;
      return ScanResult::continues;
    default:
      return ScanResult::reject;
  }
}

}  // namespace llmp::engine::grammar
