#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "format/safetensors.h"
#include "format/safetensors_writer.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::engine;

TEST_CASE("safetensors round trip") {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add_tensor("a.weight", DType::f16, {2, 3}, [](uint8_t* d) { std::memset(d, 0x3c, 12); });
  w.add_tensor("b", DType::f32, {4}, [](uint8_t* d) {
    const float v[4] = {1, 2, 3, 4};
    std::memcpy(d, v, 16);
  });
  REQUIRE(w.write(dir / "m.safetensors"));
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  REQUIRE(f);
  const Tensor* a = (*f)->tensor("a.weight");
  REQUIRE(a);
  CHECK(a->dtype == DType::f16);
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  const Tensor* b = (*f)->tensor("b");
  REQUIRE(b);
  CHECK(reinterpret_cast<const float*>(b->data)[3] == 4.0f);
  CHECK((*f)->metadata().at("format") == "pt");
}

TEST_CASE("bad safetensors files are named") {
  test::TempDir dir;
  auto write = [&](const std::string& header, size_t data_bytes) {
    std::ofstream out(dir / "x.safetensors", std::ios::binary);
    const uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data_bytes, '\0');
  };
  auto message = [&] {
    auto f = SafetensorsFile::open(dir / "x.safetensors");
    REQUIRE_FALSE(f);
    return f.error().message();
  };
  write(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  CHECK_THAT(message(), Catch::Contains("tensor 't' at byte") && Catch::Contains("past the end"));
  write(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", 16);
  CHECK_THAT(message(), Catch::Contains("needs 16 bytes, data_offsets give 12"));
  write(R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8);
  CHECK_THAT(message(), Catch::Contains("has dtype I64"));
  write(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  CHECK_THAT(message(), Catch::Contains("overlap"));
  write(R"({"t": [)", 0);
  CHECK_THAT(message(), Catch::Contains("JSON header"));
  std::ofstream(dir / "x.safetensors", std::ios::binary) << "abc";
  CHECK_THAT(message(), Catch::Contains("truncated"));
}
