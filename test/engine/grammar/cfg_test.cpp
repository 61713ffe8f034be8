// GBNF grammars (grammar/cfg.h, cfg_recognizer.h, cfg_token_mask.h): the parser's syntax and its
// errors (line, column, byte), what a grammar accepts against std::regex on random regular
// grammars and against a counter on a nested one, and the matcher's masks against the
// definition (each token's bytes tried alone) along random generations over real vocabularies.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "grammar/cfg.h"
#include "grammar/cfg_token_mask.h"
#include "grammar/grammar_matcher.h"
#include "grammar/cfg_recognizer.h"
#include "grammar/output_grammar.h"
#include "grammar/token_vocabulary_index.h"
#include "gbnf_fixtures.h"
#include "mask_definition.h"
#include "llmp/engine/structured_output.h"
#include "test_tokenizers.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::engine::grammar;
using namespace llmp::test;

namespace {

Cfg parse(const std::string& text) {
  auto g = parse_gbnf(text);
  INFO(text << "\n-> " << (g ? std::string("ok") : g.error().message()));
  REQUIRE(g);
  return std::move(*g);
}

std::string parse_error(const std::string& text) {
  auto g = parse_gbnf(text);
  INFO(text);
  REQUIRE_FALSE(g);
  CHECK(g.error().code() == StatusCode::invalid_argument);
  return g.error().message();
}

// The whole text is a sentence of the grammar (fed a byte at a time: accept() takes one
// token, and bounds what one token may push).
bool matches(const Cfg& g, const std::string& text) {
  CfgRecognizer r(g);
  for (const char c : text) {
    if (!r.accept(std::string_view(&c, 1))) return false;
  }
  return r.can_end();
}


}  // namespace

TEST_CASE("gbnf: literals, classes, groups, repetitions and comments", "[grammar][gbnf]") {
  const Cfg g = parse(kJsonGbnf);
  CHECK(matches(g, R"({"a": [1, -2.5e3, "x\u00e9\n", true, null, {}], "b": "é"})"));
  CHECK(matches(g, "{}"));
  CHECK(matches(g, "{\n  \"k\": false\n}"));
  CHECK_FALSE(matches(g, R"({"a": 01})"));
  CHECK_FALSE(matches(g, R"({"a": [1,]})"));
  CHECK_FALSE(matches(g, "[1]"));  // root is an object
  CHECK_FALSE(matches(g, "{\"a\": \"\x01\"}"));

  const Cfg counts = parse("root ::= \"x\"{2} \"-\" [0-9]{1,3} \"-\" \"y\"{2,} \"-\" \"z\"{,2}\n");
  CHECK(matches(counts, "xx-1-yy-"));
  CHECK(matches(counts, "xx-123-yyyy-zz"));
  CHECK_FALSE(matches(counts, "x-1-yy-"));
  CHECK_FALSE(matches(counts, "xx-1234-yy-"));
  CHECK_FALSE(matches(counts, "xx-1-y-"));
  CHECK_FALSE(matches(counts, "xx-1-yy-zzz"));

  // Escapes, ranges beyond ASCII, negation, any character, a literal repeated as a whole.
  const Cfg chars = parse(R"(root ::= "\x41\u00e9\U0001F600\t" [ぁ-ゟ]+ [^a-z\n] . ("ab")+ "\"\\" "\[\]")" "\n");
  CHECK(matches(chars, "Aé😀\tひらがなZ\nababab\"\\[]"));
  CHECK_FALSE(matches(chars, "Aé😀\tひらがなz\nab\"\\[]"));
  CHECK_FALSE(matches(chars, "Aé😀\tひらがなZ\naba\"\\[]"));

  // Rules defined after use, names with dashes and digits, CRLF line ends, alternatives
  // continued after '|' on the next line.
  const Cfg rules = parse("root ::= greet-1 \" \" name\r\ngreet-1 ::= \"hi\" |\n  \"hello\"\r\nname ::= [A-Z] [a-z]*\n");
  CHECK(matches(rules, "hello Ada"));
  CHECK(matches(rules, "hi B"));
  CHECK_FALSE(matches(rules, "hey Ada"));

  // An empty alternative; an empty literal.
  const Cfg empty = parse("root ::= \"\" | \"a\" ( | \"b\")\n");
  CHECK(matches(empty, ""));
  CHECK(matches(empty, "ab"));
  CHECK(matches(empty, "a"));
}

