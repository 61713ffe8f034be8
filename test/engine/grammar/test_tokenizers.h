#pragma once
// Tokenizers for the grammar tests: test models' byte-level BPE and SentencePiece vocabularies
// (small, through the real GGUF write/load path), and Llama 3's real 128k vocabulary (from test/node's
// llama3-tokenizer-js, as the tokenizer tests load it). Built once per process.

#include "llmp/engine/tokenizer.h"

namespace llmp::test {

//! A test model's tokenizer (byte-level BPE, Llama 3 style, 512 tokens).
const engine::Tokenizer& small_tokenizer();
//! A Mistral-style test model's tokenizer (SentencePiece BPE with byte fallback, 512 tokens).
const engine::Tokenizer& sentencepiece_tokenizer();
//! Llama 3's tokenizer (128256 tokens); fails the test, saying what to install, without node.
const engine::Tokenizer& llama3_tokenizer();

}  // namespace llmp::test
