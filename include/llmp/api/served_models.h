#pragma once
// The models this process serves, by the id clients put in "model". Thread-safe: handlers look
// models up while the registry may add or remove them.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/engine/engine.h"
#include "llmp/engine/jinja.h"

namespace llmp::api {

struct ServedModel {
  std::string id;
  std::unique_ptr<engine::Engine> engine;
  std::optional<engine::jinja::Template> chat_template;  // the model's own, or the fallback
  std::string chat_template_origin;                      // "model", "fallback:chatml", or "" (none)
  int64_t created = 0;                                   // unix seconds
  std::string version;                                   // registry version ("org/model:version"); empty for a path
  // When a request last looked it up (steady clock, ms): for unloading idle models.
  mutable std::atomic<int64_t> last_used_ms{0};
};

class ServedModels {
 public:
  void add(std::shared_ptr<ServedModel> model);
  //! Takes `id` out: later finds miss it; requests holding it keep it until they finish.
  std::shared_ptr<ServedModel> remove(std::string_view id);
  //! The model a request asks for (marks it used now).
  std::shared_ptr<ServedModel> find(std::string_view id) const;
  //! Without marking it used: for looking at a model, not serving it.
  std::shared_ptr<ServedModel> find_quietly(std::string_view id) const;
  std::vector<std::shared_ptr<ServedModel>> list() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<ServedModel>> models_;
};

//! Loads `path` as model `id`: the engine, and the chat template compiled (the model's own, or
//! `fallback` — "chatml", "llama3" or "" for none).
Result<std::shared_ptr<ServedModel>> load_served_model(const std::string& id, const std::string& path,
                                                       const engine::EngineConfig& config, std::string_view fallback);

//! "name=path" → (name, path); a bare path gets its file or folder name without extension.
std::pair<std::string, std::string> split_model_spec(const std::string& spec);

}  // namespace llmp::api
