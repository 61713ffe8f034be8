#pragma once
// Base64 (RFC 4648) in its two alphabets: standard for signatures and embeddings, url-safe for
// JWTs.

#include <optional>
#include <string>
#include <string_view>

namespace llmp::base64 {

//! Standard base64 (RFC 4648 §4) with '=' padding.
std::string encode(std::string_view bytes);

//! Standard base64, '=' padding optional (any number of trailing '=' is accepted, as before),
//! whitespace not allowed; nullopt for any other character, an impossible length, or leftover
//! bits that are not zero (so the data part of a text has one meaning).
std::optional<std::string> decode(std::string_view text);

//! Base64url without padding (RFC 7515 §2).
std::string encode_url(std::string_view bytes);

//! Base64url with or without padding; nullopt for any other character or an impossible
//! length. Leftover bits are not checked.
std::optional<std::string> decode_url(std::string_view text);

}  // namespace llmp::base64
