#pragma once
// The model repository: immutable versions under <root>/<org>/<model>/<version>/, each with its
// files and a manifest.json (hashes, spec, optional signature). Import copies (or hard-links)
// and hashes in one pass and publishes a version with one rename; load re-checks the hashes.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/registry/manifest.h"
#include "llmp/registry/spec.h"

namespace llmp::registry {

class TrustedKeys;

class ModelRepository {
 public:
  struct Options {
    std::string root;            // <data_dir>/models
    bool verify_on_load = true;  // load_path() re-hashes every file
    // key id -> ed25519 public key (PEM, or base64 of the 32 raw bytes)
    std::map<std::string, std::string> trusted_keys;
    bool require_signature = false;  // import/load refuse an unsigned version
  };

  //! Creates the root if needed, parses the trusted keys (errors name the key id) and clears
  //! temporary folders that an interrupted import left more than a day ago.
  static Result<std::unique_ptr<ModelRepository>> open(Options options);
  ~ModelRepository();
  ModelRepository(const ModelRepository&) = delete;
  ModelRepository& operator=(const ModelRepository&) = delete;

  struct ImportRequest {
    // A model file (.gguf, .safetensors) or a folder (HF layout: config.json, *.safetensors,
    // tokenizer files; hidden entries and other weight formats such as *.bin are left out).
    std::string source;
    std::string org, model, version;
    // Hard-link the files (falling back to a copy across filesystems) instead of copying; the
    // source then shares the bytes, and a later change to it fails verify().
    bool link = false;
    std::optional<ModelSpec> spec;  // declared spec; fields left 0/empty are filled from the model itself
    std::string signature;          // base64 ed25519 over signing_payload() of the resulting manifest
  };

  //! Copies (or links) and hashes the source in one pass into a temporary folder, writes
  //! manifest.json, and renames the folder to <root>/<org>/<model>/<version>. Versions are
  //! immutable: an existing one is already_exists. A signature must verify with a trusted key
  //! (permission_denied otherwise); none is permission_denied when require_signature.
  Result<Manifest> import_model(const ImportRequest& request);

  //! The manifest of one version (not_found when absent; data_loss when unreadable).
  Result<Manifest> get(std::string_view org, std::string_view model, std::string_view version) const;

  //! Every version, sorted by org, model, then version (digit runs compared as numbers).
  Result<std::vector<Manifest>> list() const;

  //! Re-hashes every file: data_loss naming the file with the expected and actual size or
  //! sha256, a missing file, a file the manifest does not list, or a signature that does not
  //! verify (permission_denied for an unsigned version when require_signature).
  Result<void> verify(const Manifest& m) const;

  //! verify() when verify_on_load (else only the signature check), then the path to give
  //! engine::Engine::load: the file for a single-file model, the folder otherwise.
  Result<std::string> load_path(const Manifest& m) const;

  //! Deletes a version, refused (failed_precondition, saying why) when in_use returns true.
  Result<void> remove(std::string_view org, std::string_view model, std::string_view version,
                      const std::function<bool(const Manifest&)>& in_use);

  const Options& options() const { return options_; }

 private:
  ModelRepository(Options options, std::unique_ptr<TrustedKeys> keys);
  //! The signature rules: a signed manifest must verify with a trusted key; an unsigned one is
  //! refused when require_signature. Returns the id of the key that verified, or "". A bad
  //! signature is reported as `bad_signature` when given (data_loss for a stored manifest).
  Result<std::string> check_signature(const Manifest& m, std::optional<StatusCode> bad_signature) const;
  std::string version_dir(const Manifest& m) const;

  Options options_;
  std::unique_ptr<TrustedKeys> keys_;
};

}  // namespace llmp::registry
