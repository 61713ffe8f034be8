#include "openai/response_format.h"

#include <fmt/format.h>

#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace llmp::api {
namespace {

// Compiled grammars by schema text, least recently used dropped first. A grammar also carries
// the token masks computed for it so far, so a reused one is much cheaper than a new one.
class GrammarCache {
 public:
  static constexpr size_t kCapacity = 64;

  Result<std::shared_ptr<const engine::OutputGrammar>> get(const std::string& key, bool json_object) {
    {
      std::lock_guard lock(mu_);
      if (auto it = index_.find(key); it != index_.end()) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->second;
      }
    }
    // Compiled outside the lock: a large schema must not hold up other requests.
    auto compiled = json_object ? engine::compile_json_object() : engine::compile_json_schema(key);
    if (!compiled) return compiled;
    std::lock_guard lock(mu_);
    if (index_.contains(key)) return index_[key]->second;
    entries_.emplace_front(key, *compiled);
    index_[key] = entries_.begin();
    if (entries_.size() > kCapacity) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
    return *compiled;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const engine::OutputGrammar>>;
  std::mutex mu_;
  std::list<Entry> entries_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

GrammarCache& cache() {
  static GrammarCache c;
  return c;
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> compiled(const std::string& schema, bool json_object,
                                                                  const char* param) {
  auto g = cache().get(schema, json_object);
  if (!g) return api_error(StatusCode::invalid_argument, fmt::format("'{}': {}", param, g.error().message()), param);
  return *g;
}

}  // namespace

ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param) {
  return compiled(schema, false, param);
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f) {
  const auto obj = f.object();
  simdjson::dom::element guided;
  if (obj["guided_json"].get(guided) == simdjson::SUCCESS && !guided.is_null()) {
    // vLLM's extension: the schema itself, as an object or as JSON text.
    std::string_view text;
    if (guided.get(text) == simdjson::SUCCESS) return compiled(std::string(text), false, "guided_json");
    if (!guided.is_object()) return api_error(StatusCode::invalid_argument, "'guided_json' must be a JSON schema", "guided_json");
    return compiled(simdjson::minify(guided), false, "guided_json");
  }
  simdjson::dom::element format;
  if (obj["response_format"].get(format) != simdjson::SUCCESS || format.is_null()) return nullptr;
  std::string_view type;
  if (!format.is_object() || format["type"].get(type) != simdjson::SUCCESS ||
      (type != "text" && type != "json_object" && type != "json_schema")) {
    return api_error(StatusCode::invalid_argument, "'response_format.type' must be text, json_object or json_schema",
                     "response_format");
  }
  if (type == "text") return nullptr;
  if (type == "json_object") return compiled("json_object", true, "response_format");
  simdjson::dom::object json_schema;
  if (format["json_schema"].get(json_schema) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, "'response_format.json_schema' must be an object with a 'schema'",
                     "response_format.json_schema");
  }
  simdjson::dom::element schema;
  if (json_schema["schema"].get(schema) != simdjson::SUCCESS || !schema.is_object()) {
    return api_error(StatusCode::invalid_argument, "'response_format.json_schema.schema' must be a JSON schema object",
                     "response_format.json_schema.schema");
  }
  return compiled(simdjson::minify(schema), false, "response_format.json_schema.schema");
}

}  // namespace llmp::api
