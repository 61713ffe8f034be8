#pragma once
// Ed25519 manifest signatures: the trusted public keys and the check of one signature.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "llmp/core/status.h"

namespace llmp::registry {

//! The ed25519 public keys signatures are checked against, by key id.
class TrustedKeys {
 public:
  //! Each value is a PEM public key ("-----BEGIN PUBLIC KEY-----") or the base64 of the 32 raw
  //! key bytes. Errors name the key id.
  static Result<std::unique_ptr<TrustedKeys>> parse(const std::map<std::string, std::string>& keys);
  ~TrustedKeys();

  bool empty() const { return keys_.empty(); }
  //! The id of the first key (by id) under which `signature_b64` verifies `payload`;
  //! invalid_argument when the signature is not base64 of 64 bytes, permission_denied when no
  //! trusted key verifies it.
  Result<std::string> verify(std::string_view payload, std::string_view signature_b64) const;

 private:
  struct Key;
  TrustedKeys() = default;
  std::map<std::string, std::unique_ptr<Key>> keys_;
};

}  // namespace llmp::registry
