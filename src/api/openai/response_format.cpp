#include "openai/response_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmp::api {
namespace {

// Compiled grammars by schema text, least recently used dropped first. A grammar also carries
// the token masks computed for it so far, so a reused one is much cheaper than a new one.
// Refusals are kept too: compiling a pattern can take ~0.1 s before it is refused, and a
// client that sends the same one again should not pay (or make the server pay) it twice.
class GrammarCache {
 public:
  static constexpr size_t kCapacity = 64;
  using Compiled = Result<std::shared_ptr<const engine::OutputGrammar>>;

  //! The grammar (or refusal) cached under `key`, or compile()'s, cached under it.
  template <class Compile>
  Compiled get(const std::string& key, Compile compile) {
    {
      std::lock_guard lock(mu_);
      if (auto it = index_.find(key); it != index_.end()) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->second;
      }
    }
    // Compiled outside the lock: a large schema must not hold up other requests.
    Compiled compiled = compile();
    std::lock_guard lock(mu_);
    if (index_.contains(key)) return index_[key]->second;
    entries_.emplace_front(key, compiled);
    index_[key] = entries_.begin();
    if (entries_.size() > kCapacity) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
    return compiled;
  }

 private:
  using Entry = std::pair<std::string, Compiled>;
  std::mutex mu_;
  std::list<Entry> entries_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

GrammarCache& cache() {
  static GrammarCache c;
  return c;
}

// The grammar cached under `key` or compile()d; errors name `param`. Keys name their kind and
// options first ("schema/8:", "choice:", ...), so no text of one kind can stand for another's
// grammar (a new OutputGrammarOptions field must join the keys).
template <class Compile>
ApiResult<std::shared_ptr<const engine::OutputGrammar>> cached(const std::string& key, std::string_view param,
                                                                Compile compile) {
  auto g = cache().get(key, compile);
  if (!g) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}': {}", param, g.error().message()), std::string(param));
  }
  return *g;
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> schema_text_grammar(const std::string& schema, std::string_view param,
                                                                          const engine::OutputGrammarOptions& options) {
  return cached(fmt::format("schema/{}:{}", options.max_whitespace, schema), param,
                [&] { return engine::compile_json_schema(schema, options); });
}

// A JSON Schema given as an object, or as JSON text (vLLM takes both).
ApiResult<std::shared_ptr<const engine::OutputGrammar>> schema_grammar(simdjson::dom::element given, std::string_view param,
                                                                     const engine::OutputGrammarOptions& options) {
  std::string_view text;
  if (given.get(text) == simdjson::SUCCESS) return schema_text_grammar(std::string(text), param, options);
  if (!given.is_object()) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a JSON schema object", param), std::string(param));
  }
  return schema_text_grammar(simdjson::minify(given), param, options);
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> json_object_grammar(std::string_view param,
                                                                          const engine::OutputGrammarOptions& options) {
  return cached(fmt::format("json_object/{}:", options.max_whitespace), param,
                [&] { return engine::compile_json_object(options); });
}

// vLLM's guided_regex / structured_outputs.regex: the whole output matches the regex.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> regex_grammar(simdjson::dom::element given, std::string_view param) {
  std::string_view regex;
  if (given.get(regex) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a string", param), std::string(param));
  }
  return cached("regex:" + std::string(regex), param, [&] { return engine::compile_regex(regex); });
}

// vLLM's guided_choice / structured_outputs.choice: an array of strings; the output is one of them.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> choice_grammar(simdjson::dom::element given, std::string_view param) {
  auto refuse = [&] {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a non-empty array of strings", param),
                     std::string(param));
  };
  simdjson::dom::array list;
  if (given.get(list) != simdjson::SUCCESS || list.size() == 0) return refuse();
  std::vector<std::string> choices;
  for (auto item : list) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS) return refuse();
    choices.emplace_back(text);
  }
  return cached("choice:" + simdjson::minify(list), param, [&] { return engine::compile_choice(choices); });
}

// A GBNF grammar: llama-server's grammar, vLLM's guided_grammar and structured_outputs.grammar
// (xgrammar's EBNF, which is GBNF).
ApiResult<std::shared_ptr<const engine::OutputGrammar>> gbnf_grammar(simdjson::dom::element given, std::string_view param) {
  std::string_view text;
  if (given.get(text) != simdjson::SUCCESS || text.empty()) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a GBNF grammar (a non-empty string)", param),
                     std::string(param));
  }
  return cached("gbnf:" + std::string(text), param, [&] { return engine::compile_gbnf(text); });
}

// OpenAI's response_format; llama-server's {"type": "json_object", "schema": {...}} too.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> response_format_grammar(simdjson::dom::element format,
                                                                              const engine::OutputGrammarOptions& options) {
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
      return schema_grammar(schema, "response_format.schema", options);
    }
    return json_object_grammar("response_format", options);
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
  return schema_grammar(schema, "response_format.json_schema.schema", options);
}

// The request fields that can constrain the output.
constexpr const char* kConstraintFields[] = {"response_format", "structured_outputs", "guided_json", "guided_choice",
                                             "guided_regex",    "guided_grammar",     "json_schema", "grammar"};

