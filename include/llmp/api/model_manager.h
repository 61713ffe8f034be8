#pragma once
// Hot load and unload of model versions from the registry's repository, within a memory budget,
// with no restart and no failed request for the other models: a version is verified and checked
// against the machine (registry::check_fits) before its engine is built off the request path; it
// joins ServedModels when ready; an unload takes it out of ServedModels at once (new requests get
// 404 model_not_found), lets the requests already holding it finish, then frees it.
//
// Served ids are "org/model:version" unless the load names another.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "llmp/api/served_models.h"
#include "llmp/core/settings.h"
#include "llmp/core/status.h"
#include "llmp/engine/devices.h"
#include "llmp/engine/engine.h"
#include "llmp/registry/repository.h"

namespace llmp::api {

//! [registry] settings.
struct RegistryOptions {
  int64_t memory_budget_mib = 0;       // 0: the machine's memory less a quarter
  int64_t idle_unload_seconds = 0;     // 0: never
  int64_t release_check_ms = 5000;     // how often canaries are compared with stable
  bool verify_on_load = true;
  bool require_signature = false;
  std::vector<std::string> trusted_keys;  // "key-id=<base64 of the 32-byte ed25519 public key>"
  std::vector<std::string> load;          // versions loaded at start: "org/model:version"
};
void declare_settings(SettingsRegistry& r, RegistryOptions& o);

//! The repository's options from the settings and the data dir; errors name the setting.
Result<registry::ModelRepository::Options> repository_options(const RegistryOptions& o, const std::string& data_dir);


struct LoadedModelState {
  std::string id;        // served id
  std::string ref;       // org/model:version
  std::string state;     // "loading", "ready", "failed", "unloading"
  std::string error;     // why it failed
  uint64_t memory_bytes = 0;
  int64_t changed_at_ms = 0;
};

class ModelManager {
 public:
  struct Options {
    uint64_t memory_budget_bytes = 0;  // 0: unlimited
    int64_t idle_unload_seconds = 0;
    engine::EngineConfig engine;
    std::string chat_template_fallback;
    engine::DeviceReport devices;
  };
  ModelManager(registry::ModelRepository& repository, ServedModels& served, Options options);

  //! Verifies, checks the fit, builds the engine and serves it as `id` (the manifest's ref() when
  //! empty). Blocks for the whole load: call from a blocking pool. already_exists when `id` is
  //! served or loading; resource_exhausted / failed_precondition when it does not fit (the
  //! message says what is short); data_loss for a file that does not match its manifest.
  Result<LoadedModelState> load(const registry::Manifest& manifest, std::string id = {});
  //! Stops serving `id` now, waits (up to `drain_ms`) for requests that hold it, then frees
  //! it. Blocks: call from a blocking pool. not_found for an id this manager did not load.
  Result<LoadedModelState> unload(const std::string& id, int64_t drain_ms = 60000);
  //! Every model this manager loaded, is loading, or failed to load.
  std::vector<LoadedModelState> states() const;
  std::optional<LoadedModelState> state(const std::string& id) const;
  //! Whether a version is loaded or loading (the repository refuses to delete it then).
  bool in_use(const registry::Manifest& manifest) const;
  //! Unloads models unused for idle_unload_seconds; returns their ids. Call periodically.
  std::vector<std::string> unload_idle();

  uint64_t memory_budget_bytes() const { return options_.memory_budget_bytes; }
  uint64_t memory_in_use_bytes() const;

 private:
  struct Entry {
    LoadedModelState state;
    std::string org, model, version;
  };
  registry::ModelRepository& repository_;
  ServedModels& served_;
  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by served id
  uint64_t reserved_bytes_ = 0;           // loading and ready models' memory
};

}  // namespace llmp::api
