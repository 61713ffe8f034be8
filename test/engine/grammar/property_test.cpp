// Property test: random token sequences sampled uniformly among the tokens each mask allows,
// until the document is complete or a length cap. Every mask before completion is non-empty,
// every sampled token is accepted, and every completed output parses (simdjson) and validates
// against its schema: by the validator in schema_validator.cpp and, when Debian's
// python3-jsonschema is installed, by the jsonschema package too.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <bit>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/structured_output.h"
#include "schema_validator.h"
#include "test_tokenizers.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;

namespace {

struct NamedSchema {
  const char* name;
  const char* schema;  // nullptr: json_object
};

// No "nullable" (the reference validator knows only JSON Schema) and only disjoint oneOf
// branches (oneOf is generated as anyOf).
const std::vector<NamedSchema>& property_schemas() {
  static const std::vector<NamedSchema> schemas = {
      {"person", R"({"type":"object","properties":{
          "name":{"type":"string","minLength":1,"maxLength":20},
          "age":{"type":"integer","minimum":0,"maximum":150},
          "email":{"type":"string","format":"email"},
          "tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":4},
          "address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string","minLength":5,"maxLength":5}},
                     "required":["zip"],"additionalProperties":false}},
          "required":["name","age"],"additionalProperties":false})"},
      {"enums", R"({"type":"object","properties":{
          "status":{"enum":["open","closed","in progress","\u00e9t\u00e9 \"quoted\""]},
          "priority":{"type":"integer","enum":[1,2,3,10]},
          "kind":{"const":"task"},
          "flags":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":4},
          "mixed":{"enum":[null,true,1.5,-2,"x",[1,"y"],{"k":{"n":null}}]}},
          "required":["status","priority","kind","flags","mixed"],"additionalProperties":false})"},
      {"shapes", R"({"type":"array","items":{"anyOf":[
          {"type":"object","properties":{"kind":{"const":"circle"},"radius":{"type":"number","exclusiveMinimum":0,"maximum":1000}},
           "required":["kind","radius"],"additionalProperties":false},
          {"type":"object","properties":{"kind":{"const":"rect"},"w":{"type":"integer","minimum":1},"h":{"type":"integer","minimum":1}},
           "required":["kind","w","h"],"additionalProperties":false},
          {"type":"object","properties":{"kind":{"const":"label"},"text":{"type":"string","maxLength":12}},
           "required":["kind"],"additionalProperties":false}]},"minItems":1,"maxItems":3})"},
      {"tree", R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
          "name":{"type":"string","maxLength":10},
          "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
          "required":["name"],"additionalProperties":false}}})"},
      {"linked_list", R"({"definitions":{"cell":{"type":"object","properties":{"value":{"type":"integer"},
          "next":{"anyOf":[{"$ref":"#/definitions/cell"},{"type":"null"}]}},"required":["value","next"],
          "additionalProperties":false}},"$ref":"#/definitions/cell"})"},
      {"type_lists", R"({"type":"object","properties":{
          "value":{"type":["string","integer","null"]},
          "ratio":{"type":"number","minimum":0,"maximum":1},
          "count":{"type":"integer","exclusiveMinimum":-10,"maximum":10},
          "score":{"type":"number"}},
          "required":["value","ratio","count","score"],"additionalProperties":false})"},
      {"additional", R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
          "additionalProperties":{"type":"string","maxLength":4}})"},
      {"open_object", R"({"type":"object","properties":{"a":{"type":"boolean"}},"additionalProperties":true})"},
      {"formats", R"({"type":"object","properties":{
          "day":{"type":"string","format":"date"},"at":{"type":"string","format":"date-time"},
          "id":{"type":"string","format":"uuid"},"ip":{"type":"string","format":"ipv4"},"t":{"type":"string","format":"time"}},
          "required":["day","at","id","ip","t"],"additionalProperties":false})"},
      {"patterns", R"({"type":"object","properties":{
          "code":{"type":"string","pattern":"^[A-Z]{3}-\\d{2,4}$"},
          "phone":{"type":"string","pattern":"^\\+?[0-9]{1,3}( [0-9]{2,4}){2}$"},
          "file":{"type":"string","pattern":"^(?:foo|bar)[a-z]?\\.(txt|md)$"},
          "word":{"type":"string","pattern":"^[^\\s\\d]{1,8}$"},
          "other":{"type":"string","pattern":"^[^abc]{2}\\S\\D.$"},
          "hex":{"type":"string","pattern":"^0x[0-9a-fA-F]{1,6}?$"},
          "accent":{"type":"string","pattern":"^(caf\\u00e9|\\u65e5\\u672c|na\u00efve)!?$"},
          "inside":{"type":"string","pattern":"^x*ab?c"}},
          "required":["code","phone","file","word","other","hex","accent","inside"],"additionalProperties":false})"},
      {"pattern_lengths", R"({"type":"object","properties":{
          "two_lengths":{"type":"string","pattern":"^(a|b{6})$","minLength":2,"maxLength":8},
          "slug":{"type":"string","pattern":"^[a-z]+(-[a-z]+)*$","minLength":3,"maxLength":12},
          "digits":{"type":"string","pattern":"\\d","minLength":4},
          "accents":{"type":"string","pattern":"^[^\\s\\d]+$","maxLength":3},
          "mail":{"type":"string","format":"email","maxLength":16},
          "day":{"type":"string","format":"date","minLength":10,"maxLength":10}},
          "required":["two_lengths","slug","digits","accents","mail","day"],"additionalProperties":false})"},
      {"one_of", R"({"type":"array","items":{"oneOf":[{"type":"string","maxLength":3},{"type":"integer"},
          {"type":"array","items":{"type":"null"},"maxItems":2}]},"maxItems":5})"},
      {"unicode", R"({"type":"object","properties":{"na\u00efve":{"type":"string","minLength":2,"maxLength":4},
          "\u043a\u043b\u044e\u0447":{"enum":["\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435","\u65e5\u672c"]}},
          "required":["na\u00efve","\u043a\u043b\u044e\u0447"],"additionalProperties":false})"},
      {"matrix", R"({"type":"array","items":{"type":"array","items":{"type":"integer","minimum":-99,"maximum":99},
          "minItems":1,"maxItems":3},"minItems":1,"maxItems":3})"},
      {"scalar_number", R"({"type":"number","minimum":-1000,"exclusiveMaximum":1000})"},
      {"optional_only", R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":3},
          "c":{"type":"array","items":{"type":"integer"},"maxItems":2}},"additionalProperties":false})"},
      {"json_object", nullptr},
  };
  return schemas;
}

