#pragma once
// Tokenizers: text ↔ token ids exactly as the model's authors' tokenizer does it.
//
// A TokenizerSpec is the format-neutral description of a tokenizer, read from a Hugging Face
// tokenizer.json (+ tokenizer_config.json) or from GGUF metadata; make_tokenizer() turns it
// into a Tokenizer. Three kinds exist: byte-level BPE (GPT-2, Llama 3, Qwen2), SentencePiece
// BPE with byte fallback (Llama 2, Mistral) and WordPiece (BERT).
//
// A Tokenizer is immutable after make_tokenizer(): encode/decode may run on many threads at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine {

using TokenId = int32_t;

enum class TokenizerKind {
  byte_level_bpe,     // GPT-2 style: bytes mapped to printable code points, regex pre-split
  sentencepiece_bpe,  // SentencePiece BPE: "▁" for spaces, scores as merge priority, <0xNN> byte fallback
  wordpiece,          // BERT: basic split (whitespace, punctuation, CJK), greedy longest match with "##"
};

//! GGUF's token types (tokenizer.ggml.token_type), also derived for tokenizer.json.
enum class TokenType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

//! A tokenizer as data. Every field is what the source file says; nothing is guessed later.
struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::byte_level_bpe;
  std::vector<std::string> tokens;       // id → piece, in the tokenizer's own form ("Ġthe", "▁the", "##ing")
  std::vector<float> scores;             // SentencePiece: per-token score (merge priority); else empty
  //! Per token, or empty for "all normal". Control and user_defined tokens are "added" tokens:
  //! the text is split around them before the model sees it, and they are matched verbatim.
  std::vector<TokenType> token_types;
  std::vector<std::string> merges;       // byte-level BPE: "a b" pairs, highest priority first
  //! Byte-level BPE pre-tokenizer: one of "gpt2", "llama3", "qwen2", "deepseek-llm", ... (the
  //! names GGUF's tokenizer.ggml.pre uses), selecting the split regexes.
  std::string pre_tokenizer = "gpt2";
  //! Byte-level BPE: the split regexes themselves (a tokenizer.json's Split patterns, in order);
  //! when not empty they are used instead of the `pre_tokenizer` preset. Each one splits every
  //! piece the previous ones left into its matches and the text between them.
  std::vector<std::string> pre_tokenizer_regexes;
  //! Byte-level BPE: a pre-token that is itself a token is taken whole, without merges (Llama 3's
  //! "ignore_merges", and what tiktoken does).
  bool ignore_merges = false;
  //! Byte-level BPE: NFC-normalize the text (outside added tokens) first (Qwen2's normalizer).
  bool normalize_nfc = false;
  //! Byte-level BPE: ByteLevel's add_prefix_space: a space is put before text that does not
  //! start with one.
  bool byte_level_prefix_space = false;
  std::optional<TokenId> bos, eos, unk, pad, sep, cls, mask;
  std::vector<TokenId> eog;              // ids that end generation (eos, <|eot_id|>, <|im_end|>, ...)
  //! Added tokens that take the whitespace before (lstrip) or after (rstrip) them in the text
  //! with them, as tokenizer.json's added_tokens say ("<mask>" of RoBERTa, Phi-3's "<|end|>").
  std::vector<TokenId> lstrip_tokens, rstrip_tokens;
  bool add_bos = false;                  // encode(add_special=true) prepends bos (WordPiece: cls, else bos)
  bool add_eos = false;                  // ... and appends eos (WordPiece: sep, else eos)
  //! SentencePiece: prepend "▁" to the text (Llama 2); decode() drops the space the first piece
  //! starts with.
  bool add_space_prefix = true;
  //! SentencePiece: ... and to text that follows an added token ("<s>Hi" → "<s>", "▁Hi"), as
  //! llama.cpp and Hugging Face's legacy Llama tokenizers do; false for Metaspace's
  //! prepend_scheme "first".
  bool space_prefix_after_added = true;
  bool lowercase = false;                // WordPiece: BertNormalizer lowercase
  bool strip_accents = false;            // WordPiece: strip accents (NFD, drop Mn)
  bool clean_text = true;                // WordPiece: drop control chars, whitespace → " "
  bool handle_chinese_chars = true;      // WordPiece: split each CJK ideograph
  std::string continuing_prefix = "##";  // WordPiece
  int max_input_chars_per_word = 100;    // WordPiece: longer words become [UNK]
  bool decode_cleanup = true;            // WordPiece decoder: " ." → ".", " n't" → "n't", ...
};

class IncrementalDetokenizer;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  //! Text → ids. Special (control/user-defined) tokens written in `text` are recognised as such.
  //! `add_special` adds bos/eos (or [CLS]/[SEP] for WordPiece) as the spec says. Bytes that are
  //! not valid UTF-8 are encoded too (byte-level BPE and byte fallback keep them exactly).
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special) const = 0;

  //! Ids → text. `skip_special` drops control (and unknown) tokens. Bytes that do not form valid
  //! UTF-8 are kept as they are (callers streaming text use IncrementalDetokenizer). Ids out of
  //! range are skipped.
  virtual std::string decode(std::span<const TokenId> ids, bool skip_special) const = 0;

  //! The bytes a single token stands for, after undoing the tokenizer's encoding of them
  //! ("Ġthe" → " the", "▁the" → " the", "<0x0A>" → "\n", WordPiece "##ing" → "ing"); special
  //! tokens give their text. Empty for ids out of range.
  virtual std::string token_bytes(TokenId id) const = 0;

  virtual const TokenizerSpec& spec() const = 0;

  size_t vocab_size() const { return spec().tokens.size(); }
  //! Control or unknown token (what decode(skip_special=true) drops).
  bool is_special(TokenId id) const;
  bool is_end_of_generation(TokenId id) const;
  //! The id of a token by its piece, if any ("<|eot_id|>").
  std::optional<TokenId> find(std::string_view piece) const;

 private:
  friend class IncrementalDetokenizer;
  //! Appends what `id` adds to decode()'s text; `first` when it is the first piece written
  //! (SentencePiece drops its leading space there, WordPiece adds no space before it).
  virtual void append_piece(std::string& out, TokenId id, bool first) const = 0;
  virtual std::optional<TokenId> find_piece(std::string_view piece) const = 0;
};

//! Builds a tokenizer; invalid_argument naming what is wrong (a merge of unknown pieces, ids
//! out of range, a regex that does not compile, ...).
Result<std::unique_ptr<Tokenizer>> make_tokenizer(TokenizerSpec spec);

//! Reads a Hugging Face tokenizer.json, with tokenizer_config.json (may be empty) for
//! add_bos/add_eos and the special tokens' roles.
Result<TokenizerSpec> parse_tokenizer_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

//! Turns a stream of ids into text deltas for streaming. Deltas are always valid UTF-8 and never
//! split a character: bytes that may still complete one are held back; bytes that cannot are
//! written as U+FFFD. When decode() of the whole sequence is valid UTF-8 (the normal case), the
//! deltas concatenate to exactly that text (SentencePiece's leading-space rule included).
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special);
  //! The new text completed by `id` (possibly empty while a multi-byte character is split
  //! across tokens).
  std::string push(TokenId id);
  //! Whatever is still held back at the end of the stream (an unfinished character as U+FFFD).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool first_piece_ = true;  // no piece written yet
  std::string pending_;      // bytes of a character not yet complete
};

}  // namespace llmp::engine
