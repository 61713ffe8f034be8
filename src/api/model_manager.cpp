#include "llmp/api/model_manager.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "llmp/core/log.h"

namespace llmp::api {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void declare_settings(SettingsRegistry& r, RegistryOptions& o) {
  r.describe_section("registry",
                     "The model repository under <data_dir>/models (<org>/<model>/<version>/ with a manifest of "
                     "hashes and a spec), and the versions loaded from it without a restart.");
  r.add(IntSetting{.section = "registry", .key = "memory_budget_mib", .target = &o.memory_budget_mib,
                   .default_value = 0, .min = 0, .max = int64_t{1} << 30,
                   .help = "Memory the loaded registry models may take together, by their specs' memory_bytes; a load "
                           "past it is refused and says what is short. 0: three quarters of the machine's memory."});
  r.add(IntSetting{.section = "registry", .key = "idle_unload_seconds", .target = &o.idle_unload_seconds,
                   .default_value = 0, .min = 0, .max = 86400 * 365,
                   .help = "Unload a registry model no request has used for this long. 0: never."});
  r.add(IntSetting{.section = "registry", .key = "release_check_ms", .target = &o.release_check_ms,
                   .default_value = 5000, .min = 100, .max = 3600000,
                   .help = "How often each release's canary is compared with its stable version (error rate, "
                           "latency, circuit breaker) and rolled back when it does worse by the release's margins."});
  r.add(BoolSetting{.section = "registry", .key = "verify_on_load", .target = &o.verify_on_load, .default_value = true,
                    .help = "Hash every file of a version against its manifest before loading it: a tampered or "
                            "corrupt file is refused, naming the file."});
  r.add(BoolSetting{.section = "registry", .key = "require_signature", .target = &o.require_signature,
                    .default_value = false,
                    .help = "Refuse to import or load a version whose manifest carries no ed25519 signature by one "
                            "of trusted_keys."});
  r.add(StringListSetting{.section = "registry", .key = "trusted_keys", .target = &o.trusted_keys, .default_value = {},
                          .help = "Keys whose manifest signatures are accepted: \"key-id=<base64 of the 32-byte "
                                  "ed25519 public key>\"."});
  r.add(StringListSetting{.section = "registry", .key = "load", .target = &o.load, .default_value = {},
                          .help = "Versions to load at start, as \"org/model:version\", served under that id."});
}

Result<registry::ModelRepository::Options> repository_options(const RegistryOptions& o, const std::string& data_dir) {
  registry::ModelRepository::Options out;
  out.root = (std::filesystem::path(data_dir) / "models").string();
  out.verify_on_load = o.verify_on_load;
  out.require_signature = o.require_signature;
  for (const auto& entry : o.trusted_keys) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
      return error(StatusCode::invalid_argument,
                   fmt::format("registry.trusted_keys: \"{}\" is not \"key-id=<base64 public key>\"", entry));
    }
    out.trusted_keys[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  if (out.require_signature && out.trusted_keys.empty()) {
    return error(StatusCode::invalid_argument,
                 "registry.require_signature is true but registry.trusted_keys is empty: no version could load");
  }
  return out;
}

ModelManager::ModelManager(registry::ModelRepository& repository, ServedModels& served, Options options)
    : repository_(repository), served_(served), options_(std::move(options)) {}

Result<LoadedModelState> ModelManager::load(const registry::Manifest& manifest, std::string id) {
  if (id.empty()) id = manifest.ref();
  const uint64_t need = manifest.spec.memory_bytes;
  {
    // Reserved before the slow part, so two loads at once cannot both fit in the same room.
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(id); it != entries_.end() && it->second.state.state != "failed") {
      return error(StatusCode::already_exists,
                   fmt::format("model '{}' is already {} (version {})", id, it->second.state.state, it->second.state.ref));
    }
    if (served_.find_quietly(id)) return error(StatusCode::already_exists, fmt::format("model '{}' is already served", id));
    if (auto fits = registry::check_fits(manifest.spec, options_.devices, options_.memory_budget_bytes, reserved_bytes_);
        !fits) {
      return error(fits.error().with_context(fmt::format("cannot load {}", manifest.ref())));
    }
    reserved_bytes_ += need;
    Entry e;
    e.state = {.id = id, .ref = manifest.ref(), .state = "loading", .memory_bytes = need, .changed_at_ms = wall_ms()};
    e.org = manifest.org;
    e.model = manifest.model;
    e.version = manifest.version;
    entries_[id] = std::move(e);
  }
  const auto failed = [&](const Status& why) -> Result<LoadedModelState> {
    std::lock_guard lock(mu_);
    reserved_bytes_ -= need;
    auto& e = entries_[id];
    e.state.state = "failed";
    e.state.error = why.message();
    e.state.changed_at_ms = wall_ms();
    log::error("model load failed", {{"model", id}, {"version", e.state.ref}, {"error", why.message()}});
    return error(why);
  };
  const auto started = std::chrono::steady_clock::now();
  auto path = repository_.load_path(manifest);  // hashes every file when verify_on_load
  if (!path) {
    // A file that does not match its manifest is the version's fault, not the server's: said
    // as a refusal (not a 500 whose message is withheld), naming the file.
    if (path.error().code() == StatusCode::data_loss) {
      return failed(Status(StatusCode::failed_precondition,
                           fmt::format("refusing to load {}: {}", manifest.ref(), path.error().message())));
    }
    return failed(path.error());
  }
  auto model = load_served_model(id, *path, options_.engine, options_.chat_template_fallback);
  if (!model) return failed(model.error());
  (*model)->version = manifest.ref();
  (*model)->last_used_ms.store(steady_ms());
  served_.add(*model);
  std::lock_guard lock(mu_);
  auto& e = entries_[id];
  e.state.state = "ready";
  e.state.error.clear();
  e.state.changed_at_ms = wall_ms();
  log::info("model loaded", {{"model", id},
                             {"version", e.state.ref},
                             {"memory_bytes", static_cast<int64_t>(need)},
                             {"load_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
  return e.state;
}

Result<LoadedModelState> ModelManager::unload(const std::string& id, int64_t drain_ms) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return error(StatusCode::not_found, fmt::format("model '{}' was not loaded from the registry", id));
    }
    if (it->second.state.state == "failed") {
      entries_.erase(it);  // nothing to free: forget the failure
      return LoadedModelState{.id = id, .state = "unloaded", .changed_at_ms = wall_ms()};
    }
    if (it->second.state.state != "ready") {
      return error(StatusCode::failed_precondition,
                   fmt::format("model '{}' is {}; unload it once that has finished", id, it->second.state.state));
    }
    it->second.state.state = "unloading";
    it->second.state.changed_at_ms = wall_ms();
  }
  std::shared_ptr<ServedModel> model = served_.remove(id);
  // Requests that found the model before it left hold a reference: let them finish.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
  while (model && model.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const long still_held = model ? model.use_count() - 1 : 0;
  model.reset();  // frees the engine unless a request outlived the drain (it frees it when done)
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  LoadedModelState out = it->second.state;
  reserved_bytes_ -= it->second.state.memory_bytes;
  entries_.erase(it);
  out.state = "unloaded";
  out.changed_at_ms = wall_ms();
  log::info("model unloaded", {{"model", id}, {"version", out.ref}, {"requests_still_running", static_cast<int64_t>(still_held)}});
  return out;
}

std::vector<LoadedModelState> ModelManager::states() const {
  std::lock_guard lock(mu_);
  std::vector<LoadedModelState> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.state);
  return out;
}

std::optional<LoadedModelState> ModelManager::state(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

bool ModelManager::in_use(const registry::Manifest& manifest) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : entries_) {
    if (e.state.state != "failed" && e.org == manifest.org && e.model == manifest.model && e.version == manifest.version) {
      return true;
    }
  }
  return false;
}

uint64_t ModelManager::memory_in_use_bytes() const {
  std::lock_guard lock(mu_);
  return reserved_bytes_;
}

std::vector<std::string> ModelManager::unload_idle() {
  std::vector<std::string> idle;
  if (options_.idle_unload_seconds <= 0) return idle;
  const int64_t now = steady_ms();
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_) {
      if (e.state.state != "ready") continue;
      auto m = served_.find_quietly(id);
      if (m && now - m->last_used_ms.load(std::memory_order_relaxed) >= options_.idle_unload_seconds * 1000) {
        idle.push_back(id);
      }
    }
  }
  std::vector<std::string> done;
  for (const auto& id : idle) {
    if (unload(id)) {
      log::info("idle model unloaded", {{"model", id}, {"idle_unload_seconds", options_.idle_unload_seconds}});
      done.push_back(id);
    }
  }
  return done;
}

}  // namespace llmp::api