TokenId pick_uniform(const std::vector<uint64_t>& bits, std::mt19937_64& rng) {
  size_t total = 0;
  for (const uint64_t w : bits) total += static_cast<size_t>(std::popcount(w));
  if (total == 0) return -1;
  size_t k = rng() % total;
  for (size_t i = 0; i < bits.size(); ++i) {
    const auto count = static_cast<size_t>(std::popcount(bits[i]));
    if (k >= count) {
      k -= count;
      continue;
    }
    uint64_t w = bits[i];
    for (; k > 0; --k) w &= w - 1;
    return static_cast<TokenId>(i * 64 + static_cast<size_t>(std::countr_zero(w)));
  }
  return -1;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct Outcome {
  size_t samples = 0, complete = 0, tokens = 0, masks = 0;
  std::vector<std::string> outputs;
};

Outcome sample_schema(const NamedSchema& s, const Tokenizer& tok, std::shared_ptr<const TokenVocabularyIndex> vocab,
                      int samples, int max_tokens, uint64_t seed) {
  auto grammar = s.schema ? compile_json_schema(s.schema) : compile_json_object();
  INFO(s.name << ": " << (grammar ? std::string() : grammar.error().message()));
  REQUIRE(grammar);
  const std::string schema_text = s.schema ? s.schema : R"({"type":"object"})";
  simdjson::dom::parser schema_parser;
  simdjson::dom::element schema;
  REQUIRE(schema_parser.parse(schema_text).get(schema) == simdjson::SUCCESS);
  simdjson::dom::parser output_parser;

  Outcome outcome;
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
  for (int i = 0; i < samples; ++i) {
    auto matcher = make_matcher(*grammar, vocab);
    std::string text;
    std::vector<TokenId> ids;
    bool complete = false;
    for (int n = 0; n < max_tokens && !complete; ++n) {
      matcher->fill_mask(bits);
      ++outcome.masks;
      const TokenId t = pick_uniform(bits, rng);
      if (t < 0) FAIL(s.name << ": empty mask after " << n << " tokens: '" << text << "'");
      if (tok.is_end_of_generation(t)) {
        REQUIRE(matcher->can_end());
        REQUIRE(matcher->accept(t));
        complete = true;
        break;
      }
      const auto accepted = matcher->accept(t);
      if (!accepted) FAIL(s.name << ": masked token " << t << " rejected after '" << text << "'");
      text += tok.token_bytes(t);
      ids.push_back(t);
      ++outcome.tokens;
      complete = matcher->is_complete();
    }
    ++outcome.samples;
    if (!complete) continue;
    ++outcome.complete;
    simdjson::dom::element parsed;
    const auto err = output_parser.parse(text).get(parsed);
    if (err != simdjson::SUCCESS) FAIL(s.name << ": output does not parse (" << simdjson::error_message(err) << "): " << text);
    const std::string problem = validate_json(parsed, schema, schema);
    if (!problem.empty()) FAIL(s.name << ": output invalid (" << problem << "): " << text);
    // What the client receives is the tokenizer's decoding (SentencePiece drops the first
    // piece's leading space): valid too.
    const std::string decoded = tok.decode(ids, true);
    if (decoded != text) {
      if (output_parser.parse(decoded).get(parsed) != simdjson::SUCCESS) FAIL(s.name << ": decoded output does not parse: " << decoded);
      const std::string decoded_problem = validate_json(parsed, schema, schema);
      if (!decoded_problem.empty()) FAIL(s.name << ": decoded output invalid (" << decoded_problem << "): " << decoded);
    }
    outcome.outputs.push_back(std::move(text));
  }
  return outcome;
}

// Runs the jsonschema package over all outputs; false (with a warning) when it is missing.
void check_with_python(const std::vector<std::pair<NamedSchema, Outcome>>& results, const std::string& label) {
  std::string json = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& [s, outcome] = results[i];
    if (i > 0) json += ",";
    json += "{\"name\":" + json_quote(s.name) + ",\"schema\":" + (s.schema ? s.schema : R"({"type":"object"})") +
            ",\"outputs\":[";
    for (size_t k = 0; k < outcome.outputs.size(); ++k) {
      if (k > 0) json += ",";
      json += json_quote(outcome.outputs[k]);
    }
    json += "]}";
  }
  json += "]";
  const std::string dir = make_temp_dir("grammar-outputs");
  const std::string path = dir + "/outputs.json";
  std::ofstream(path, std::ios::binary) << json;
  std::string output;
  const int rc = run_command("/usr/bin/python3 '" + source_dir() + "/test/engine/grammar/validate_outputs.py' '" + path + "' 2>&1",
                             output);
  std::filesystem::remove_all(dir);
  if (rc == 3 || rc == 127) {
    WARN("python3-jsonschema is not installed: outputs were checked by the C++ validator only (" << output << ")");
    return;
  }
  INFO(output);
  CHECK(rc == 0);
  std::cerr << "[" << label << "] jsonschema (python3-jsonschema) agrees on every output\n";
}

