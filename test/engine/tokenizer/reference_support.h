#pragma once
// Helpers for the tokenizer tests: fixture files, running the reference programs (node with
// test/node's packages, Debian's /usr/bin/python3) and reading what they print.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/engine/tokenizer.h"

namespace llmp::test {

//! The repository's root (LLMP_SOURCE_DIR).
std::string source_dir();
//! test/fixtures/tokenizer/<name>.
std::string fixture_path(std::string_view name);

//! The whole file; fails the test when it cannot be read.
std::string read_file(const std::string& path);

//! Runs `command` with /bin/sh (stderr passes through); returns its exit status and fills
//! `output` with its stdout.
int run_command(const std::string& command, std::string& output);

//! Runs a reference program and returns its stdout; fails the test, saying what to install,
//! when the program or its packages are missing or it fails.
std::string run_node_reference(const std::string& script_and_args);
std::string run_python_reference(const std::string& script_and_args);

//! `text` cut at "\n" (the newlines not kept); a final empty line is dropped.
std::vector<std::string> split_lines(std::string_view text);

//! Space-separated integers.
std::vector<engine::TokenId> parse_ids(std::string_view text);

//! Hex digits → bytes.
std::string from_hex(std::string_view hex);

//! make_tokenizer(spec); fails the test with its message when it refuses the spec.
std::unique_ptr<engine::Tokenizer> build(engine::TokenizerSpec spec);

//! The pieces (the tokens' text) of `ids`, or of what `text` encodes to.
std::vector<std::string> pieces_of(const engine::Tokenizer& t, const std::vector<engine::TokenId>& ids);
std::vector<std::string> pieces_of(const engine::Tokenizer& t, std::string_view text, bool add_special = false);

//! GPT-2's byte → character table (its 256 single-byte pieces, by byte), as UTF-8, written out
//! here independently of the engine's.
const std::vector<std::string>& gpt2_byte_pieces();

//! A fresh, empty directory under the system's temporary directory.
std::string make_temp_dir(std::string_view name);

//! The ids a reference printed for one text file: "L ids" per line ("L SKIP" for a line it
//! could not take), "W ids" for the whole file.
struct ReferenceIds {
  std::vector<std::optional<std::vector<engine::TokenId>>> lines;
  std::optional<std::vector<engine::TokenId>> whole;
};
//! The "F"/"L"/"W" blocks of a reference's output, one per file, in order.
std::vector<ReferenceIds> parse_reference_ids(std::string_view output);

//! Compares `tokenizer` with a reference on a file's lines and the whole file; fails the test
//! on any difference (showing the first few), and checks that decode() gives the text back.
//! Returns the number of tokens compared.
size_t compare_with_reference(const engine::Tokenizer& tokenizer, const std::string& text, const ReferenceIds& reference,
                              std::string_view name);

//! encode(text) timed: the first call on a fresh tokenizer (its word cache cold), and the best
//! average over batches of later calls (less disturbed by other work on the machine), in us.
struct EncodeTiming {
  double first_us;
  double steady_us;
};
EncodeTiming time_encode(const engine::Tokenizer& tokenizer, const std::string& text);
//! "encode of N bytes: first X us, then Y us".
std::string describe_encode_timing(const engine::Tokenizer& tokenizer, const std::string& text);

}  // namespace llmp::test
