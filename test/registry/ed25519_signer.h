#pragma once
// An ed25519 key made at test time, to sign manifests as a publisher would.

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "llmp/core/base64.h"
#include "signature.h"

namespace llmp::test {

class Ed25519Signer {
 public:
  Ed25519Signer() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free) { REQUIRE(key_); }

  //! Base64 of the 32 raw public key bytes.
  std::string public_raw_b64() const {
    unsigned char raw[32];
    size_t len = sizeof(raw);
    REQUIRE(EVP_PKEY_get_raw_public_key(key_.get(), raw, &len) == 1);
    return base64::encode(std::string_view(reinterpret_cast<const char*>(raw), len));
  }

  //! "-----BEGIN PUBLIC KEY-----" form.
  std::string public_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key_.get()) == 1);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }

  //! Base64 ed25519 signature of `payload`.
  std::string sign(std::string_view payload) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1);
    unsigned char sig[64];
    size_t len = sizeof(sig);
    REQUIRE(EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(payload.data()),
                           payload.size()) == 1);
    return base64::encode(std::string_view(reinterpret_cast<const char*>(sig), len));
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

}  // namespace llmp::test
