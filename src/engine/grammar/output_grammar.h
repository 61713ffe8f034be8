#pragma once
// A compiled response format: the grammar (a JSON one, or a GBNF one's rules), and the masks
// computed for it so far (per vocabulary), shared by every sequence that uses it.

#include <optional>
#include <string>

#include "grammar/cfg.h"
#include "grammar/grammar.h"
#include "grammar/mask_cache.h"
#include "llmp/engine/structured_output.h"

namespace llmp::engine {

class OutputGrammar {
 public:
  //! Masks kept per grammar: about 1000 masks of a 128k vocabulary.
  static constexpr size_t kMaskCacheBytes = size_t{16} << 20;

  explicit OutputGrammar(grammar::Grammar g) : grammar_(std::move(g)), masks_(kMaskCacheBytes) {}
  explicit OutputGrammar(grammar::Cfg cfg) : cfg_(std::move(cfg)), masks_(kMaskCacheBytes) {}

  //! The JSON grammar (schemas, json_object, choice, regex); empty for a GBNF grammar.
  const grammar::Grammar& grammar() const { return grammar_; }
  //! A GBNF grammar's rules, or null.
  const grammar::Cfg* cfg() const { return cfg_ ? &*cfg_ : nullptr; }
  //! Internally synchronized: matchers of many sequences share it.
  grammar::MaskCache& masks() const { return masks_; }

 private:
  grammar::Grammar grammar_;
  std::optional<grammar::Cfg> cfg_;
  mutable grammar::MaskCache masks_;
};

}  // namespace llmp::engine
