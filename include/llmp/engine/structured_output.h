#pragma once
// Structured output: OpenAI's response_format {"type":"json_object"} and {"type":"json_schema"}
// (and vLLM's choice and regex, and GBNF grammars: compile_gbnf below), enforced while
// sampling. A schema compiles once into an OutputGrammar (immutable, shareable,
// cacheable by schema text); a model's vocabulary is indexed once into a TokenVocabularyIndex;
// each sequence gets a GrammarMatcher that says which tokens may come next (a bitset over the
// vocabulary, applied to the logits before sampling) and advances by the token chosen.
//
// What is generated is a subset of what the schema allows, chosen so that generation always
// terminates in a valid document:
// - properties in the order the schema declares them (as OpenAI's strict mode writes them);
//   optional ones may be skipped; additional properties, only where additionalProperties is
//   true or a schema (absent means none), after the declared ones;
// - whitespace between JSON tokens shaped as llama.cpp's grammars allow it: in each gap nothing,
//   one space, or one or two newlines then spaces and tabs, at most
//   OutputGrammarOptions::max_whitespace bytes; none before or after the document;
// - numbers with at most 16 integer digits (15 fraction, 2 exponent); with minimum/maximum, no
//   exponent, at most 12 integer and 6 fraction digits (integers: 16 digits);
// - strings of valid UTF-8 (escapes \uXXXX only outside the surrogate range; none in keys);
// - enum/const values written exactly as their compact JSON;
// - string formats date, time, date-time, uuid, ipv4 and email as strict subsets (years
//   1000-9999 and never 29 February, no leap seconds, ...); other formats are rejected;
// - string patterns (ECMAScript regexes, searched for) as strict subsets: characters a JSON
//   string holds unescaped, beyond ASCII only those the pattern writes out and Latin and CJK
//   letters (grammar/format_automaton.h); lookaround, backreferences, \b and \p{...} are
//   rejected, as is a pattern beside a format;
// - minLength/maxLength beside a format or pattern: only strings of an allowed length (in code
//   points), never a prefix that cannot reach one (grammar/length_table.h); a schema's length
//   tables are bounded (2^24 automaton states x lengths), beyond that rejected;
// - nesting at most 64 frames deep (a frame per open container, plus the key, string or
//   number being written: about 60 levels);
// - oneOf is treated as anyOf: a value matching two branches of a oneOf is not excluded;
//   branches that start alike are followed together, at most 8 at a time (later ones are
//   dropped while the first 8 are alive);
// - at most 8 values (containers, keys, strings) opened by one token ("[[[[[[[[[" is not
//   offered).
// Unsupported keywords ("not", "if", "patternProperties", ...) are rejected at compile time
// with the schema path, never ignored.
//
// Thread safety: OutputGrammar and TokenVocabularyIndex are immutable and may be shared by any
// number of threads (the grammar's mask cache is internally synchronized); a GrammarMatcher
// belongs to one sequence and one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "llmp/core/status.h"
#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

class OutputGrammar;
class TokenVocabularyIndex;

//! How a grammar is compiled.
struct OutputGrammarOptions {
  //! Whitespace bytes allowed in one gap between JSON tokens, [0, 64] (the newlines and the
  //! indentation of pretty-printed JSON: 16 is seven levels of two spaces). Bounded, and shaped
  //! (see above), because free whitespace lets a model (a weak one, certainly) pad forever.
  int max_whitespace = 16;
};

//! Compiles a JSON Schema (the "schema" member of OpenAI's json_schema response format) into a
//! grammar. invalid_argument naming the schema path on bad JSON, an invalid schema, a schema no
//! value satisfies, or an unsupported feature ("unsupported schema feature 'not' at
//! #/properties/x").
Result<std::shared_ptr<const OutputGrammar>> compile_json_schema(std::string_view schema_json,
                                                                 const OutputGrammarOptions& options = {});

