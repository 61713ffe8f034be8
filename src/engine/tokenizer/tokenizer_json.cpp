// parse_tokenizer_json(): a Hugging Face tokenizer.json (+ tokenizer_config.json) as a
// TokenizerSpec. Only what changes the ids is read; whatever would change them in a way we do
// not implement is an error naming it, never silently ignored.
#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>

#include "llmp/engine/tokenizer.h"
#include "tokenizer/pre_tokenizer_presets.h"

namespace llmp::engine {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

// HF's Punctuation pre-tokenizer: Unicode P* and ASCII punctuation and symbols.
constexpr std::string_view kPunctuationClass = R"re([\p{P}!-/:-@\[-`{-~])re";

Status bad(std::string_view file, std::string_view message) {
  return Status(StatusCode::invalid_argument, std::string(file) + ": " + std::string(message));
}

// The field of an object, or nullopt when it is missing or null.
std::optional<element> field(const object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::optional<object> object_field(const object& o, std::string_view key) {
  object result;
  if (auto e = field(o, key); e && e->get_object().get(result) == simdjson::SUCCESS) return result;
  return std::nullopt;
}

std::string_view string_field(const object& o, std::string_view key, std::string_view fallback = {}) {
  std::string_view result;
  if (auto e = field(o, key); e && e->get_string().get(result) == simdjson::SUCCESS) return result;
  return fallback;
}

bool bool_field(const object& o, std::string_view key, bool fallback) {
  bool result;
  if (auto e = field(o, key); e && e->get_bool().get(result) == simdjson::SUCCESS) return result;
  return fallback;
}

std::optional<int64_t> int_field(const object& o, std::string_view key) {
  int64_t result;
  if (auto e = field(o, key); e && e->get_int64().get(result) == simdjson::SUCCESS) return result;
  return std::nullopt;
}

// A literal string as a PCRE2 pattern.
std::string escape_regex(std::string_view literal) {
  std::string out;
  for (const char c : literal) {
    if (std::string_view(R"(\^$.|?*+()[]{}-/)").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// The pattern of a Split/Replace: {"Regex": "..."} or {"String": "..."}, as a regex.
Result<std::string> pattern_regex(const object& owner, std::string_view where) {
  const auto pattern = object_field(owner, "pattern");
  if (!pattern) return error(bad("tokenizer.json", std::string(where) + " has no pattern"));
  if (auto e = field(*pattern, "Regex")) {
    std::string_view regex;
    if (e->get_string().get(regex) == simdjson::SUCCESS) return std::string(regex);
  }
  if (auto e = field(*pattern, "String")) {
    std::string_view literal;
    if (e->get_string().get(literal) == simdjson::SUCCESS) return escape_regex(literal);
  }
  return error(bad("tokenizer.json", std::string(where) + ": pattern is neither Regex nor String"));
}

// Calls `f(component, path)` for a normalizer/pre-tokenizer/decoder/post-processor and, for a
// Sequence, for each of its parts in order.
template <class F>
Result<void> for_each_component(const object& component, std::string_view list_key, const std::string& path, F&& f) {
  if (string_field(component, "type") != "Sequence") return f(component, path);
  array parts;
  if (auto e = field(component, list_key); !e || e->get_array().get(parts) != simdjson::SUCCESS) {
    return error(bad("tokenizer.json", path + ": Sequence without " + std::string(list_key)));
  }
  size_t i = 0;
  for (element part : parts) {
    object part_object;
    const std::string part_path = path + "." + std::string(list_key) + "[" + std::to_string(i++) + "]";
    if (part.get_object().get(part_object) != simdjson::SUCCESS) {
      return error(bad("tokenizer.json", part_path + " is not an object"));
    }
    LLMP_TRY_VOID(for_each_component(part_object, list_key, part_path, f));
  }
  return ok();
}

bool has_component(const object& root, std::string_view key, std::string_view list_key, std::string_view type) {
  const auto component = object_field(root, key);
  if (!component) return false;
  bool found = false;
  auto visited = for_each_component(*component, list_key, std::string(key), [&](const object& c, const std::string&) {
    found = found || string_field(c, "type") == type;
    return ok();
  });
  return visited && found;
}

struct Reader {
  TokenizerSpec spec;
  std::unordered_map<std::string_view, TokenId> ids;  // piece → id, over spec.tokens
  std::string unk_piece;

  std::optional<TokenId> id_of(std::string_view piece) const {
    const auto it = ids.find(piece);
    if (it == ids.end()) return std::nullopt;
    return it->second;
  }
};

Result<void> read_vocab(const object& model, Reader& r) {
  object vocab;
  if (auto e = field(model, "vocab"); !e || e->get_object().get(vocab) != simdjson::SUCCESS) {
    return error(bad("tokenizer.json", "model.vocab is missing or not an object"));
  }
  r.spec.tokens.reserve(vocab.size());
  for (auto [key, value] : vocab) {
    int64_t id;
    if (value.get_int64().get(id) != simdjson::SUCCESS || id < 0 || id >= INT32_MAX) {
      return error(bad("tokenizer.json", "model.vocab['" + std::string(key) + "'] is not a valid id"));
    }
    const size_t index = static_cast<size_t>(id);
    if (index >= r.spec.tokens.size()) r.spec.tokens.resize(index + 1);
    if (!r.spec.tokens[index].empty()) {
      return error(bad("tokenizer.json", "model.vocab: id " + std::to_string(id) + " is given to both '" +
                                             r.spec.tokens[index] + "' and '" + std::string(key) + "'"));
    }
    if (key.empty()) return error(bad("tokenizer.json", "model.vocab has an empty piece"));
    r.spec.tokens[index] = std::string(key);
  }
  return ok();
}

Result<void> read_added_tokens(const object& root, Reader& r) {
  array added;
  if (auto e = field(root, "added_tokens"); !e) {
    return ok();
  } else if (e->get_array().get(added) != simdjson::SUCCESS) {
    return error(bad("tokenizer.json", "added_tokens is not an array"));
  }
  size_t i = 0;
  for (element entry : added) {
    const std::string where = "added_tokens[" + std::to_string(i++) + "]";
    object token;
    if (entry.get_object().get(token) != simdjson::SUCCESS) return error(bad("tokenizer.json", where + " is not an object"));
    const auto id = int_field(token, "id");
    const std::string_view content = string_field(token, "content");
    if (!id || *id < 0 || *id >= INT32_MAX) return error(bad("tokenizer.json", where + " has no valid id"));
    if (content.empty()) return error(bad("tokenizer.json", where + " has no content"));
    const size_t index = static_cast<size_t>(*id);
    if (index >= r.spec.tokens.size()) {
      r.spec.tokens.resize(index + 1);
      r.spec.token_types.resize(index + 1, TokenType::unused);
    }
    // An added token may take over an id of the model's vocabulary: its content is what that
    // id decodes to.
    r.spec.tokens[index] = std::string(content);
    r.spec.token_types[index] = bool_field(token, "special", false) ? TokenType::control : TokenType::user_defined;
    if (bool_field(token, "lstrip", false)) r.spec.lstrip_tokens.push_back(static_cast<TokenId>(*id));
    if (bool_field(token, "rstrip", false)) r.spec.rstrip_tokens.push_back(static_cast<TokenId>(*id));
    if (bool_field(token, "single_word", false)) {
      return error(bad("tokenizer.json", where + ": single_word added tokens are not supported"));
    }
  }
  return ok();
}

Result<void> read_merges(const object& model, Reader& r) {
  array merges;
  if (auto e = field(model, "merges"); !e) {
    return ok();
  } else if (e->get_array().get(merges) != simdjson::SUCCESS) {
    return error(bad("tokenizer.json", "model.merges is not an array"));
  }
  r.spec.merges.reserve(merges.size());
  size_t i = 0;
  for (element entry : merges) {
    const std::string where = "merges[" + std::to_string(i++) + "]";
    std::string_view text;
    array pair;
    if (entry.get_string().get(text) == simdjson::SUCCESS) {
      // "a b": the older form; a piece never starts with the space, so split at the first one
      // after the first byte.
      const size_t space = text.find(' ', 1);
      if (space == std::string_view::npos) return error(bad("tokenizer.json", where + ": '" + std::string(text) + "' has no space"));
      r.spec.merges.emplace_back(text);
    } else if (entry.get_array().get(pair) == simdjson::SUCCESS && pair.size() == 2) {
      std::string_view left, right;
      if (pair.at(0).get_string().get(left) != simdjson::SUCCESS || pair.at(1).get_string().get(right) != simdjson::SUCCESS) {
        return error(bad("tokenizer.json", where + " is not a pair of strings"));
      }
      if (left.empty() || right.find(' ') != std::string_view::npos || left.find(' ') != std::string_view::npos) {
        return error(bad("tokenizer.json", where + ": ['" + std::string(left) + "', '" + std::string(right) +
                                               "'] has a piece that is empty or holds a space"));
      }
      std::string joined;
      joined.reserve(left.size() + right.size() + 1);
      joined.append(left).append(" ").append(right);
      r.spec.merges.push_back(std::move(joined));
    } else {
      return error(bad("tokenizer.json", where + " is neither \"a b\" nor [\"a\", \"b\"]"));
    }
  }
  return ok();
}

// Byte-level BPE: the pre-tokenizer as a list of split regexes.
Result<void> read_byte_level_pre_tokenizer(const object& root, Reader& r) {
  const auto pre = object_field(root, "pre_tokenizer");
  if (!pre) {
    r.spec.pre_tokenizer = "none";
    return ok();
  }
  bool first = true;
  auto visited = for_each_component(*pre, "pretokenizers", "pre_tokenizer", [&](const object& c, const std::string& path) -> Result<void> {
    const std::string_view type = string_field(c, "type");
    const bool was_first = first;
    first = false;
    if (type == "ByteLevel") {
      if (bool_field(c, "add_prefix_space", true)) {
        // Put before the first split it is on the whole segment; after other splits it would
        // apply to each of their pieces, which no model does.
        if (!was_first) return error(bad("tokenizer.json", path + ": ByteLevel add_prefix_space after other pre-tokenizers is not supported"));
        r.spec.byte_level_prefix_space = true;
      }
      if (bool_field(c, "use_regex", true)) r.spec.pre_tokenizer_regexes.emplace_back(tokenizer::kGpt2SplitRegex);
      return ok();
    }
    if (type == "Split") {
      const std::string_view behavior = string_field(c, "behavior", "Isolated");
      if (behavior != "Isolated") {
        return error(bad("tokenizer.json", path + ": Split behavior '" + std::string(behavior) + "' is not supported"));
      }
      if (bool_field(c, "invert", false)) return error(bad("tokenizer.json", path + ": Split invert is not supported"));
      auto regex = pattern_regex(c, path);
      if (!regex) return error(regex.error());
      r.spec.pre_tokenizer_regexes.push_back(std::move(*regex));
      return ok();
    }
    if (type == "Digits") {
      r.spec.pre_tokenizer_regexes.emplace_back(bool_field(c, "individual_digits", false) ? R"re(\p{N})re" : R"re(\p{N}+)re");
      return ok();
    }
    if (type == "Punctuation") {
      const std::string_view behavior = string_field(c, "behavior", "Isolated");
      if (behavior == "Isolated") {
        r.spec.pre_tokenizer_regexes.emplace_back(kPunctuationClass);
      } else if (behavior == "Contiguous") {
        r.spec.pre_tokenizer_regexes.push_back(std::string(kPunctuationClass) + "+");
      } else {
        return error(bad("tokenizer.json", path + ": Punctuation behavior '" + std::string(behavior) + "' is not supported"));
      }
      return ok();
    }
    return error(bad("tokenizer.json", path + ": pre-tokenizer '" + std::string(type) + "' is not supported for byte-level BPE"));
  });
  if (!visited) return visited;
  if (r.spec.pre_tokenizer_regexes.empty()) r.spec.pre_tokenizer = "none";
  return ok();
}

Result<void> read_byte_level_normalizer(const object& root, Reader& r) {
  const auto normalizer = object_field(root, "normalizer");
  if (!normalizer) return ok();
  return for_each_component(*normalizer, "normalizers", "normalizer", [&](const object& c, const std::string& path) -> Result<void> {
    const std::string_view type = string_field(c, "type");
    if (type == "NFC") {
      r.spec.normalize_nfc = true;
      return ok();
    }
    return error(bad("tokenizer.json", path + ": normalizer '" + std::string(type) + "' is not supported for byte-level BPE"));
  });
}

// SentencePiece-style BPE: where the "▁" prefix comes from.
Result<void> read_sentencepiece_spaces(const object& root, Reader& r) {
  r.spec.add_space_prefix = false;
  bool replaces_spaces = false;
  if (const auto normalizer = object_field(root, "normalizer")) {
    LLMP_TRY_VOID(for_each_component(*normalizer, "normalizers", "normalizer", [&](const object& c, const std::string& path) -> Result<void> {
      const std::string_view type = string_field(c, "type");
      if (type == "Prepend" && string_field(c, "prepend") == kSpaceMark) {
        // Normalizers run on each segment between added tokens.
        r.spec.add_space_prefix = true;
        r.spec.space_prefix_after_added = true;
        return ok();
      }
      if (type == "Replace") {
        auto regex = pattern_regex(c, path);
        if (!regex) return error(regex.error());
        if (*regex == " " && string_field(c, "content") == kSpaceMark) {
          replaces_spaces = true;
          return ok();
        }
      }
      return error(bad("tokenizer.json", path + ": normalizer '" + std::string(type) + "' is not supported for SentencePiece BPE"));
    }));
  }
  if (const auto pre = object_field(root, "pre_tokenizer")) {
    LLMP_TRY_VOID(for_each_component(*pre, "pretokenizers", "pre_tokenizer", [&](const object& c, const std::string& path) -> Result<void> {
      const std::string_view type = string_field(c, "type");
      if (type == "Split" && replaces_spaces) {
        // Gemma: a split on " " after the normalizer has turned every space into "▁" finds nothing.
        auto regex = pattern_regex(c, path);
        if (regex && *regex == " ") return ok();
      }
      if (type != "Metaspace") {
        return error(bad("tokenizer.json", path + ": pre-tokenizer '" + std::string(type) + "' is not supported for SentencePiece BPE"));
      }
      if (string_field(c, "replacement", kSpaceMark) != kSpaceMark) {
        return error(bad("tokenizer.json", path + ": Metaspace replacement other than \"▁\" is not supported"));
      }
      replaces_spaces = true;
      // Metaspace's `split` is not followed: sentencepiece itself merges across "▁" ("▁▁" pieces).
      const std::string_view scheme = string_field(c, "prepend_scheme");
      if (!scheme.empty()) {
        r.spec.add_space_prefix = scheme != "never";
        r.spec.space_prefix_after_added = scheme == "always";
      } else {
        r.spec.add_space_prefix = bool_field(c, "add_prefix_space", true);
        r.spec.space_prefix_after_added = true;
      }
      return ok();
    }));
  }
  if (!replaces_spaces) {
    return error(bad("tokenizer.json", "BPE with byte_fallback but no Metaspace or Replace(\" \", \"▁\") is not supported"));
  }
  return ok();
}

Result<void> read_wordpiece_normalizer(const object& root, Reader& r) {
  r.spec.clean_text = r.spec.handle_chinese_chars = r.spec.lowercase = r.spec.strip_accents = false;
  const auto normalizer = object_field(root, "normalizer");
  if (!normalizer) return ok();
  return for_each_component(*normalizer, "normalizers", "normalizer", [&](const object& c, const std::string& path) -> Result<void> {
    const std::string_view type = string_field(c, "type");
    if (type != "BertNormalizer") {
      return error(bad("tokenizer.json", path + ": normalizer '" + std::string(type) + "' is not supported for WordPiece"));
    }
    r.spec.clean_text = bool_field(c, "clean_text", true);
    r.spec.handle_chinese_chars = bool_field(c, "handle_chinese_chars", true);
    r.spec.lowercase = bool_field(c, "lowercase", true);
    // strip_accents null means "as lowercase".
    r.spec.strip_accents = bool_field(c, "strip_accents", r.spec.lowercase);
    return ok();
  });
}

Result<void> read_wordpiece_pre_tokenizer(const object& root) {
  const auto pre = object_field(root, "pre_tokenizer");
  if (!pre) return error(bad("tokenizer.json", "WordPiece without BertPreTokenizer is not supported"));
  return for_each_component(*pre, "pretokenizers", "pre_tokenizer", [&](const object& c, const std::string& path) -> Result<void> {
    const std::string_view type = string_field(c, "type");
    if (type == "BertPreTokenizer") return ok();
    return error(bad("tokenizer.json", path + ": pre-tokenizer '" + std::string(type) + "' is not supported for WordPiece"));
  });
}

// The id a post-processor names: ["[CLS]", 101] (BertProcessing) or a TemplateProcessing
// special token.
std::optional<TokenId> processor_pair_id(const object& processor, std::string_view key) {
  array pair;
  int64_t id;
  if (auto e = field(processor, key); e && e->get_array().get(pair) == simdjson::SUCCESS && pair.size() == 2 &&
                                      pair.at(1).get_int64().get(id) == simdjson::SUCCESS) {
    return static_cast<TokenId>(id);
  }
  return std::nullopt;
}

Result<void> read_post_processor(const object& root, Reader& r) {
  const auto post = object_field(root, "post_processor");
  if (!post) return ok();
  const bool wordpiece = r.spec.kind == TokenizerKind::wordpiece;
  return for_each_component(*post, "processors", "post_processor", [&](const object& c, const std::string& path) -> Result<void> {
    const std::string_view type = string_field(c, "type");
    if (type == "ByteLevel") return ok();  // offsets only
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      r.spec.cls = processor_pair_id(c, "cls");
      r.spec.sep = processor_pair_id(c, "sep");
      if (!wordpiece) {
        r.spec.bos = r.spec.cls;
        r.spec.eos = r.spec.sep;
      }
      r.spec.add_bos = r.spec.cls.has_value();
      r.spec.add_eos = r.spec.sep.has_value();
      return ok();
    }
    if (type != "TemplateProcessing") {
      return error(bad("tokenizer.json", path + ": post-processor '" + std::string(type) + "' is not supported"));
    }
    array single;
    if (auto e = field(c, "single"); !e || e->get_array().get(single) != simdjson::SUCCESS) {
      return error(bad("tokenizer.json", path + ": TemplateProcessing without single"));
    }
    const auto special_id = [&](element item) -> std::optional<TokenId> {
      object item_object, special;
      std::string_view name;
      if (item.get_object().get(item_object) != simdjson::SUCCESS) return std::nullopt;
      const auto token = object_field(item_object, "SpecialToken");
      if (!token || (name = string_field(*token, "id")).empty()) return std::nullopt;
      // The special_tokens map gives the ids; the piece itself is the fallback.
      if (const auto specials = object_field(c, "special_tokens")) {
        if (const auto entry = object_field(*specials, name)) {
          array ids;
          int64_t id;
          if (auto e = field(*entry, "ids"); e && e->get_array().get(ids) == simdjson::SUCCESS && ids.size() == 1 &&
                                             ids.at(0).get_int64().get(id) == simdjson::SUCCESS) {
            return static_cast<TokenId>(id);
          }
        }
      }
      return r.id_of(name);
    };
    std::vector<element> items;
    for (element item : single) items.push_back(item);
    const std::optional<TokenId> first = !items.empty() ? special_id(items.front()) : std::nullopt;
    const std::optional<TokenId> last = items.size() > 1 ? special_id(items.back()) : std::nullopt;
    r.spec.add_bos = first.has_value();
    r.spec.add_eos = last.has_value();
    if (first) (wordpiece ? r.spec.cls : r.spec.bos) = first;
    if (last) (wordpiece ? r.spec.sep : r.spec.eos) = last;
    return ok();
  });
}

// tokenizer_config.json's "bos_token": "<s>" or {"content": "<s>", ...}.
Result<void> read_config_token(const object& config, std::string_view key, std::optional<TokenId>& role, const Reader& r) {
  const auto e = field(config, key);
  if (!e) return ok();
  std::string_view piece;
  object token;
  if (e->get_string().get(piece) != simdjson::SUCCESS) {
    if (e->get_object().get(token) != simdjson::SUCCESS || (piece = string_field(token, "content")).empty()) {
      return error(bad("tokenizer_config.json", std::string(key) + " is neither a string nor {\"content\": ...}"));
    }
  }
  const auto id = r.id_of(piece);
  if (!id) return error(bad("tokenizer_config.json", std::string(key) + " '" + std::string(piece) + "' is not a token"));
  role = id;
  return ok();
}

Result<void> read_config(std::string_view config_json, Reader& r) {
  if (config_json.find_first_not_of(" \t\r\n") == std::string_view::npos) return ok();
  simdjson::dom::parser parser;
  element root;
  if (auto code = parser.parse(config_json.data(), config_json.size()).get(root); code != simdjson::SUCCESS) {
    return error(bad("tokenizer_config.json", std::string("invalid JSON: ") + simdjson::error_message(code)));
  }
  object config;
  if (root.get_object().get(config) != simdjson::SUCCESS) return error(bad("tokenizer_config.json", "not an object"));
  LLMP_TRY_VOID(read_config_token(config, "bos_token", r.spec.bos, r));
  LLMP_TRY_VOID(read_config_token(config, "eos_token", r.spec.eos, r));
  LLMP_TRY_VOID(read_config_token(config, "unk_token", r.spec.unk, r));
  LLMP_TRY_VOID(read_config_token(config, "pad_token", r.spec.pad, r));
  LLMP_TRY_VOID(read_config_token(config, "sep_token", r.spec.sep, r));
  LLMP_TRY_VOID(read_config_token(config, "cls_token", r.spec.cls, r));
  LLMP_TRY_VOID(read_config_token(config, "mask_token", r.spec.mask, r));
  if (auto e = field(config, "add_bos_token")) {
    if (e->get_bool().get(r.spec.add_bos) != simdjson::SUCCESS) return error(bad("tokenizer_config.json", "add_bos_token is not a boolean"));
  }
  if (auto e = field(config, "add_eos_token")) {
    if (e->get_bool().get(r.spec.add_eos) != simdjson::SUCCESS) return error(bad("tokenizer_config.json", "add_eos_token is not a boolean"));
  }
  return ok();
}

// Tokens that end a turn in the chat formats of the common model families (as llama.cpp looks
// for them), when the vocabulary has them as added tokens.
void find_end_of_generation(Reader& r) {
  static constexpr std::string_view kEndPieces[] = {
      "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
      "<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>", "<|return|>", "<|call|>"};
  if (r.spec.eos) r.spec.eog.push_back(*r.spec.eos);
  for (const std::string_view piece : kEndPieces) {
    const auto id = r.id_of(piece);
    if (!id || r.spec.token_types[static_cast<size_t>(*id)] == TokenType::normal) continue;
    if (std::find(r.spec.eog.begin(), r.spec.eog.end(), *id) == r.spec.eog.end()) r.spec.eog.push_back(*id);
  }
}

}  // namespace

Result<TokenizerSpec> parse_tokenizer_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  simdjson::dom::parser parser;
  element root_element;
  if (auto code = parser.parse(tokenizer_json.data(), tokenizer_json.size()).get(root_element); code != simdjson::SUCCESS) {
    return error(bad("tokenizer.json", std::string("invalid JSON: ") + simdjson::error_message(code)));
  }
  object root;
  if (root_element.get_object().get(root) != simdjson::SUCCESS) return error(bad("tokenizer.json", "not an object"));
  const auto model = object_field(root, "model");
  if (!model) return error(bad("tokenizer.json", "model is missing"));

  std::string_view type = string_field(*model, "type");
  if (type.empty()) {
    // Files from before "type" was written: tell the model by its fields.
    type = field(*model, "merges") ? "BPE" : field(*model, "continuing_subword_prefix") ? "WordPiece" : "";
  }
  Reader r;
  if (type == "BPE") {
    const bool byte_fallback = bool_field(*model, "byte_fallback", false);
    if (byte_fallback || has_component(root, "pre_tokenizer", "pretokenizers", "Metaspace") ||
        has_component(root, "normalizer", "normalizers", "Prepend")) {
      r.spec.kind = TokenizerKind::sentencepiece_bpe;
    } else if (has_component(root, "pre_tokenizer", "pretokenizers", "ByteLevel") ||
               has_component(root, "decoder", "decoders", "ByteLevel")) {
      r.spec.kind = TokenizerKind::byte_level_bpe;
    } else {
      return error(bad("tokenizer.json", "BPE that is neither byte-level nor SentencePiece-style is not supported"));
    }
    if (!string_field(*model, "continuing_subword_prefix").empty() || !string_field(*model, "end_of_word_suffix").empty()) {
      return error(bad("tokenizer.json", "BPE with continuing_subword_prefix or end_of_word_suffix is not supported"));
    }
    r.spec.ignore_merges = bool_field(*model, "ignore_merges", false);
  } else if (type == "WordPiece") {
    r.spec.kind = TokenizerKind::wordpiece;
    r.spec.continuing_prefix = std::string(string_field(*model, "continuing_subword_prefix", "##"));
    if (const auto max_chars = int_field(*model, "max_input_chars_per_word")) {
      r.spec.max_input_chars_per_word = static_cast<int>(std::clamp<int64_t>(*max_chars, 1, INT32_MAX));
    }
  } else {
    return error(bad("tokenizer.json", "unknown model type '" + std::string(type) + "' (BPE and WordPiece are supported)"));
  }

  LLMP_TRY_VOID(read_vocab(*model, r));
  r.spec.token_types.assign(r.spec.tokens.size(), TokenType::normal);
  for (size_t i = 0; i < r.spec.tokens.size(); ++i) {
    if (r.spec.tokens[i].empty()) r.spec.token_types[i] = TokenType::unused;  // a hole in the ids
  }
  LLMP_TRY_VOID(read_added_tokens(root, r));
  r.ids.reserve(r.spec.tokens.size());
  for (size_t i = 0; i < r.spec.tokens.size(); ++i) {
    if (!r.spec.tokens[i].empty()) r.ids.emplace(r.spec.tokens[i], static_cast<TokenId>(i));
  }

  const std::string_view unk = string_field(*model, "unk_token");
  if (!unk.empty()) {
    r.spec.unk = r.id_of(unk);
    if (!r.spec.unk) return error(bad("tokenizer.json", "model.unk_token '" + std::string(unk) + "' is not a token"));
    r.spec.token_types[static_cast<size_t>(*r.spec.unk)] = TokenType::unknown;
  }

  switch (r.spec.kind) {
    case TokenizerKind::byte_level_bpe:
      LLMP_TRY_VOID(read_merges(*model, r));
      LLMP_TRY_VOID(read_byte_level_normalizer(root, r));
      LLMP_TRY_VOID(read_byte_level_pre_tokenizer(root, r));
      break;
    case TokenizerKind::sentencepiece_bpe: {
      LLMP_TRY_VOID(read_merges(*model, r));
      LLMP_TRY_VOID(read_sentencepiece_spaces(root, r));
      // sentencepiece merges by the score of the merged piece. The merges of a converted
      // SentencePiece model list every pair that forms a piece, ordered by that score, so the
      // rank of the first merge making a piece orders pieces the same way.
      r.spec.scores.assign(r.spec.tokens.size(), 0.0f);
      std::vector<bool> scored(r.spec.tokens.size(), false);
      std::string joined;
      for (size_t i = 0; i < r.spec.merges.size(); ++i) {
        const std::string& merge = r.spec.merges[i];
        const size_t space = merge.find(' ', 1);
        joined.assign(merge, 0, space).append(merge, space + 1);
        const auto id = r.id_of(joined);
        if (!id) return error(bad("tokenizer.json", "merges[" + std::to_string(i) + "]: '" + merge + "' makes no token"));
        if (!scored[static_cast<size_t>(*id)]) {
          r.spec.scores[static_cast<size_t>(*id)] = -static_cast<float>(i);
          scored[static_cast<size_t>(*id)] = true;
        }
      }
      // A piece no merge makes is never formed by Hugging Face's BPE; here it gets the lowest
      // score, so it could only form when nothing else can (converted vocabularies have none).
      for (size_t i = 0; i < r.spec.tokens.size(); ++i) {
        if (!scored[i]) r.spec.scores[i] = std::numeric_limits<float>::lowest();
      }
      r.spec.merges.clear();
      if (bool_field(*model, "byte_fallback", false)) {
        for (size_t i = 0; i < r.spec.tokens.size(); ++i) {
          const std::string& piece = r.spec.tokens[i];
          if (r.spec.token_types[i] == TokenType::normal && piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>') {
            r.spec.token_types[i] = TokenType::byte;
          }
        }
      }
      break;
    }
    case TokenizerKind::wordpiece:
      LLMP_TRY_VOID(read_wordpiece_normalizer(root, r));
      LLMP_TRY_VOID(read_wordpiece_pre_tokenizer(root));
      if (const auto decoder = object_field(root, "decoder")) {
        if (string_field(*decoder, "type") == "WordPiece") r.spec.decode_cleanup = bool_field(*decoder, "cleanup", true);
      }
      break;
  }

  LLMP_TRY_VOID(read_post_processor(root, r));
  LLMP_TRY_VOID(read_config(tokenizer_config_json, r));
  find_end_of_generation(r);
  return std::move(r.spec);
}

}  // namespace llmp::engine
