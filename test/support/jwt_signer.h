#pragma once
// Test-time OIDC issuer: RSA-2048 and EC P-256 keys generated with OpenSSL when a test runs (no
// key is checked in), their JWKS entries, and JWTs signed with them. Self-contained, so the
// integration tests (which link no llmp library) can use it too.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::test {

inline std::string b64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

class TestSigningKey {
 public:
  //! A fresh RSA-2048 key (alg RS256) or EC P-256 key (alg ES256) with this kid (empty: none).
  static TestSigningKey rsa(std::string kid) { return TestSigningKey(EVP_RSA_gen(2048), "RS256", std::move(kid)); }
  static TestSigningKey ec(std::string kid) { return TestSigningKey(EVP_EC_gen("P-256"), "ES256", std::move(kid)); }

  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

  //! This key's public JWK, as a JSON object.
  std::string jwk() const {
    std::string out = "{";
    if (!kid_.empty()) out += "\"kid\":\"" + kid_ + "\",";
    if (alg_ == "RS256") {
      out += "\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"" + b64url(bn_param(OSSL_PKEY_PARAM_RSA_N, 0)) +
             "\",\"e\":\"" + b64url(bn_param(OSSL_PKEY_PARAM_RSA_E, 0)) + "\"}";
    } else {
      out += "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + b64url(bn_param(OSSL_PKEY_PARAM_EC_PUB_X, 32)) +
             "\",\"y\":\"" + b64url(bn_param(OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"}";
    }
    return out;
  }

  //! The default header: {"alg":..,"typ":"JWT","kid":..}.
  std::string header() const {
    std::string out = "{\"alg\":\"" + alg_ + "\",\"typ\":\"JWT\"";
    if (!kid_.empty()) out += ",\"kid\":\"" + kid_ + "\"";
    return out + "}";
  }

  //! header.payload.signature over the given JSON texts, signed with this key's algorithm.
  std::string sign(std::string_view header_json, std::string_view payload_json) const {
    const std::string input = b64url(header_json) + "." + b64url(payload_json);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("EVP_DigestSign failed");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("EVP_DigestSign failed");
    }
    sig.resize(len);
    if (alg_ == "ES256") sig = der_to_jose(sig);
    return input + "." + b64url(sig);
  }
  //! sign() with the default header.
  std::string sign(std::string_view payload_json) const { return sign(header(), payload_json); }

 private:
  TestSigningKey(EVP_PKEY* pkey, std::string alg, std::string kid)
      : pkey_(pkey, EVP_PKEY_free), alg_(std::move(alg)), kid_(std::move(kid)) {
    if (!pkey) throw std::runtime_error("key generation failed");
  }

  std::string bn_param(const char* name, int pad) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), name, &bn) != 1) throw std::runtime_error(std::string("no key param ") + name);
    std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
    if (pad > 0) {
      BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
    } else {
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    }
    BN_free(bn);
    return out;
  }

  // OpenSSL's DER ECDSA-Sig-Value → JOSE's r||s, 32 bytes each.
  static std::string der_to_jose(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (!sig) throw std::runtime_error("bad DER signature");
    std::string out(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return out;
  }

  std::shared_ptr<EVP_PKEY> pkey_;
  std::string alg_;
  std::string kid_;
};

//! {"keys":[<each key's JWK>]}.
inline std::string jwks_of(const std::vector<const TestSigningKey*>& keys) {
  std::string out = "{\"keys\":[";
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i]->jwk();
  return out + "]}";
}

}  // namespace llmp::test
