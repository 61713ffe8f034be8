#include "llmp/api/served_models.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "llmp/engine/chat_template.h"

namespace llmp::api {

void ServedModels::add(std::shared_ptr<ServedModel> model) {
  std::unique_lock lock(mu_);
  std::erase_if(models_, [&](const auto& m) { return m->id == model->id; });
  models_.push_back(std::move(model));
}

std::shared_ptr<ServedModel> ServedModels::remove(std::string_view id) {
  std::unique_lock lock(mu_);
  for (auto it = models_.begin(); it != models_.end(); ++it) {
    if ((*it)->id == id) {
      auto m = std::move(*it);
      models_.erase(it);
      return m;
    }
  }
  return nullptr;
}

std::shared_ptr<ServedModel> ServedModels::find(std::string_view id) const {
  std::shared_lock lock(mu_);
  for (const auto& m : models_) {
    if (m->id == id) {
      m->last_used_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count(),
                            std::memory_order_relaxed);
      return m;
    }
  }
  return nullptr;
}

std::shared_ptr<ServedModel> ServedModels::find_quietly(std::string_view id) const {
  std::shared_lock lock(mu_);
  for (const auto& m : models_) {
    if (m->id == id) return m;
  }
  return nullptr;
}

std::vector<std::shared_ptr<ServedModel>> ServedModels::list() const {
  std::shared_lock lock(mu_);
  return models_;
}

std::pair<std::string, std::string> split_model_spec(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq != std::string::npos && eq > 0 && spec.find('/') > eq) return {spec.substr(0, eq), spec.substr(eq + 1)};
  std::filesystem::path p(spec);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "folder/"
  return {p.stem().string(), spec};
}

Result<std::shared_ptr<ServedModel>> load_served_model(const std::string& id, const std::string& path,
                                                       const engine::EngineConfig& config, std::string_view fallback) {
  auto engine = engine::Engine::load(path, config);
  if (!engine) return error(engine.error().with_context(fmt::format("loading model '{}'", id)));
  auto m = std::make_shared<ServedModel>();
  m->id = id;
  m->engine = std::move(*engine);
  m->created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto& summary = m->engine->model();
  if (!summary.is_encoder) {
    if (!summary.chat_template.empty()) {
      auto t = engine::jinja::Template::parse(summary.chat_template);
      if (!t) return error(t.error().with_context(fmt::format("model '{}': its chat template", id)));
      m->chat_template = std::move(*t);
      m->chat_template_origin = "model";
    } else if (!fallback.empty()) {
      auto t = engine::builtin_template(fallback);
      if (!t) return error(t.error());
      m->chat_template = std::move(*t);
      m->chat_template_origin = fmt::format("fallback:{}", fallback);
    }
  }
  return m;
}

}  // namespace llmp::api
