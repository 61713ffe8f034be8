#include "engine/tokenizer/reference_support.h"

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <sys/wait.h>

namespace llmp::test {

std::string source_dir() {
  return LLMP_SOURCE_DIR;
}

std::string fixture_path(std::string_view name) {
  return source_dir() + "/test/fixtures/tokenizer/" + std::string(name);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot read " << path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 1 << 16> chunk;
  size_t n;
  while ((n = fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string run_node_reference(const std::string& script_and_args) {
  std::string output;
  if (run_command("command -v node >/dev/null 2>&1", output) != 0) {
    FAIL("node is missing: the tokenizer reference tests need it (scripts/install-deps.sh --test installs it)");
  }
  const std::string node_dir = source_dir() + "/test/node";
  if (!std::filesystem::exists(node_dir + "/node_modules/gpt-tokenizer") ||
      !std::filesystem::exists(node_dir + "/node_modules/llama3-tokenizer-js")) {
    FAIL("test/node/node_modules is missing: run `npm ci --prefix test/node` (scripts/install-deps.sh --test does)");
  }
  const int rc = run_command("cd '" + node_dir + "' && node " + script_and_args, output);
  if (rc != 0) FAIL("node " << script_and_args << " failed with exit status " << rc);
  return output;
}

std::string run_python_reference(const std::string& script_and_args) {
  std::string output;
  // Debian's interpreter, with Debian's python3-sentencepiece; not whatever python3 is first on
  // PATH.
  if (run_command("/usr/bin/python3 -c 'import sentencepiece, unicodedata' 2>&1", output) != 0) {
    FAIL("/usr/bin/python3 with sentencepiece is missing: install python3-sentencepiece "
         "(scripts/install-deps.sh --test does): "
         << output);
  }
  const int rc = run_command("/usr/bin/python3 " + script_and_args, output);
  if (rc != 0) FAIL("/usr/bin/python3 " << script_and_args << " failed with exit status " << rc);
  return output;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      lines.emplace_back(text.substr(pos));
      break;
    }
    lines.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

std::vector<engine::TokenId> parse_ids(std::string_view text) {
  std::vector<engine::TokenId> ids;
  std::istringstream in{std::string(text)};
  long long v;
  while (in >> v) ids.push_back(static_cast<engine::TokenId>(v));
  return ids;
}

std::unique_ptr<engine::Tokenizer> build(engine::TokenizerSpec spec) {
  auto tokenizer = engine::make_tokenizer(std::move(spec));
  if (!tokenizer) FAIL(tokenizer.error().message());
  return std::move(*tokenizer);
}

std::vector<std::string> pieces_of(const engine::Tokenizer& t, const std::vector<engine::TokenId>& ids) {
  std::vector<std::string> pieces;
  for (const engine::TokenId id : ids) pieces.push_back(t.spec().tokens[static_cast<size_t>(id)]);
  return pieces;
}

std::vector<std::string> pieces_of(const engine::Tokenizer& t, std::string_view text, bool add_special) {
  return pieces_of(t, t.encode(text, add_special));
}

const std::vector<std::string>& gpt2_byte_pieces() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const int cp = printable ? b : next++;  // below 0x800: one or two bytes
      std::string s;
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      t[static_cast<size_t>(b)] = s;
    }
    return t;
  }();
  return table;
}

std::string from_hex(std::string_view hex) {
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  const auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  return bytes;
}

std::string make_temp_dir(std::string_view name) {
  std::random_device random;
  const auto dir =
      std::filesystem::temp_directory_path() / ("llmp-" + std::string(name) + "-" + std::to_string(random()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::vector<ReferenceIds> parse_reference_ids(std::string_view output) {
  std::vector<ReferenceIds> files;
  for (const std::string& line : split_lines(output)) {
    if (line.starts_with("F ")) {
      files.emplace_back();
    } else if (line.starts_with("L") && !files.empty()) {
      const std::string_view rest = std::string_view(line).substr(1);
      if (rest == " SKIP") {
        files.back().lines.emplace_back(std::nullopt);
      } else {
        files.back().lines.emplace_back(parse_ids(rest));
      }
    } else if (line.starts_with("W") && !files.empty()) {
      const std::string_view rest = std::string_view(line).substr(1);
      if (rest != " SKIP") files.back().whole = parse_ids(rest);
    }
  }
  return files;
}

namespace {

std::string show_ids(const std::vector<engine::TokenId>& ids) {
  std::string s;
  for (const engine::TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

}  // namespace

size_t compare_with_reference(const engine::Tokenizer& tokenizer, const std::string& text, const ReferenceIds& reference,
                              std::string_view name) {
  const std::vector<std::string> lines = split_lines(text);
  REQUIRE(reference.lines.size() == lines.size());
  size_t tokens = 0, compared_lines = 0, round_trip_only = 0, mismatches = 0, round_trip_failures = 0;
  const auto compare = [&](const std::string& input, const std::vector<engine::TokenId>& expected, std::string_view where) {
    const std::vector<engine::TokenId> ids = tokenizer.encode(input, false);
    tokens += expected.size();
    if (ids != expected) {
      ++mismatches;
      if (mismatches <= 5) {
        UNSCOPED_INFO(name << " " << where << ": '" << input << "'\n  ours:      " << show_ids(ids)
                           << "\n  reference: " << show_ids(expected));
      }
    }
    if (tokenizer.decode(ids, false) != input) ++round_trip_failures;
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!reference.lines[i]) {
      // The reference could not take the line (not UTF-8); ours must still give it back.
      if (tokenizer.decode(tokenizer.encode(lines[i], false), false) != lines[i]) ++round_trip_failures;
      ++round_trip_only;
      continue;
    }
    ++compared_lines;
    compare(lines[i], *reference.lines[i], "line " + std::to_string(i + 1));
  }
  if (reference.whole) compare(text, *reference.whole, "whole text");
  std::cerr << "[" << name << "] " << compared_lines << " lines" << (reference.whole ? " + the whole text" : "") << ", "
            << tokens << " tokens compared, " << mismatches << " mismatches";
  if (round_trip_only > 0) std::cerr << "; " << round_trip_only << " lines that are not UTF-8: round trip only";
  std::cerr << "\n";
  CHECK(mismatches == 0);
  CHECK(round_trip_failures == 0);
  return tokens;
}

EncodeTiming time_encode(const engine::Tokenizer& tokenizer, const std::string& text) {
  using clock = std::chrono::steady_clock;
  const auto micros = [](clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  auto start = clock::now();
  size_t sink = tokenizer.encode(text, false).size();
  const double first = micros(clock::now() - start);
  double best = first;
  for (int batch = 0; batch < 10; ++batch) {
    constexpr int kRuns = 10;
    start = clock::now();
    for (int i = 0; i < kRuns; ++i) sink += tokenizer.encode(text, false).size();
    best = std::min(best, micros(clock::now() - start) / kRuns);
  }
  REQUIRE(sink > 0);
  return {first, best};
}

std::string describe_encode_timing(const engine::Tokenizer& tokenizer, const std::string& text) {
  const EncodeTiming timing = time_encode(tokenizer, text);
  std::ostringstream out;
  out.precision(0);
  out << std::fixed << "encode of " << text.size() << " bytes: first " << timing.first_us << " us, then " << timing.steady_us
      << " us";
  return out.str();
}

}  // namespace llmp::test
