#include "test_model/vocab_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "llmp/core/utf8.h"
#include "test_model/corpus.h"

namespace llmp::engine {
namespace {

// Splits UTF-8 text into characters (invalid bytes stand alone).
std::vector<std::string> characters(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8::valid_sequence_length(s.substr(i));
    if (n == 0) n = 1;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// Words of the corpus as symbol sequences, with their counts. `space_marker` is prepended to
// words that followed a space (GPT-2's "Ġ" or SentencePiece's "▁").
std::map<std::vector<std::string>, int64_t> corpus_words(bool byte_level, const std::string& space_marker) {
  std::map<std::vector<std::string>, int64_t> words;
  const std::string_view text = training_corpus();
  const auto& alphabet = byte_level_alphabet();
  size_t i = 0;
  while (i < text.size()) {
    const bool spaced = text[i] == ' ';
    if (spaced) ++i;
    size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    std::string_view word = text.substr(i, end - i);
    if (!word.empty()) {
      std::vector<std::string> symbols;
      if (byte_level) {
        if (spaced) symbols.push_back(alphabet[' ']);
        for (unsigned char c : word) symbols.push_back(alphabet[c]);
      } else {
        symbols = characters(word);
        if (spaced || i == 0 || text[i - 1] == '\n') symbols.insert(symbols.begin(), space_marker);
      }
      ++words[symbols];
    }
    i = std::max(end, i + 1);
    while (i < text.size() && (text[i] == '\n' || text[i] == '\t')) ++i;
  }
  return words;
}

// Classic BPE training: repeatedly merge the most frequent adjacent pair (ties by the pair's
// text, so the result is deterministic).
std::vector<std::pair<std::string, std::string>> train_merges(std::map<std::vector<std::string>, int64_t> words,
                                                              int64_t max_merges) {
  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int64_t>(merges.size()) < max_merges) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& [symbols, count] : words) {
      for (size_t j = 0; j + 1 < symbols.size(); ++j) pairs[{symbols[j], symbols[j + 1]}] += count;
    }
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    if (best->second < 2 && merges.size() > 64) break;  // nothing repeats any more
    const auto pair = best->first;
    merges.push_back(pair);
    std::map<std::vector<std::string>, int64_t> merged;
    for (const auto& [symbols, count] : words) {
      std::vector<std::string> out;
      for (size_t j = 0; j < symbols.size(); ++j) {
        if (j + 1 < symbols.size() && symbols[j] == pair.first && symbols[j + 1] == pair.second) {
          out.push_back(pair.first + pair.second);
          ++j;
        } else {
          out.push_back(symbols[j]);
        }
      }
      merged[out] += count;
    }
    words = std::move(merged);
  }
  return merges;
}

