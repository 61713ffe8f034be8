#pragma once
// The split regexes of byte-level BPE tokenizers by the names GGUF's tokenizer.ggml.pre gives
// them (the same names and groupings as llama.cpp's llama-vocab.cpp). The regexes are those of
// the models' own tokenizer.json files: PCRE2 takes them as they are, so unlike llama.cpp we
// need no hand-adapted variants. Characters past ASCII are written as \x{...}: an editor that
// normalizes the source (NFC maps U+1F7D to U+03CE) must not change what a regex matches.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine::tokenizer {

//! The regexes of a named pre-tokenizer, applied in order; nullopt for an unknown name.
std::optional<std::vector<std::string>> pre_tokenizer_preset(std::string_view name);

//! Hugging Face ByteLevel(use_regex=true)'s regex: GPT-2's.
extern const std::string_view kGpt2SplitRegex;

}  // namespace llmp::engine::tokenizer
