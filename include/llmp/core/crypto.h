#pragma once
// Hashes and secrets, through OpenSSL's libcrypto.

#include <cstdint>
#include <string>
#include <string_view>

namespace llmp::crypto {

//! SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

//! `n` bytes from the OS CSPRNG (for keys and secrets), as lowercase hex.
std::string random_secret_hex(size_t n);

//! Compares without an early exit, so timing does not reveal where two secrets differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace llmp::crypto
