#include "signature.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "llmp/core/base64.h"

namespace llmp::registry {
namespace {

constexpr size_t kRawKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

}  // namespace

struct TrustedKeys::Key {
  struct Free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  std::unique_ptr<EVP_PKEY, Free> pkey;
};

TrustedKeys::~TrustedKeys() = default;

Result<std::unique_ptr<TrustedKeys>> TrustedKeys::parse(const std::map<std::string, std::string>& keys) {
  std::unique_ptr<TrustedKeys> out(new TrustedKeys());
  for (const auto& [id, text] : keys) {
    if (id.empty()) return error(StatusCode::invalid_argument, "trusted key: a key id is empty");
    auto key = std::make_unique<Key>();
    if (text.find("-----BEGIN") != std::string::npos) {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
                                                    BIO_free);
      if (bio) key->pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
      if (!key->pkey) {
        return error(StatusCode::invalid_argument, fmt::format("trusted key '{}': not a PEM public key", id));
      }
      if (EVP_PKEY_get_base_id(key->pkey.get()) != EVP_PKEY_ED25519) {
        return error(StatusCode::invalid_argument, fmt::format("trusted key '{}': not an ed25519 key", id));
      }
    } else {
      std::string_view b64 = text;
      while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r' || b64.back() == ' ')) b64.remove_suffix(1);
      while (!b64.empty() && (b64.front() == ' ' || b64.front() == '\n')) b64.remove_prefix(1);
      auto raw = base64::decode(b64);
      if (!raw || raw->size() != kRawKeyBytes) {
        return error(
            StatusCode::invalid_argument,
            fmt::format("trusted key '{}': neither a PEM public key nor base64 of 32 raw ed25519 key bytes", id));
      }
      key->pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                  reinterpret_cast<const unsigned char*>(raw->data()), raw->size()));
      if (!key->pkey)
        return error(StatusCode::invalid_argument, fmt::format("trusted key '{}': not a valid ed25519 key", id));
    }
    out->keys_.emplace(id, std::move(key));
  }
  return out;
}

Result<std::string> TrustedKeys::verify(std::string_view payload, std::string_view signature_b64) const {
  auto signature = base64::decode(signature_b64);
  if (!signature || signature->size() != kSignatureBytes) {
    return error(StatusCode::invalid_argument, "the signature is not base64 of a 64-byte ed25519 signature");
  }
  for (const auto& [id, key] : keys_) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    // Ed25519 hashes internally: no digest is named, and the one-shot call is the only form.
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->pkey.get()) != 1) continue;
    if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                         reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1) {
      return id;
    }
  }
  if (keys_.empty())
    return error(StatusCode::permission_denied, "the signature cannot be checked: no trusted keys are configured");
  std::string ids;
  for (const auto& [id, key] : keys_) ids += (ids.empty() ? "" : ", ") + id;
  return error(StatusCode::permission_denied,
               fmt::format("the signature does not verify with any trusted key ({})", ids));
}

}  // namespace llmp::registry