TEST_CASE("gbnf: errors name the line, column and byte, or the rule", "[grammar][gbnf]") {
  CHECK(parse_error("root ::= \"a\"\nfoo = \"b\"\n") == "grammar line 2, column 5 (byte 17): expecting '::=' after the rule name");
  CHECK(parse_error("root ::= (\"a\" \"b\"\n") == "grammar line 1, column 10 (byte 9): unclosed '('");
  CHECK(parse_error("root ::= \"abc\n") == "grammar line 1, column 10 (byte 9): unterminated string literal");
  CHECK(parse_error("root ::= [abc\n") == "grammar line 1, column 10 (byte 9): unterminated character class");
  CHECK(parse_error("root ::= \"\\q\"\n") == "grammar line 1, column 11 (byte 10): unknown escape '\\q'");
  CHECK(parse_error("root ::= \"\\x4\"\n") == "grammar line 1, column 11 (byte 10): '\\x' needs 2 hex digits");
  CHECK(parse_error("root ::= \"\\uD800\"\n") == "grammar line 1, column 11 (byte 10): U+D800 is not a Unicode scalar value");
  CHECK(parse_error("root ::= [z-a]\n") == "grammar line 1, column 14 (byte 13): range U+7A-U+61 is reversed");
  CHECK(parse_error("root ::= [^\\x00-\\U0010FFFF]\n") == "grammar line 1, column 10 (byte 9): the character class matches nothing");
  CHECK(parse_error("root ::= * \"a\"\n") == "grammar line 1, column 10 (byte 9): '*' follows nothing it could repeat");
  CHECK(parse_error("root ::= \"a\"{3,2}\n") == "grammar line 1, column 13 (byte 12): repetition {3,2} has its maximum below its minimum");
  CHECK(parse_error("root ::= \"a\"{20000}\n") == "grammar line 1, column 14 (byte 13): a repetition count above 10000");
  CHECK(parse_error("root ::= \"a\" )\n") == "grammar line 1, column 14 (byte 13): expecting the end of the line, found ')'");
  CHECK(parse_error("root ::= \"\xC3\"\n") == "grammar line 1, column 11 (byte 10): invalid UTF-8");
  CHECK(parse_error("root ::= a\na ::= \"x\"\na ::= \"y\"\n") == "grammar line 3, column 1 (byte 21): rule 'a' is defined twice");
  CHECK(parse_error("root ::= \"a\" value\n") == "grammar line 1, column 14 (byte 13): rule 'value' is used but never defined");
  CHECK(parse_error("item ::= \"a\"\n") == "the grammar has no 'root' rule");
  CHECK(parse_error("root ::= root \"a\" | \"b\"\n").starts_with("rule 'root' is left-recursive"));
  // Left recursion through a rule that can match nothing, and through a group.
  CHECK(parse_error("root ::= e root \"a\" | \"b\"\ne ::= \"\" | \"c\"\n").starts_with("rule 'root' is left-recursive"));
  CHECK(parse_error("root ::= (\"x\"? list) \"a\"\nlist ::= root | \"b\"\n").find("is left-recursive") != std::string::npos);
  // `x*` where x can match nothing would loop without end.
  CHECK(parse_error("root ::= (\"a\"?)* \"b\"\n").find("is left-recursive") != std::string::npos);
  CHECK(parse_error("root ::= \"a\" loop\nloop ::= \"b\" loop\n") ==
        "rule 'loop' can never finish: every alternative refers back to itself without end");
  CHECK(parse_error(std::string(kMaxGbnfBytes + 1, ' ')).starts_with("the grammar is 1048577 bytes"));
  CHECK(parse_error("root ::= " + std::string(100000, '(')) == "grammar line 1, column 266 (byte 265): groups nested more than 256 deep");
  CHECK(parse_error("root ::= \"" + std::string(130, 'a') + "\"{10000}\n").find("expands to more than") != std::string::npos);
}