constexpr const char* kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Chat templates in the style of each family (shorter than the originals, same markup).
constexpr const char* kLlama3Template =
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] or '') | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n";
constexpr const char* kChatmlTemplate =
    "{%- for message in messages %}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>' + '\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "{{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";
constexpr const char* kMistralTemplate =
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "{%- if message['role'] == 'user' %}\n"
    "{{- '[INST] ' + (message['content'] or '') + '[/INST]' }}\n"
    "{%- elif message['role'] == 'assistant' %}\n"
    "{{- ' ' + (message['content'] or '') + eos_token }}\n"
    "{%- endif %}\n"
    "{%- endfor %}\n";

Result<BuiltVocab> byte_level(VocabStyle style, int64_t vocab_size) {
  BuiltVocab v;
  v.spec.kind = TokenizerKind::byte_level_bpe;
  const bool llama3 = style == VocabStyle::llama3;
  v.split_regex = llama3 ? kLlama3Split : kQwen2Split;
  v.gguf_pre = llama3 ? "llama-bpe" : "qwen2";
  v.spec.pre_tokenizer = llama3 ? "llama3" : "qwen2";
  v.chat_template = llama3 ? kLlama3Template : kChatmlTemplate;
  const std::vector<std::string> named =
      llama3 ? std::vector<std::string>{"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                        "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"}
             : std::vector<std::string>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  const int64_t n_special = std::max<int64_t>(static_cast<int64_t>(named.size()) + 1, std::min<int64_t>(256, vocab_size / 8));
  if (vocab_size < 256 + n_special + 16) {
    return error(StatusCode::invalid_argument, fmt::format("vocab {} is too small for a byte-level BPE test model (min {})",
                                                           vocab_size, 256 + n_special + 16));
  }
  // Bytes in GPT-2's order (printable first), then merges, then special tokens at the end.
  const auto& alphabet = byte_level_alphabet();
  std::vector<std::string> base(alphabet.begin(), alphabet.end());
  std::sort(base.begin(), base.end(), [&](const std::string& a, const std::string& b) {
    auto cp = [](const std::string& s) {
      uint32_t c = static_cast<unsigned char>(s[0]);
      if (c >= 0xC0) c = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[1]) & 0x3F);
      return c;
    };
    return cp(a) < cp(b);
  });
  v.spec.tokens = base;
  const auto merges = train_merges(corpus_words(true, ""), vocab_size - 256 - n_special);
  std::set<std::string> known(v.spec.tokens.begin(), v.spec.tokens.end());
  for (const auto& [a, b] : merges) {
    if (!known.insert(a + b).second) continue;  // a second way to the same token: keep the first
    v.spec.merges.push_back(a + " " + b);
    v.spec.tokens.push_back(a + b);
  }
  v.spec.token_types.assign(v.spec.tokens.size(), TokenType::normal);
  // Reserved special tokens fill what the corpus could not, as Llama 3 reserves its own.
  int64_t reserved = 0;
  while (static_cast<int64_t>(v.spec.tokens.size()) < vocab_size - static_cast<int64_t>(named.size())) {
    v.spec.tokens.push_back(fmt::format("<|reserved_special_token_{}|>", reserved++));
    v.spec.token_types.push_back(TokenType::control);
  }
  for (const auto& s : named) {
    v.spec.tokens.push_back(s);
    v.spec.token_types.push_back(TokenType::control);
  }
  auto id = [&](const std::string& s) { return static_cast<TokenId>(std::find(v.spec.tokens.begin(), v.spec.tokens.end(), s) - v.spec.tokens.begin()); };
  if (llama3) {
    v.spec.bos = id("<|begin_of_text|>");
    v.spec.eos = id("<|end_of_text|>");
    v.spec.eog = {id("<|end_of_text|>"), id("<|eot_id|>"), id("<|eom_id|>")};
    v.spec.add_bos = true;
  } else {
    v.spec.eos = id("<|im_end|>");
    v.spec.pad = id("<|endoftext|>");
    v.spec.eog = {id("<|im_end|>"), id("<|endoftext|>")};
  }
  return v;
}

Result<BuiltVocab> sentencepiece(int64_t vocab_size) {
  BuiltVocab v;
  v.spec.kind = TokenizerKind::sentencepiece_bpe;
  v.chat_template = kMistralTemplate;
  const std::vector<std::string> controls = {"[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
                                             "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"};
  if (vocab_size < 3 + static_cast<int64_t>(controls.size()) + 256 + 16) {
    return error(StatusCode::invalid_argument, fmt::format("vocab {} is too small for a SentencePiece test model", vocab_size));
  }
  auto add = [&](std::string piece, float score, TokenType type) {
    v.spec.tokens.push_back(std::move(piece));
    v.spec.scores.push_back(score);
    v.spec.token_types.push_back(type);
  };
  add("<unk>", 0, TokenType::unknown);
  add("<s>", 0, TokenType::control);
  add("</s>", 0, TokenType::control);
  for (const auto& c : controls) add(c, 0, TokenType::control);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, TokenType::byte);
  // Single characters of the corpus first (so byte fallback is only for the unseen), then
  // merged pieces with descending scores: SentencePiece merges the highest score first.
  const std::string marker = "\xE2\x96\x81";
  const auto words = corpus_words(false, marker);
  std::set<std::string> known;
  std::map<std::string, int64_t> char_counts;
  for (const auto& [symbols, count] : words) {
    for (const auto& s : symbols) char_counts[s] += count;
  }
  std::vector<std::pair<int64_t, std::string>> chars;
  for (const auto& [s, count] : char_counts) chars.emplace_back(-count, s);
  std::sort(chars.begin(), chars.end());
  const int64_t budget = vocab_size - static_cast<int64_t>(v.spec.tokens.size());
  const int64_t n_chars = std::min<int64_t>(static_cast<int64_t>(chars.size()), budget / 2);
  for (int64_t i = 0; i < n_chars; ++i) {
    known.insert(chars[static_cast<size_t>(i)].second);
  }
  const auto merges = train_merges(words, budget - n_chars);
  float score = -1;
  for (const auto& [a, b] : merges) {
    if (static_cast<int64_t>(v.spec.tokens.size()) >= vocab_size - n_chars) break;
    if (!known.count(a) || !known.count(b) || known.count(a + b)) continue;
    known.insert(a + b);
    add(a + b, score, TokenType::normal);
    score -= 1;
  }
  for (int64_t i = 0; i < n_chars; ++i) add(chars[static_cast<size_t>(i)].second, score - 1000 - static_cast<float>(i), TokenType::normal);
  int64_t unused = 0;
  while (static_cast<int64_t>(v.spec.tokens.size()) < vocab_size) add(fmt::format("<unused{}>", unused++), -1e9f, TokenType::unused);
  v.spec.unk = 0;
  v.spec.bos = 1;
  v.spec.eos = 2;
  v.spec.eog = {2};
  v.spec.add_bos = true;
  v.spec.add_space_prefix = true;
  return v;
}