// vLLM's structured_outputs (from v0.12 the only form it takes): its options, which apply to
// whichever JSON constraint the request gives (vLLM folds response_format into it), and its
// own constraint, if it has one.
struct StructuredOutputs {
  engine::OutputGrammarOptions options;
  std::string_view constraint;  // "json", "regex", "choice", "grammar" or "json_object"; empty: options only
  simdjson::dom::element value;
};

ApiResult<StructuredOutputs> read_structured_outputs(const Fields& request) {
  StructuredOutputs out;
  simdjson::dom::element given;
  if (request.object()["structured_outputs"].get(given) != simdjson::SUCCESS || given.is_null()) return out;
  simdjson::dom::object so;
  if (given.get(so) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, "'structured_outputs' must be an object", "structured_outputs");
  }
  for (const std::string_view key : {"structural_tag", "whitespace_pattern"}) {
    simdjson::dom::element v;
    if (so[key].get(v) == simdjson::SUCCESS && !asks_nothing(v)) {
      return api_error(StatusCode::invalid_argument,
                       fmt::format("'structured_outputs.{}' is not supported by this server: use json, regex, choice, "
                                   "grammar or json_object",
                                   key),
                       fmt::format("structured_outputs.{}", key));
    }
  }
  // disable_additional_properties asks for how schemas compile anyway (undeclared properties
  // only where additionalProperties allows them); disable_fallback: there is no other backend.
  const Fields f(so);
  for (const std::string_view flag : {"disable_any_whitespace", "disable_additional_properties", "disable_fallback", "json_object"}) {
    if (!f.boolean(flag)) {
      return api_error(StatusCode::invalid_argument, fmt::format("'structured_outputs.{}' must be a boolean", flag),
                       fmt::format("structured_outputs.{}", flag));
    }
  }
  if (f.boolean("disable_any_whitespace")->value_or(false)) out.options.max_whitespace = 0;
  int constraints = 0;
  for (const std::string_view key : {"json", "regex", "choice", "grammar"}) {
    if (f.has(key)) {
      ++constraints;
      out.constraint = key;
      out.value = so[key].value_unsafe();
    }
  }
  if (f.boolean("json_object")->value_or(false)) {
    ++constraints;
    out.constraint = "json_object";
  }
  if (constraints > 1) {
    return api_error(StatusCode::invalid_argument,
                     "'structured_outputs' must give one of json, regex, choice, grammar and json_object", "structured_outputs");
  }
  return out;
}

}  // namespace

ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param) {
  return schema_text_grammar(schema, param, {});
}

bool asks_for_output_grammar(const Fields& f) {
  return std::ranges::any_of(kConstraintFields, [&f](const char* key) { return f.has(key); });
}

ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f) {
  const auto obj = f.object();
  auto so = read_structured_outputs(f);
  if (!so) return std::unexpected(so.error());
  // Each constrains the whole output, so at most one may be given. {"type": "text"} and
  // structured_outputs with options alone constrain nothing.
  std::string_view format_type;
  const bool text_format = obj["response_format"]["type"].get(format_type) == simdjson::SUCCESS && format_type == "text";
  std::vector<std::string_view> given;
  if (f.has("response_format") && !text_format) given.push_back("response_format");
  if (!so->constraint.empty()) given.push_back("structured_outputs");
  for (const char* key : {"guided_json", "guided_choice", "guided_regex", "guided_grammar", "json_schema", "grammar"}) {
    if (f.has(key)) given.push_back(key);
  }
  // llama-server takes an empty grammar for none, and its clients send one.
  std::string_view grammar_text;
  if (obj["grammar"].get(grammar_text) == simdjson::SUCCESS && grammar_text.empty()) std::erase(given, "grammar");
  if (given.size() > 1) {
    return api_error(StatusCode::invalid_argument,
                     fmt::format("give one of '{}' and '{}': each constrains the whole output", given[0], given[1]),
                     std::string(given[1]));
  }
  if (given.empty()) return nullptr;
  const std::string_view key = given[0];
  const auto& options = so->options;
  if (key == "structured_outputs") {
    const std::string param = fmt::format("structured_outputs.{}", so->constraint);
    if (so->constraint == "json") return schema_grammar(so->value, param, options);
    if (so->constraint == "regex") return regex_grammar(so->value, param);
    if (so->constraint == "choice") return choice_grammar(so->value, param);
    if (so->constraint == "grammar") return gbnf_grammar(so->value, param);
    return json_object_grammar(param, options);
  }
  const simdjson::dom::element value = obj[key].value_unsafe();
  if (key == "response_format") return response_format_grammar(value, options);
  if (key == "guided_choice") return choice_grammar(value, key);
  if (key == "guided_regex") return regex_grammar(value, key);
  if (key == "guided_grammar" || key == "grammar") return gbnf_grammar(value, key);
  return schema_grammar(value, key, options);  // vLLM's guided_json, llama-server's json_schema
}

}  // namespace llmp::api