TEST_CASE("gbnf: random regular grammars accept what std::regex matches", "[grammar][gbnf]") {
  // A random expression written both ways. Alphabet: a, b, c and é (two bytes; in literals
  // only, since std::regex classes see bytes).
  std::mt19937 rng(20261127);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  struct Expr {
    std::string gbnf, regex;
  };
  std::vector<std::string> rule_defs;
  std::function<Expr(int)> gen = [&](int depth) -> Expr {
    const int kind = depth >= 3 ? pick(3) : pick(9);
    switch (kind) {
      case 0: {
        static const char* lits[] = {"a", "b", "ab", "é", "cé", "ba"};
        const std::string s = lits[pick(6)];
        return {"\"" + s + "\"", "(?:" + s + ")"};
      }
      case 1: {
        static const char* classes[] = {"[ab]", "[a-c]", "[c]"};
        const std::string s = classes[pick(3)];
        return {s, s};
      }
      case 2: return {"\"a\"", "a"};
      case 3: {  // sequence
        Expr x = gen(depth + 1), y = gen(depth + 1);
        return {x.gbnf + " " + y.gbnf, x.regex + y.regex};
      }
      case 4: {  // alternatives
        Expr x = gen(depth + 1), y = gen(depth + 1);
        return {"(" + x.gbnf + " | " + y.gbnf + ")", "(?:" + x.regex + "|" + y.regex + ")"};
      }
      case 5: {  // * + ?
        Expr x = gen(depth + 1);
        const char* op = "*+?" + pick(3);
        return {"(" + x.gbnf + ")" + op[0], "(?:" + x.regex + ")" + op[0]};
      }
      case 6: {  // {m,n}
        Expr x = gen(depth + 1);
        const int m = pick(3), n = m + pick(3);
        const std::string counts = pick(4) == 0 ? fmt::format("{{{},}}", m) : fmt::format("{{{},{}}}", m, n);
        return {"(" + x.gbnf + ")" + counts, "(?:" + x.regex + ")" + counts};
      }
      case 7: {  // a named rule
        Expr x = gen(depth + 1);
        const std::string name = fmt::format("r{}", rule_defs.size());
        rule_defs.push_back(name + " ::= " + x.gbnf);
        return {name, "(?:" + x.regex + ")"};
      }
      default: {  // an empty alternative
        Expr x = gen(depth + 1);
        return {"(" + x.gbnf + " | )", "(?:" + x.regex + "|)"};
      }
    }
  };
  // Random texts from the expression's own alphabet, and samples that match.
  static const char* pieces[] = {"a", "b", "c", "é", "ab", "ba"};
  int grammars = 0, compared = 0, matched = 0, refused = 0;
  for (int round = 0; round < 400; ++round) {
    rule_defs.clear();
    const Expr e = gen(0);
    std::string text = "root ::= " + e.gbnf + "\n";
    for (const auto& d : rule_defs) text += d + "\n";
    auto g = parse_gbnf(text);
    if (!g) {
      // Only a repetition of something that can match nothing is refused (llama.cpp too).
      INFO(text << g.error().message());
      CHECK(g.error().message().find("left-recursive") != std::string::npos);
      ++refused;
      continue;
    }
    ++grammars;
    const std::regex re(e.regex, std::regex::ECMAScript);
    for (int i = 0; i < 60; ++i) {
      std::string s;
      const int len = pick(7);
      for (int j = 0; j < len; ++j) s += pieces[pick(6)];
      const bool expected = std::regex_match(s, re);
      INFO(text << "regex " << e.regex << "\ntext '" << s << "'");
      CHECK(matches(*g, s) == expected);
      ++compared;
      matched += expected;
    }
  }
  UNSCOPED_INFO(grammars << " grammars, " << compared << " texts, " << matched << " matching, " << refused << " refused");
  CHECK(grammars > 300);
  CHECK(matched > 1000);
}

TEST_CASE("gbnf: a long chain of rules compiles in linear time", "[grammar][gbnf]") {
  // Each rule needs the next: a pass in rule order learns one rule at a time.
  std::string text = "root ::= r0\n";
  const int n = 25000;  // ~0.8 MB of grammar
  for (int i = 0; i < n; ++i) text += fmt::format("r{} ::= \"x\" r{} | r{}\n", i, i + 1, i + 1);
  text += fmt::format("r{} ::= \"end\"\n", n);
  const auto start = std::chrono::steady_clock::now();
  const Cfg g = parse(text);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(g.rule_names.size() == n + 2);
}

TEST_CASE("gbnf: nesting is context-free, not regular", "[grammar][gbnf]") {
  const Cfg g = parse("root ::= item*\nitem ::= \"(\" item* \")\" | \"x\"\n");
  std::mt19937 rng(7);
  int balanced = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int len = static_cast<int>(rng() % 12);
    for (int j = 0; j < len; ++j) s += "()x"[rng() % 3];
    int depth = 0;
    bool ok = true;
    for (const char c : s) {
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      ok = ok && depth >= 0;
    }
    ok = ok && depth == 0;
    balanced += ok;
    INFO("'" << s << "'");
    CHECK(matches(g, s) == ok);
  }
  CHECK(balanced > 100);
  // Stacks are bounded: far beyond any sane nesting a deeper parse is refused, never a crash,
  // and the text can still be closed.
  CfgRecognizer deep(g);
  int levels = 0;
  while (levels < 1000 && deep.accept("(")) ++levels;
  CHECK(levels > 60);
  CHECK(levels < static_cast<int>(kCfgMaxDepth));
  CHECK(deep.accept(")"));
  CHECK(deep.accept("x"));
}

namespace {

std::shared_ptr<const OutputGrammar> compile(const std::string& text) {
  auto g = compile_gbnf(text);
  INFO(text << (g ? "" : g.error().message()));
  REQUIRE(g);
  return *g;
}

bool bit(const std::vector<uint64_t>& bits, size_t t) {
  return (bits[t / 64] >> (t % 64)) & 1;
}

}  // namespace

