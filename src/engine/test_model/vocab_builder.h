#pragma once
// Builds the tokenizer of a test model: a vocabulary trained on the embedded corpus (BPE
// merges for byte-level and SentencePiece styles, frequent words for WordPiece), the special
// tokens of the family it imitates, and reserved tokens up to the requested size.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

//! Which real tokenizer family a test vocabulary imitates.
enum class VocabStyle { llama3, qwen2, mistral, bert };

struct BuiltVocab {
  TokenizerSpec spec;             // what our loaders should read back
  std::string split_regex;        // byte-level BPE: the pre-tokenizer regex
  std::string gguf_pre;           // tokenizer.ggml.pre ("llama-bpe", "qwen2")
  std::string chat_template;      // Jinja, in the style of the family (empty for bert)
};

//! A vocabulary of exactly `vocab_size` tokens.
Result<BuiltVocab> build_vocab(VocabStyle style, int64_t vocab_size);

//! GPT-2's byte → printable code point mapping, as UTF-8 strings (index = byte).
const std::vector<std::string>& byte_level_alphabet();

}  // namespace llmp::engine
