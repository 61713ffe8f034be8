// Byte-level BPE against real vocabularies and independent implementations (node packages):
// Llama 3 (llama3-tokenizer-js, through a tokenizer.json it writes) and tiktoken's cl100k_base
// and o200k_base (gpt-tokenizer, its rank tables turned into tokens and merges here).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <iostream>
#include <unordered_map>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;
using namespace llmp::test;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// `bytes` in GPT-2's byte-level spelling.
std::string byte_level_piece(std::string_view bytes) {
  std::string piece;
  for (const char c : bytes) piece += gpt2_byte_pieces()[static_cast<unsigned char>(c)];
  return piece;
}

// A tiktoken rank table as tokens and merges, the way Hugging Face converts one: every split of
// a token into two tokens is a merge, ranked by the token it makes (then by its parts' ranks).
TokenizerSpec spec_from_tiktoken(std::string_view output, std::string preset) {
  std::vector<std::string> ranks;
  std::vector<std::pair<TokenId, std::string>> specials;
  for (const std::string& line : split_lines(output)) {
    if (line == "R") {
      ranks.emplace_back();
    } else if (line.starts_with("R ")) {
      ranks.push_back(from_hex(std::string_view(line).substr(2)));
    } else if (line.starts_with("S ")) {
      const size_t space = line.find(' ', 2);
      specials.emplace_back(std::stoi(line.substr(2, space - 2)), from_hex(std::string_view(line).substr(space + 1)));
    }
  }
  TokenizerSpec spec;
  spec.kind = TokenizerKind::byte_level_bpe;
  spec.pre_tokenizer = std::move(preset);
  spec.ignore_merges = true;  // tiktoken takes a pre-token that is a token as it is
  std::unordered_map<std::string, TokenId> rank_of;
  rank_of.reserve(ranks.size());
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (!ranks[i].empty()) rank_of.emplace(ranks[i], static_cast<TokenId>(i));
  }
  size_t vocab_size = ranks.size();
  for (const auto& [id, text] : specials) vocab_size = std::max(vocab_size, static_cast<size_t>(id) + 1);
  spec.tokens.resize(vocab_size);
  spec.token_types.assign(vocab_size, TokenType::unused);
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i].empty()) continue;
    spec.tokens[i] = byte_level_piece(ranks[i]);
    spec.token_types[i] = TokenType::normal;
  }
  for (const auto& [id, text] : specials) {
    spec.tokens[static_cast<size_t>(id)] = text;
    spec.token_types[static_cast<size_t>(id)] = TokenType::control;
  }
  std::vector<std::pair<TokenId, TokenId>> splits;
  for (size_t rank = 0; rank < ranks.size(); ++rank) {
    const std::string& token = ranks[rank];
    splits.clear();
    for (size_t i = 1; i < token.size(); ++i) {
      const auto left = rank_of.find(token.substr(0, i));
      const auto right = rank_of.find(token.substr(i));
      if (left != rank_of.end() && right != rank_of.end()) splits.emplace_back(left->second, right->second);
    }
    std::sort(splits.begin(), splits.end());
    for (const auto& [left, right] : splits) {
      spec.merges.push_back(spec.tokens[static_cast<size_t>(left)] + " " + spec.tokens[static_cast<size_t>(right)]);
    }
  }
  return spec;
}

// About 10 KB of varied text: the corpus, repeated.
std::string ten_kilobytes(const std::string& corpus) {
  std::string text;
  while (text.size() < 10 * 1024) text += corpus;
  return text;
}

void check_streaming(const Tokenizer& tokenizer, const std::string& text) {
  const std::vector<TokenId> ids = tokenizer.encode(text, false);
  IncrementalDetokenizer stream(tokenizer, false);
  std::string streamed;
  for (const TokenId id : ids) streamed += stream.push(id);
  streamed += stream.finish();
  CHECK(streamed == tokenizer.decode(ids, false));
}