Result<BuiltVocab> wordpiece(int64_t vocab_size) {
  BuiltVocab v;
  v.spec.kind = TokenizerKind::wordpiece;
  v.spec.lowercase = true;
  v.spec.strip_accents = true;
  const std::vector<std::string> specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const auto& s : specials) v.spec.tokens.push_back(s);
  v.spec.token_types.assign(v.spec.tokens.size(), TokenType::control);
  std::set<std::string> known(specials.begin(), specials.end());
  auto add = [&](const std::string& s) {
    if (static_cast<int64_t>(v.spec.tokens.size()) < vocab_size && known.insert(s).second) {
      v.spec.tokens.push_back(s);
      v.spec.token_types.push_back(TokenType::normal);
    }
  };
  for (char c = 'a'; c <= 'z'; ++c) {
    add(std::string(1, c));
    add("##" + std::string(1, c));
  }
  for (char c = '0'; c <= '9'; ++c) {
    add(std::string(1, c));
    add("##" + std::string(1, c));
  }
  for (char c : std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) add(std::string(1, c));
  // Frequent lowercase words, then frequent 2- and 3-letter continuations.
  std::map<std::string, int64_t> counts, pieces;
  std::string word;
  for (char ch : training_corpus()) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalpha(c) && c < 0x80) {
      word.push_back(static_cast<char>(std::tolower(c)));
    } else {
      if (word.size() > 1) {
        ++counts[word];
        for (size_t i = 1; i + 1 < word.size(); ++i) ++pieces["##" + word.substr(i, 2)];
        for (size_t i = 1; i + 2 < word.size(); ++i) ++pieces["##" + word.substr(i, 3)];
      }
      word.clear();
    }
  }
  auto by_count = [](const std::map<std::string, int64_t>& m) {
    std::vector<std::pair<int64_t, std::string>> out;
    for (const auto& [s, n] : m) out.emplace_back(-n, s);
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto sorted_words = by_count(counts), sorted_pieces = by_count(pieces);
  size_t wi = 0, pi = 0;
  while (static_cast<int64_t>(v.spec.tokens.size()) < vocab_size && (wi < sorted_words.size() || pi < sorted_pieces.size())) {
    if (wi < sorted_words.size()) add(sorted_words[wi++].second);
    if (pi < sorted_pieces.size()) add(sorted_pieces[pi++].second);
  }
  int64_t unused = 0;
  while (static_cast<int64_t>(v.spec.tokens.size()) < vocab_size) {
    v.spec.tokens.push_back(fmt::format("[unused{}]", unused++));
    v.spec.token_types.push_back(TokenType::control);
  }
  v.spec.pad = 0;
  v.spec.unk = 1;
  v.spec.cls = 2;
  v.spec.sep = 3;
  v.spec.mask = 4;
  v.spec.bos = 2;
  v.spec.eos = 3;
  v.spec.add_bos = true;  // [CLS] first
  v.spec.add_eos = true;  // [SEP] last
  return v;
}

}  // namespace

const std::vector<std::string>& byte_level_alphabet() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      utf8::append(t[b], printable ? b : next++);
    }
    return t;
  }();
  return table;
}

Result<BuiltVocab> build_vocab(VocabStyle style, int64_t vocab_size) {
  switch (style) {
    case VocabStyle::llama3:
    case VocabStyle::qwen2: return byte_level(style, vocab_size);
    case VocabStyle::mistral: return sentencepiece(vocab_size);
    case VocabStyle::bert: return wordpiece(vocab_size);
  }
  return error(StatusCode::internal, "unknown vocab style");
}

}  // namespace llmp::engine
