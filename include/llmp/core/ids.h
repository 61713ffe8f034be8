#pragma once
// Identifiers: request ids, random hex. Fast, per-thread generators seeded from the OS; not for
// secrets (API keys use crypto.h).

#include <cstdint>
#include <string>

namespace llmp::ids {

//! 64 random bits from a per-thread xoshiro256** generator.
uint64_t random_u64();

//! `n_bytes` random bytes as lowercase hex.
std::string random_hex(size_t n_bytes);

//! A new request id: "req_" + 24 hex digits.
std::string new_request_id();

}  // namespace llmp::ids