void check_tiktoken_encoding(const std::string& encoding, const std::string& preset) {
  const std::string corpus_path = fixture_path("corpus.txt"), invalid_path = fixture_path("invalid_utf8.txt");
  const std::string output =
      run_node_reference("gpt_tokenizer_reference.mjs " + encoding + " '" + corpus_path + "' '" + invalid_path + "'");
  TokenizerSpec spec = spec_from_tiktoken(output, preset);
  INFO(encoding << ": " << spec.tokens.size() << " tokens, " << spec.merges.size() << " merges");
  const auto start = Clock::now();
  auto tokenizer = make_tokenizer(std::move(spec));
  const double build_ms = ms_since(start);
  REQUIRE(tokenizer.has_value());
  const auto reference = parse_reference_ids(output);
  REQUIRE(reference.size() == 2);
  const std::string corpus = read_file(corpus_path);
  compare_with_reference(**tokenizer, corpus, reference[0], encoding);
  compare_with_reference(**tokenizer, read_file(invalid_path), reference[1], encoding + " (invalid_utf8.txt)");
  check_streaming(**tokenizer, corpus);
  const std::string text = ten_kilobytes(corpus);
  std::cerr << "[" << encoding << "] make_tokenizer " << build_ms << " ms (" << (*tokenizer)->vocab_size()
            << " tokens); " << describe_encode_timing(**tokenizer, text) << "\n";
}

}  // namespace

TEST_CASE("byte-level BPE matches tiktoken's cl100k_base (gpt-tokenizer)", "[reference][byte_level]") {
  check_tiktoken_encoding("cl100k_base", "cl100k");
}

TEST_CASE("byte-level BPE matches tiktoken's o200k_base (gpt-tokenizer)", "[reference][byte_level]") {
  check_tiktoken_encoding("o200k_base", "o200k");
}

TEST_CASE("byte-level BPE matches Llama 3 (llama3-tokenizer-js), from a tokenizer.json", "[reference][byte_level]") {
  const std::string dir = make_temp_dir("llama3");
  const std::string json_path = dir + "/tokenizer.json";
  const std::string corpus_path = fixture_path("corpus.txt"), invalid_path = fixture_path("invalid_utf8.txt");
  const std::string output =
      run_node_reference("llama3_reference.mjs '" + json_path + "' '" + corpus_path + "' '" + invalid_path + "'");
  const std::string json = read_file(json_path);
  const std::string config = R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})";

  const auto start = Clock::now();
  auto spec = parse_tokenizer_json(json, config);
  const double parse_ms = ms_since(start);
  REQUIRE(spec.has_value());
  CHECK(spec->kind == TokenizerKind::byte_level_bpe);
  CHECK(spec->ignore_merges);
  CHECK(spec->add_bos);
  REQUIRE(spec->pre_tokenizer_regexes.size() == 1);
  const auto build_start = Clock::now();
  auto tokenizer = make_tokenizer(*spec);
  const double build_ms = ms_since(build_start);
  REQUIRE(tokenizer.has_value());
  const Tokenizer& t = **tokenizer;
  CHECK(t.vocab_size() == 128256);
  CHECK(t.spec().bos == 128000);
  CHECK(t.spec().eos == 128009);
  CHECK(t.is_end_of_generation(128009));
  CHECK(t.is_end_of_generation(*t.find("<|eom_id|>")));
  CHECK(t.encode("Hi", true).front() == 128000);

  const auto reference = parse_reference_ids(output);
  REQUIRE(reference.size() == 2);
  const std::string corpus = read_file(corpus_path);
  compare_with_reference(t, corpus, reference[0], "llama3 tokenizer.json");
  compare_with_reference(t, read_file(invalid_path), reference[1], "llama3 (invalid_utf8.txt)");
  check_streaming(t, corpus);

  // The named preset (as a GGUF gives it) must split the same way as the file's regex.
  TokenizerSpec preset_spec = *spec;
  preset_spec.pre_tokenizer_regexes.clear();
  preset_spec.pre_tokenizer = "llama-bpe";
  auto preset_tokenizer = make_tokenizer(std::move(preset_spec));
  REQUIRE(preset_tokenizer.has_value());
  compare_with_reference(**preset_tokenizer, corpus, reference[0], "llama3 preset 'llama-bpe'");

  // Special tokens in text, bos/eos.
  const TokenId eot = *t.find("<|eot_id|>");
  const std::vector<TokenId> chat = t.encode("<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>", true);
  CHECK(chat.front() == 128000);
  CHECK(chat.back() == eot);
  CHECK(t.decode(chat, true) == "user\n\nHi!");

  const std::string text = ten_kilobytes(corpus);
  std::cerr << "[llama3] parse_tokenizer_json " << parse_ms << " ms (" << json.size() / 1024 << " KiB), make_tokenizer "
            << build_ms << " ms; " << describe_encode_timing(t, text) << "\n";
  std::filesystem::remove_all(dir);
}

