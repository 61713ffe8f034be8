#include "openai/response_format.h"

#include <fmt/format.h>

#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmp::api {
namespace {

// Compiled grammars by schema text, least recently used dropped first. A grammar also carries
// the token masks computed for it so far, so a reused one is much cheaper than a new one.
class GrammarCache {
 public:
  static constexpr size_t kCapacity = 64;

  //! The grammar cached under `key`, or compile() cached under it.
  template <class Compile>
  Result<std::shared_ptr<const engine::OutputGrammar>> get(const std::string& key, Compile compile) {
    {
      std::lock_guard lock(mu_);
      if (auto it = index_.find(key); it != index_.end()) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->second;
      }
    }
    // Compiled outside the lock: a large schema must not hold up other requests.
    auto compiled = compile();
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

// The grammar cached under `key` or compile()d; errors name `param`. Keys name their kind
// first ("schema:", "choice:", ...), so no text of one kind can stand for another's grammar.
template <class Compile>
ApiResult<std::shared_ptr<const engine::OutputGrammar>> cached(const std::string& key, const char* param,
                                                                Compile compile) {
  auto g = cache().get(key, compile);
  if (!g) return api_error(StatusCode::invalid_argument, fmt::format("'{}': {}", param, g.error().message()), param);
  return *g;
}


// vLLM's guided_regex: the whole output matches the regex.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> regex_grammar(simdjson::dom::element given) {
  std::string_view regex;
  if (given.get(regex) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, "'guided_regex' must be a string", "guided_regex");
  }
  return cached("regex:" + std::string(regex), "guided_regex", [&] { return engine::compile_regex(regex); });
}

// vLLM's guided_choice: an array of strings; the output is one of them.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> choice_grammar(simdjson::dom::element given) {
  auto refuse = [] {
    return api_error(StatusCode::invalid_argument, "'guided_choice' must be a non-empty array of strings", "guided_choice");
  };
  simdjson::dom::array list;
  if (given.get(list) != simdjson::SUCCESS || list.size() == 0) return refuse();
  std::vector<std::string> choices;
  for (auto item : list) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS) return refuse();
    choices.emplace_back(text);
  }
  return cached("choice:" + simdjson::minify(list), "guided_choice", [&] { return engine::compile_choice(choices); });
}

}  // namespace

ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param) {
  return cached("schema:" + schema, param, [&] { return engine::compile_json_schema(schema); });
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f) {
  const auto obj = f.object();
  std::string_view format_type;
  const bool text_format = obj["response_format"]["type"].get(format_type) == simdjson::SUCCESS && format_type == "text";
  int given = f.has("response_format") && !text_format ? 1 : 0;  // {"type": "text"} constrains nothing
  for (const char* key : {"guided_json", "guided_choice", "guided_regex"}) given += f.has(key) ? 1 : 0;
  if (given > 1) {
    return api_error(StatusCode::invalid_argument,
                     "give one of 'response_format', 'guided_json', 'guided_choice' and 'guided_regex': each "
                     "constrains the whole output",
                     "response_format");
  }
  simdjson::dom::element guided;
  if (obj["guided_choice"].get(guided) == simdjson::SUCCESS && !guided.is_null()) return choice_grammar(guided);
  if (obj["guided_regex"].get(guided) == simdjson::SUCCESS && !guided.is_null()) return regex_grammar(guided);
  if (obj["guided_json"].get(guided) == simdjson::SUCCESS && !guided.is_null()) {
    // vLLM's extension: the schema itself, as an object or as JSON text.
    std::string_view text;
    if (guided.get(text) == simdjson::SUCCESS) return compile_schema(std::string(text), "guided_json");
    if (!guided.is_object()) return api_error(StatusCode::invalid_argument, "'guided_json' must be a JSON schema", "guided_json");
    return compile_schema(simdjson::minify(guided), "guided_json");
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
  if (type == "json_object") return cached("json_object:", "response_format", [] { return engine::compile_json_object(); });
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
  return compile_schema(simdjson::minify(schema), "response_format.json_schema.schema");
}

}  // namespace llmp::api