void run_property_test(const Tokenizer& tok, const std::string& label, int samples, int max_tokens) {
  const auto vocab = index_vocabulary(tok);
  std::vector<std::pair<NamedSchema, Outcome>> results;
  size_t total = 0, complete = 0;
  const auto start = std::chrono::steady_clock::now();
  uint64_t seed = 1;
  for (const NamedSchema& s : property_schemas()) {
    Outcome outcome = sample_schema(s, tok, vocab, samples, max_tokens, seed++);
    total += outcome.samples;
    complete += outcome.complete;
    std::cerr << "[" << label << "] " << s.name << ": " << outcome.complete << "/" << outcome.samples << " complete and valid, "
              << outcome.tokens / std::max<size_t>(outcome.samples, 1) << " tokens per sample\n";
    // Enough complete documents to mean something (caps cut off the long ones).
    CHECK(outcome.complete * 4 >= outcome.samples);
    results.emplace_back(s, std::move(outcome));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "[" << label << "] " << results.size() << " schemas, " << total << " samples, " << complete
            << " complete, all valid; " << seconds << " s\n";
  check_with_python(results, label);
}

}  // namespace

TEST_CASE("property: random sampling under masks gives valid documents (test-model vocabulary)", "[grammar][property]") {
  run_property_test(small_tokenizer(), "test vocabulary", 600, 1500);
}

TEST_CASE("property: random sampling under masks gives valid documents (SentencePiece vocabulary)", "[grammar][property]") {
  REQUIRE(sentencepiece_tokenizer().spec().kind == TokenizerKind::sentencepiece_bpe);
  run_property_test(sentencepiece_tokenizer(), "sentencepiece vocabulary", 200, 1500);
}

TEST_CASE("property: random sampling under masks gives valid documents (Llama 3 vocabulary)", "[grammar][property]") {
  run_property_test(llama3_tokenizer(), "llama3 vocabulary", 40, 3000);
}