TEST_CASE("gbnf matcher: masks equal the tokens the state accepts; generations end in sentences", "[grammar][gbnf]") {
  const std::vector<std::string> grammars = {
      kJsonGbnf,
      "root ::= (\"- \" item \"\\n\"){1,3}\nitem ::= [a-z]+ (\" \" [a-z]+)?\n",
      "root ::= \"Answer: \" (\"yes\" | \"no\" | [0-9]{1,4}) \".\"\n",
      "root ::= \"(\" inner \")\"\ninner ::= ([a-c] | \"(\" inner \")\")*\n",
      "root ::= [^\\x00-\\x7F]{1,6} \"!\"\n",  // non-ASCII only: tokens split inside characters
      "root ::= \"é\"+ | \"ß\" \"ü\"?\n",
      // Text bounded by count, then a tail; and bounded runs inside a loop.
      "root ::= \"<\" [^<>\\x00-\\x1F]{0,9} \">\" [a-z ]{2,5}\n",
      "root ::= ([^\\n]{0,4} \"\\n\"){1,3}\n",
      member_gbnf(),
  };
  for (const Tokenizer* tok : {&small_tokenizer(), &sentencepiece_tokenizer()}) {
    const auto vocab = index_vocabulary(*tok);
    for (size_t gi = 0; gi < grammars.size(); ++gi) {
      const auto grammar = compile(grammars[gi]);
      std::mt19937 rng(static_cast<unsigned>(gi * 31 + 5));
      int completed = 0;
      for (int run = 0; run < 6; ++run) {
        CfgGrammarMatcher matcher(grammar, vocab);
        std::string text;
        std::vector<uint64_t> bits(token_mask_words(vocab->vocab_size()));
        for (int step = 0; step < 48 && !matcher.is_complete(); ++step) {
          matcher.fill_mask(bits);
          INFO("grammar " << gi << " run " << run << " step " << step << " text '" << text << "'");
          REQUIRE(bits == mask_by_definition(matcher.recognizer(), *vocab));
          std::vector<TokenId> allowed;
          for (size_t t = 0; t < vocab->vocab_size(); ++t) {
            if (bit(bits, t)) allowed.push_back(static_cast<TokenId>(t));
          }
          REQUIRE_FALSE(allowed.empty());  // never a dead end
          // Prefer ending once possible half the time, so runs finish.
          TokenId t = allowed[rng() % allowed.size()];
          if (matcher.can_end() && rng() % 2 == 0) t = vocab->end_tokens()[0];
          REQUIRE(matcher.accept(t));
          if (vocab->is_end(t)) break;
          text += vocab->bytes(t);
        }
        if (matcher.can_end()) {
          ++completed;
          CHECK(matches(*grammar->cfg(), text));
        }
        // A token the mask refuses is refused, the state unchanged.
        matcher.fill_mask(bits);
        for (size_t t = 0; t < vocab->vocab_size(); ++t) {
          if (!bit(bits, t) && !matcher.is_complete()) {
            CHECK_FALSE(matcher.accept(static_cast<TokenId>(t)));
            break;
          }
        }
      }
      // (Random tokens seldom close a JSON object within the steps: those may not finish.)
      INFO("grammar " << gi << ", vocabulary of " << vocab->vocab_size());
      if (gi != 0 && grammars[gi] != member_gbnf()) CHECK(completed > 0);
    }
  }
}

TEST_CASE("gbnf: mutated grammars parse or are refused, and what parses runs", "[grammar][gbnf]") {
  const std::vector<std::string> seeds = {
      kJsonGbnf,
      "root ::= (\"- \" item \"\\n\"){1,3}\nitem ::= [a-z]+ (\" \" [a-z]+)?\n",
      "root ::= \"(\" inner \")\"\ninner ::= ([a-c] | \"(\" inner \")\")*\n",
      "root ::= [^\\x00-\\x7F]{1,6} \"!\" | \"\\u00e9\"+ . # comment\n",
  };
  const std::string alphabet = "\"[]()|*+?{},-^\\.:= \n#axz09\xC3\xA9";
  std::mt19937 rng(99);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[rng() % seeds.size()];
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0 && !text.empty(); --edits) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        default: text.erase(at, 1 + rng() % 3); break;
      }
    }
    auto g = parse_gbnf(text);
    if (!g) {
      INFO(text);
      CHECK(g.error().code() == StatusCode::invalid_argument);
      continue;
    }
    ++parsed;
    CfgRecognizer r(*g);
    for (int j = 0; j < 24; ++j) {
      const char c = alphabet[rng() % alphabet.size()];
      r.accept(std::string_view(&c, 1));
    }
    (void)r.can_end();
  }
  CHECK(parsed > 2000);
}
