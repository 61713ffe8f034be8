#pragma once
// A compiled response format: the grammar, and the masks computed for it so far (per
// vocabulary), shared by every sequence that uses it.

#include <string>

#include "grammar/grammar.h"
#include "grammar/mask_cache.h"
#include "llmp/engine/structured_output.h"

namespace llmp::engine {

class OutputGrammar {
 public:
  //! Masks kept per grammar: about 1000 masks of a 128k vocabulary.
  static constexpr size_t kMaskCacheBytes = size_t{16} << 20;

  explicit OutputGrammar(grammar::Grammar g) : grammar_(std::move(g)), masks_(kMaskCacheBytes) {}

  const grammar::Grammar& grammar() const { return grammar_; }
  //! Internally synchronized: matchers of many sequences share it.
  grammar::MaskCache& masks() const { return masks_; }

 private:
  grammar::Grammar grammar_;
  mutable grammar::MaskCache masks_;
};

}  // namespace llmp::engine
