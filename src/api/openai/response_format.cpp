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


ApiResult<std::shared_ptr<const engine::OutputGrammar>> schema_text_grammar(const std::string& schema, const char* param,
                                                                          const engine::OutputGrammarOptions& options) {
  return cached(fmt::format("schema/{}:{}", options.max_whitespace, schema), param,
                [&] { return engine::compile_json_schema(schema, options); });
}

// A JSON Schema given as an object, or as JSON text (vLLM takes both).
ApiResult<std::shared_ptr<const engine::OutputGrammar>> schema_grammar(simdjson::dom::element given, const std::string& param,
                                                                     const engine::OutputGrammarOptions& options) {
  std::string_view text;
  std::string schema;
  if (given.get(text) == simdjson::SUCCESS) {
    schema = std::string(text);
  } else if (given.is_object()) {
    schema = simdjson::minify(given);
  } else {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a JSON schema object", param), param);
  }
  return schema_text_grammar(schema, param.c_str(), options);
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> json_object_grammar(const engine::OutputGrammarOptions& options) {
  return cached(fmt::format("json_object/{}:", options.max_whitespace), "response_format",
                [&] { return engine::compile_json_object(options); });
}

// vLLM's guided_regex / structured_outputs.regex: the whole output matches the regex.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> regex_grammar(simdjson::dom::element given, const std::string& param) {
  std::string_view regex;
  if (given.get(regex) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a string", param), param);
  }
  return cached("regex:" + std::string(regex), param.c_str(), [&] { return engine::compile_regex(regex); });
}

// vLLM's guided_choice / structured_outputs.choice: an array of strings; the output is one of them.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> choice_grammar(simdjson::dom::element given, const std::string& param) {
  auto refuse = [&] {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a non-empty array of strings", param), param);
  };
  simdjson::dom::array list;
  if (given.get(list) != simdjson::SUCCESS || list.size() == 0) return refuse();
  std::vector<std::string> choices;
  for (auto item : list) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS) return refuse();
    choices.emplace_back(text);
  }
  return cached("choice:" + simdjson::minify(list), param.c_str(), [&] { return engine::compile_choice(choices); });
}

// OpenAI's response_format; llama-server's {"type": "json_object", "schema": {...}} too.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> response_format_grammar(simdjson::dom::element format) {
  std::string_view type;
  if (!format.is_object() || format["type"].get(type) != simdjson::SUCCESS ||
      (type != "text" && type != "json_object" && type != "json_schema")) {
    return api_error(StatusCode::invalid_argument, "'response_format.type' must be text, json_object or json_schema",
                     "response_format");
  }
  if (type == "text") return nullptr;
  if (type == "json_object") {
    simdjson::dom::element schema;
    if (format["schema"].get(schema) == simdjson::SUCCESS && !schema.is_null()) {
      return schema_grammar(schema, "response_format.schema", {});
    }
    return json_object_grammar({});
  }
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
  return schema_grammar(schema, "response_format.json_schema.schema", {});
}

// vLLM's structured_outputs (from v0.12 the only form it takes): one of json, regex, choice,
// json_object (true), with options. grammar, structural_tag and whitespace_pattern are refused
// by name.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> structured_outputs_grammar(simdjson::dom::element given) {
  simdjson::dom::object so;
  if (given.get(so) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, "'structured_outputs' must be an object", "structured_outputs");
  }
  const Fields f(so);
  for (const char* key : {"grammar", "structural_tag", "whitespace_pattern"}) {
    std::string_view text;
    if (f.has(key) && !(so[key].get(text) == simdjson::SUCCESS && text.empty())) {
      return api_error(StatusCode::invalid_argument,
                       fmt::format("'structured_outputs.{}' is not supported by this server: use json, regex, choice or "
                                   "json_object",
                                   key),
                       fmt::format("structured_outputs.{}", key));
    }
  }
  engine::OutputGrammarOptions options;
  for (const char* flag : {"disable_any_whitespace", "disable_additional_properties", "disable_fallback"}) {
    auto value = f.boolean(flag);
    if (!value) {
      return api_error(StatusCode::invalid_argument, fmt::format("'structured_outputs.{}' must be a boolean", flag),
                       fmt::format("structured_outputs.{}", flag));
    }
    // disable_additional_properties: already so (undeclared properties only where the schema
    // allows them explicitly); disable_fallback: there is no other backend to fall back to.
    if (std::string_view(flag) == "disable_any_whitespace" && value->value_or(false)) options.max_whitespace = 0;
  }
  auto json_object = f.boolean("json_object");
  if (!json_object) {
    return api_error(StatusCode::invalid_argument, "'structured_outputs.json_object' must be a boolean",
                     "structured_outputs.json_object");
  }
  const bool wants_object = json_object->value_or(false);
  const int given_count = (f.has("json") ? 1 : 0) + (f.has("regex") ? 1 : 0) + (f.has("choice") ? 1 : 0) + (wants_object ? 1 : 0);
  if (given_count == 0) return nullptr;  // options alone constrain nothing
  if (given_count > 1) {
    return api_error(StatusCode::invalid_argument,
                     "'structured_outputs' must give one of json, regex, choice and json_object", "structured_outputs");
  }
  if (f.has("json")) return schema_grammar(so["json"].value_unsafe(), "structured_outputs.json", options);
  if (f.has("regex")) return regex_grammar(so["regex"].value_unsafe(), "structured_outputs.regex");
  if (f.has("choice")) return choice_grammar(so["choice"].value_unsafe(), "structured_outputs.choice");
  return json_object_grammar(options);
}

}  // namespace

ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param) {
  return schema_text_grammar(schema, param, {});
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f) {
  const auto obj = f.object();
  // Each constrains the whole output, so at most one may be given. {"type": "text"} constrains nothing.
  std::string_view format_type;
  const bool text_format = obj["response_format"]["type"].get(format_type) == simdjson::SUCCESS && format_type == "text";
  std::vector<std::string_view> given;
  if (f.has("response_format") && !text_format) given.push_back("response_format");
  for (const char* key : {"structured_outputs", "guided_json", "guided_choice", "guided_regex", "json_schema"}) {
    if (f.has(key)) given.push_back(key);
  }
  if (given.size() > 1) {
    return api_error(StatusCode::invalid_argument,
                     fmt::format("give one of '{}' and '{}': each constrains the whole output", given[0], given[1]),
                     std::string(given[1]));
  }
  if (given.empty()) return nullptr;
  const std::string_view key = given[0];
  const simdjson::dom::element value = obj[key].value_unsafe();
  if (key == "response_format") return response_format_grammar(value);
  if (key == "structured_outputs") return structured_outputs_grammar(value);
  if (key == "guided_choice") return choice_grammar(value, "guided_choice");
  if (key == "guided_regex") return regex_grammar(value, "guided_regex");
  return schema_grammar(value, std::string(key), {});  // vLLM's guided_json, llama-server's json_schema
}

}  // namespace llmp::api
