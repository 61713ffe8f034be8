// The public entry points of structured output (llmp/engine/structured_output.h).
#include "llmp/engine/structured_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "grammar/grammar_matcher.h"
#include "grammar/json_schema_compiler.h"
#include "grammar/output_grammar.h"
#include "grammar/token_vocabulary_index.h"

namespace llmp::engine {

namespace {

Result<void> check_options(const OutputGrammarOptions& options) {
  if (options.max_whitespace < 0 || options.max_whitespace > 64) {
    return error(StatusCode::invalid_argument, "max_whitespace must be in [0, 64]");
  }
  return ok();
}

}  // namespace

Result<std::shared_ptr<const OutputGrammar>> compile_json_schema(std::string_view schema_json,
                                                                 const OutputGrammarOptions& options) {
  LLMP_TRY_VOID(check_options(options));
  grammar::Grammar g;
  // simdjson is built without exceptions here, but any library throw must stay inside.
  try {
    LLMP_TRY_VOID(grammar::compile_json_schema_into(schema_json, options.max_whitespace, g));
  } catch (const std::exception& e) {
    return error(StatusCode::invalid_argument, std::string("cannot compile the schema: ") + e.what());
  }
  return std::make_shared<const OutputGrammar>(std::move(g));
}

Result<std::shared_ptr<const OutputGrammar>> compile_json_object(const OutputGrammarOptions& options) {
  LLMP_TRY_VOID(check_options(options));
  grammar::Grammar g;
  const grammar::NodeId root = g.any_object();
  LLMP_TRY_VOID(g.finish(root, options.max_whitespace));
  return std::make_shared<const OutputGrammar>(std::move(g));
}

Result<std::shared_ptr<const OutputGrammar>> compile_choice(std::span<const std::string> choices) {
  if (choices.empty()) return error(StatusCode::invalid_argument, "there must be at least one choice");
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].empty()) return error(StatusCode::invalid_argument, fmt::format("choice {} is empty", i));
  }
  grammar::Grammar g;
  // A literal node matches its values' bytes as they are: here the choices' text itself.
  const grammar::NodeId root = g.add_literal(std::vector<std::string>(choices.begin(), choices.end()), "(choice)");
  LLMP_TRY_VOID(g.finish(root, 0));
  return std::make_shared<const OutputGrammar>(std::move(g));
}

Result<std::shared_ptr<const OutputGrammar>> compile_regex(std::string_view regex) {
  auto automaton = grammar::FormatAutomaton::from_text_regex(regex);
  if (!automaton) return error(automaton.error());
  grammar::Grammar g;
  const grammar::NodeId root = g.add_text({g.own(std::move(*automaton))}, "(regex)");
  LLMP_TRY_VOID(g.finish(root, 0));
  const auto& first = g.node(root).first;
  if (std::all_of(first.begin(), first.end(), [](uint64_t w) { return w == 0; })) {
    return error(StatusCode::invalid_argument, "the regex matches only the empty text");
  }
  return std::make_shared<const OutputGrammar>(std::move(g));
}

Result<std::shared_ptr<const OutputGrammar>> compile_gbnf(std::string_view text) {
  auto cfg = grammar::parse_gbnf(text);
  if (!cfg) return error(cfg.error());
  return std::make_shared<const OutputGrammar>(std::move(*cfg));
}

void set_grammar_mask_budget(size_t bytes) {
  grammar::set_mask_budget_bytes(bytes);
}

size_t grammar_mask_bytes() {
  return grammar::mask_budget_used_bytes();
}

std::shared_ptr<const TokenVocabularyIndex> index_vocabulary(const Tokenizer& tokenizer) {
  return std::make_shared<const TokenVocabularyIndex>(tokenizer);
}

void apply_token_mask(std::span<float> logits, std::span<const uint64_t> bits) {
  const float blocked = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    const size_t word = i / 64;
    if (word >= bits.size() || ((bits[word] >> (i % 64)) & 1) == 0) logits[i] = blocked;
  }
}

std::unique_ptr<GrammarMatcher> make_matcher(std::shared_ptr<const OutputGrammar> grammar,
                                             std::shared_ptr<const TokenVocabularyIndex> vocabulary) {
  if (grammar->cfg() != nullptr) {
    return std::make_unique<grammar::CfgGrammarMatcher>(std::move(grammar), std::move(vocabulary));
  }
  return std::make_unique<grammar::JsonGrammarMatcher>(std::move(grammar), std::move(vocabulary));
}

}  // namespace llmp::engine