//! The grammar of response_format json_object: any JSON object. invalid_argument only for bad
//! options.
Result<std::shared_ptr<const OutputGrammar>> compile_json_object(const OutputGrammarOptions& options = {});

//! The grammar of vLLM's guided_choice: the output is exactly one of `choices` (raw text, not
//! JSON; no whitespace around it). invalid_argument when there are none, or one is empty.
Result<std::shared_ptr<const OutputGrammar>> compile_choice(std::span<const std::string> choices);

//! The grammar of vLLM's guided_regex: the whole output matches `regex` (ECMAScript syntax as
//! for schema patterns, without JSON's limits on characters; beyond ASCII, what the regex
//! writes out and Latin and CJK letters). invalid_argument naming what is not supported, as
//! for patterns, or when no non-empty text matches.
Result<std::shared_ptr<const OutputGrammar>> compile_regex(std::string_view regex);

//! A GBNF grammar, as llama.cpp's `grammar` field and vLLM's structured_outputs.grammar take
//! one: the output is a text the rule "root" matches (grammar/cfg.h has the syntax and the
//! checks). invalid_argument naming the line, column and byte of a syntax error, or the rule
//! that is undefined, defined twice, left-recursive or can never finish.
Result<std::shared_ptr<const OutputGrammar>> compile_gbnf(std::string_view text);

//! Indexes a tokenizer's vocabulary for masking (a trie over token bytes, end-of-generation ids
//! from the spec's eog and eos). Once per model; costs about as much as a few masks. Special
//! (control) tokens other than end-of-generation are never allowed under a grammar.
std::shared_ptr<const TokenVocabularyIndex> index_vocabulary(const Tokenizer& tokenizer);

//! The bytes of token masks all grammars may cache together (default 256 MiB; past it the least
//! recently used grammars' masks are dropped), and what they hold now.
void set_grammar_mask_budget(size_t bytes);
size_t grammar_mask_bytes();

//! 64-bit words of a token bitset over `vocab_size` tokens.
constexpr size_t token_mask_words(size_t vocab_size) {
  return (vocab_size + 63) / 64;
}

//! Sets the logits of tokens whose bit is clear to -infinity. `logits` [vocab]; `bits` covers
//! at least logits.size() tokens.
void apply_token_mask(std::span<float> logits, std::span<const uint64_t> bits);

//! Where one sequence stands in its grammar.
class GrammarMatcher {
 public:
  virtual ~GrammarMatcher() = default;

  //! Vocabulary size the masks cover.
  virtual size_t vocab_size() const = 0;

  //! Writes the tokens allowed next as bits (token t: bit t % 64 of word t / 64); words past
  //! the vocabulary are cleared. `bits` must have token_mask_words(vocab_size()) words (fewer
  //! are filled as far as they go). End-of-generation tokens are allowed exactly when
  //! can_end(). Never empty before the document is complete: every allowed token keeps a
  //! complete document reachable (once is_complete(), only end-of-generation tokens remain, so
  //! with a vocabulary that has none the mask is empty: finish the sequence at is_complete()).
  //! Cached per recogniser state, shared by the grammar's matchers.
  virtual void fill_mask(std::span<uint64_t> bits) = 0;

  //! Advances by a token. invalid_argument, the state unchanged, when the token is not allowed
  //! here (what fill_mask() allows is always accepted).
  virtual Result<void> accept(TokenId token) = 0;

  //! The output so far is a complete document: end of generation is allowed (more may still
  //! follow, such as another digit of a top-level number).
  virtual bool can_end() const = 0;

  //! The document is complete and nothing but end of generation may follow (or an
  //! end-of-generation token was accepted): the engine may finish the sequence now.
  virtual bool is_complete() const = 0;
};

//! A matcher at the start of a document. The grammar and index are kept alive by it.
std::unique_ptr<GrammarMatcher> make_matcher(std::shared_ptr<const OutputGrammar> grammar,
                                             std::shared_ptr<const TokenVocabularyIndex> vocabulary);

}  // namespace llmp::engine
