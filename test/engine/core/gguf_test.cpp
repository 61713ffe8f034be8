#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/loaded_model.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::engine;

namespace {

std::string small_gguf(const test::TempDir& dir) {
  GgufWriter w;
  w.add_metadata("general.architecture", std::string("llama"));
  w.add_metadata("test.u32", uint32_t{7});
  w.add_metadata("test.f32", 0.5f);
  w.add_metadata("test.flag", true);
  w.add_metadata("test.names", std::vector<std::string>{"a", "bc", ""});
  w.add_metadata("test.ints", std::vector<int32_t>{1, -2, 3});
  w.add_tensor("w", DType::f32, {3, 4}, [](uint8_t* dst) {
    float v[12];
    for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
    std::memcpy(dst, v, sizeof v);
  });
  w.add_tensor("q", DType::q8_0, {2, 64}, [](uint8_t* dst) { std::memset(dst, 1, 2 * 2 * 34); });
  const std::string path = dir / "small.gguf";
  REQUIRE(w.write(path));
  return path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST_CASE("GGUF written by us reads back: metadata and tensors") {
  test::TempDir dir;
  auto f = GgufFile::open(small_gguf(dir));
  REQUIRE(f);
  CHECK((*f)->version() == 3);
  CHECK(*(*f)->get_string("general.architecture") == "llama");
  CHECK(*(*f)->get_int("test.u32") == 7);
  CHECK(*(*f)->get_float("test.f32") == 0.5);
  CHECK(*(*f)->get_bool("test.flag"));
  CHECK(*(*f)->get_string_array("test.names") == std::vector<std::string_view>{"a", "bc", ""});
  CHECK(*(*f)->get_int_array("test.ints") == std::vector<int64_t>{1, -2, 3});
  const Tensor* w = (*f)->tensor("w");
  REQUIRE(w);
  CHECK(w->shape == std::vector<int64_t>{3, 4});
  CHECK(reinterpret_cast<const float*>(w->data)[11] == 11.0f);
  CHECK(reinterpret_cast<uintptr_t>(w->data) % 32 == 0);
  const Tensor* q = (*f)->tensor("q");
  REQUIRE(q);
  CHECK(q->dtype == DType::q8_0);
  CHECK(q->bytes == 2 * 2 * 34);
  auto wrong = (*f)->get_int("general.architecture");
  REQUIRE_FALSE(wrong);
  CHECK_THAT(wrong.error().message(), Catch::Contains("'general.architecture' is string, expected an integer"));
  auto missing = (*f)->get_string("nope");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("'nope' is missing"));
}

TEST_CASE("every truncation of a GGUF file is an error naming the offset, never a crash") {
  test::TempDir dir;
  const std::string full = small_gguf(dir);
  const std::string bytes = read_all(full);
  // The padding after the last tensor may go: cut anywhere before the end of its data.
  size_t data_end = 0;
  {
    auto f = GgufFile::open(full);
    REQUIRE(f);
    for (const auto& t : (*f)->tensors()) {
      data_end = std::max(data_end, static_cast<size_t>(t.data - (*f)->file()->data()) + t.bytes);
    }
  }
  const std::string path = dir / "cut.gguf";
  for (size_t cut = 0; cut < data_end; ++cut) {
    write_all(path, bytes.substr(0, cut));
    auto f = GgufFile::open(path);
    INFO("cut at " << cut);
    REQUIRE_FALSE(f);
    const std::string& m = f.error().message();
    const bool named = m.find("truncated") != std::string::npos || m.find("not a GGUF") != std::string::npos ||
                       m.find("run past the end") != std::string::npos;
    CHECK(named);
  }
}

TEST_CASE("corrupt GGUF headers are named") {
  test::TempDir dir;
  const std::string good = read_all(small_gguf(dir));
  const std::string path = dir / "bad.gguf";
  auto open_with = [&](std::string bytes) {
    write_all(path, bytes);
    auto f = GgufFile::open(path);
    REQUIRE_FALSE(f);
    return f.error().message();
  };
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  CHECK_THAT(open_with(bad_magic), Catch::Contains("not a GGUF file"));
  std::string bad_version = good;
  bad_version[4] = 9;
  CHECK_THAT(open_with(bad_version), Catch::Contains("GGUF version 9 is not supported"));
  std::string huge_count = good;
  const uint64_t n = 1ull << 40;
  std::memcpy(huge_count.data() + 8, &n, 8);
  CHECK_THAT(open_with(huge_count), Catch::Contains("claims"));
  // A string length far past the file.
  std::string bad_len = good;
  const uint64_t len = 1ull << 28;
  std::memcpy(bad_len.data() + 24, &len, 8);
  CHECK_THAT(open_with(bad_len), Catch::Contains("truncated"));
}

TEST_CASE("a tensor of a type we do not load is named") {
  test::TempDir dir;
  std::string bytes = read_all(small_gguf(dir));
  // Find tensor "q"'s info (name then dims then type) and set its type to IQ3_S (21).
  const size_t at = bytes.find(std::string("\x01\x00\x00\x00\x00\x00\x00\x00q", 9));
  REQUIRE(at != std::string::npos);
  const size_t type_at = at + 9 + 4 + 2 * 8;
  const uint32_t iq3_s = 21;
  std::memcpy(bytes.data() + type_at, &iq3_s, 4);
  write_all(dir / "t.gguf", bytes);
  auto f = GgufFile::open(dir / "t.gguf");
  REQUIRE_FALSE(f);
  CHECK_THAT(f.error().message(), Catch::Contains("tensor 'q' has type iq3_s"));
}

TEST_CASE("a tokenizer flag of the wrong type names its key") {
  test::TempDir dir;
  GgufWriter w;
  w.add_metadata("tokenizer.ggml.model", std::string("gpt2"));
  w.add_metadata("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b"});
  w.add_metadata("tokenizer.ggml.merges", std::vector<std::string>{"a b"});
  w.add_metadata("tokenizer.ggml.add_bos_token", std::string("yes"));
  const std::string path = dir / "flags.gguf";
  REQUIRE(w.write(path));
  auto f = GgufFile::open(path);
  REQUIRE(f);
  auto spec = tokenizer_spec_from_gguf(**f);
  REQUIRE_FALSE(spec);
  CHECK_THAT(spec.error().message(), Catch::Contains("tokenizer.ggml.add_bos_token") && Catch::Contains("a bool"));
}
