// The model repository on real files: test models imported by copy and by hard link, read
// back, re-hashed, damaged, signed, and removed.

#include "llmp/registry/repository.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ed25519_signer.h"
#include "llmp/engine/model_info.h"
#include "llmp/engine/test_model.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::registry;
namespace fs = std::filesystem;

namespace {

std::string make_model(const test::TempDir& dir, const std::string& name, const std::string& format = "gguf",
                       const std::string& dtype = "f32") {
  engine::TestModelSpec spec;
  spec.format = format;
  spec.dtype = dtype;
  spec.out = dir / name;
  auto r = engine::create_test_model(spec);
  INFO((r ? std::string() : r.error().message()));
  REQUIRE(r);
  return spec.out;
}

std::unique_ptr<ModelRepository> open_repo(const std::string& root, ModelRepository::Options options = {}) {
  options.root = root;
  auto repo = ModelRepository::open(std::move(options));
  INFO((repo ? std::string() : repo.error().message()));
  REQUIRE(repo);
  return std::move(*repo);
}

ModelRepository::ImportRequest request(const std::string& source, const std::string& version = "1") {
  ModelRepository::ImportRequest r;
  r.source = source;
  r.org = "acme";
  r.model = "tiny";
  r.version = version;
  return r;
}

Manifest import_ok(ModelRepository& repo, const ModelRepository::ImportRequest& req) {
  auto m = repo.import_model(req);
  INFO((m ? std::string() : m.error().message()));
  REQUIRE(m);
  return *m;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Flips one byte in the middle of a file (the weights, not the header).
void flip_byte(const std::string& path) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  const auto size = fs::file_size(path);
  f.seekg(static_cast<std::streamoff>(size / 2));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(size / 2));
  f.write(&c, 1);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a gguf model imports by copy and reads back from get and list") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  const Manifest m = import_ok(*repo, request(model));

  CHECK(m.ref() == "acme/tiny:1");
  CHECK(m.format == "gguf");
  CHECK(m.architecture == "llama");
  CHECK(m.dtype == "f32");
  CHECK(m.mode == "copy");
  CHECK(m.source == model);
  CHECK(m.created_at_ms > 0);
  REQUIRE(m.files.size() == 1);
  CHECK(m.files[0].path == "tiny.gguf");
  CHECK(m.files[0].size == fs::file_size(model));
  CHECK(m.files[0].sha256.size() == 64);
  CHECK(m.spec.parameters > 0);
  CHECK(m.spec.precision == "f32");
  CHECK(m.spec.context_length == 2048);
  CHECK(m.spec.memory_bytes > m.files[0].size);
  CHECK(m.spec.device.kind == "cpu");

  const std::string version_dir = dir / "models/acme/tiny/1";
  CHECK(fs::exists(version_dir + "/manifest.json"));
  CHECK(read_all(version_dir + "/tiny.gguf") == read_all(model));
  // A copy: the source can change without touching the version.
  struct stat st {};
  REQUIRE(::stat((version_dir + "/tiny.gguf").c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);

  auto got = repo->get("acme", "tiny", "1");
  REQUIRE(got);
  CHECK(manifest_json(*got) == manifest_json(m));
  auto listed = repo->list();
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].ref() == "acme/tiny:1");

  CHECK(repo->verify(m));
  auto path = repo->load_path(m);
  REQUIRE(path);
  CHECK(*path == version_dir + "/tiny.gguf");
  // What load_path gives, the engine loads.
  auto described = engine::describe_model(*path);
  INFO((described ? std::string() : described.error().message()));
  CHECK(described);
  // No temporary folder is left behind.
  CHECK(fs::is_empty(dir / "models/.tmp"));

  auto missing = repo->get("acme", "tiny", "2");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}

TEST_CASE("a Hugging Face folder imports by hard link and loads from its folder") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny-hf", "hf", "bf16");
  fs::create_directories(model + "/.git");
  write_all(model + "/.git/HEAD", "ref: refs/heads/main\n");
  write_all(model + "/pytorch_model.bin", "the same weights in another format");
  auto repo = open_repo(dir / "models");
  auto req = request(model);
  req.link = true;
  const Manifest m = import_ok(*repo, req);

  CHECK(m.format == "safetensors");
  CHECK(m.dtype == "bf16");
  CHECK(m.spec.precision == "bf16");
  CHECK(m.mode == "link");
  std::vector<std::string> paths;
  for (const auto& f : m.files) paths.push_back(f.path);
  CHECK(std::find(paths.begin(), paths.end(), "config.json") != paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "model.safetensors") != paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "tokenizer.json") != paths.end());
  // Hidden tooling folders and weight formats the engine does not read stay behind.
  CHECK(std::find(paths.begin(), paths.end(), ".git/HEAD") == paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "pytorch_model.bin") == paths.end());
  CHECK(std::is_sorted(paths.begin(), paths.end()));

  const std::string version_dir = dir / "models/acme/tiny/1";
  struct stat a {
  }, b{};
  REQUIRE(::stat((version_dir + "/model.safetensors").c_str(), &a) == 0);
  REQUIRE(::stat((model + "/model.safetensors").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);

  auto path = repo->load_path(m);
  INFO((path ? std::string() : path.error().message()));
  REQUIRE(path);
  CHECK(*path == version_dir);
  CHECK(engine::describe_model(*path));
}

TEST_CASE("a bert folder with a nested pooling config keeps its layout") {
  test::TempDir dir;
  engine::TestModelSpec spec;
  spec.arch = "bert";
  spec.format = "hf";
  spec.out = dir / "bert";
  REQUIRE(engine::create_test_model(spec));
  auto repo = open_repo(dir / "models");
  const Manifest m = import_ok(*repo, request(spec.out));
  CHECK(m.architecture == "bert");
  bool nested = false;
  for (const auto& f : m.files) nested = nested || f.path == "1_Pooling/config.json";
  CHECK(nested);
  CHECK(repo->verify(m));
}

TEST_CASE("a second import of the same version is refused as already_exists") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  const Manifest first = import_ok(*repo, request(model));
  auto second = repo->import_model(request(model));
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == StatusCode::already_exists);
  CHECK(contains(second.error().message(), "acme/tiny:1"));
  // The first version is untouched, and another version imports beside it.
  auto again = repo->get("acme", "tiny", "1");
  REQUIRE(again);
  CHECK(again->created_at_ms == first.created_at_ms);
  import_ok(*repo, request(model, "2"));
  CHECK(fs::is_empty(dir / "models/.tmp"));
}

TEST_CASE("a byte flipped in an imported weight file fails verify and load_path naming the file") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  const Manifest m = import_ok(*repo, request(model));
  flip_byte(dir / "models/acme/tiny/1/tiny.gguf");

  auto v = repo->verify(m);
  REQUIRE_FALSE(v);
  CHECK(v.error().code() == StatusCode::data_loss);
  CHECK(contains(v.error().message(), "tiny.gguf"));
  CHECK(contains(v.error().message(), m.files[0].sha256));
  auto p = repo->load_path(m);
  REQUIRE_FALSE(p);
  CHECK(p.error().code() == StatusCode::data_loss);
  CHECK(contains(p.error().message(), "tiny.gguf"));

  // Without verify_on_load the path is given as it is.
  ModelRepository::Options trusting;
  trusting.verify_on_load = false;
  auto lax = open_repo(dir / "models", trusting);
  CHECK(lax->load_path(m));
}

TEST_CASE("a truncated weight file fails verify naming the file and both sizes") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny-hf", "hf");
  auto repo = open_repo(dir / "models");
  const Manifest m = import_ok(*repo, request(model));
  const std::string weights = dir / "models/acme/tiny/1/model.safetensors";
  const auto size = fs::file_size(weights);
  fs::resize_file(weights, size - 100);

  auto v = repo->verify(m);
  REQUIRE_FALSE(v);
  CHECK(v.error().code() == StatusCode::data_loss);
  CHECK(contains(v.error().message(), "model.safetensors"));
  CHECK(contains(v.error().message(), std::to_string(size)));
  CHECK(contains(v.error().message(), std::to_string(size - 100)));
}

TEST_CASE("a missing file and an unlisted extra file fail verify") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny-hf", "hf");
  auto repo = open_repo(dir / "models");
  const Manifest m = import_ok(*repo, request(model));
  const std::string version_dir = dir / "models/acme/tiny/1";

  write_all(version_dir + "/chat_template.jinja", "{{ 'injected' }}");
  auto extra = repo->verify(m);
  REQUIRE_FALSE(extra);
  CHECK(extra.error().code() == StatusCode::data_loss);
  CHECK(contains(extra.error().message(), "chat_template.jinja"));
  fs::remove(version_dir + "/chat_template.jinja");
  CHECK(repo->verify(m));

  fs::remove(version_dir + "/tokenizer.json");
  auto missing = repo->verify(m);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::data_loss);
  CHECK(contains(missing.error().message(), "tokenizer.json is missing"));
}

TEST_CASE("a signed import verifies with a trusted key and records the key id") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  const test::Ed25519Signer publisher;

  // The publisher learns the manifest's payload from an unsigned import of the same files.
  auto staging = open_repo(dir / "staging");
  const std::string payload = signing_payload(import_ok(*staging, request(model)));

  for (const bool pem : {false, true}) {
    ModelRepository::Options options;
    options.trusted_keys = {{"other", test::Ed25519Signer().public_raw_b64()},
                            {"publisher", pem ? publisher.public_pem() : publisher.public_raw_b64()}};
    options.require_signature = true;
    auto repo = open_repo(dir / (pem ? "models-pem" : "models-raw"), options);
    auto req = request(model);
    req.signature = publisher.sign(payload);
    const Manifest m = import_ok(*repo, req);
    CHECK(m.signed_by == "publisher");
    CHECK(m.signature == req.signature);
    auto got = repo->get("acme", "tiny", "1");
    REQUIRE(got);
    CHECK(got->signed_by == "publisher");
    CHECK(repo->verify(*got));
    CHECK(repo->load_path(*got));
  }
}

TEST_CASE("an unsigned import is refused when signatures are required") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  ModelRepository::Options options;
  options.trusted_keys = {{"publisher", test::Ed25519Signer().public_raw_b64()}};
  options.require_signature = true;
  auto repo = open_repo(dir / "models", options);
  auto r = repo->import_model(request(model));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::permission_denied);
  CHECK(contains(r.error().message(), "requires a signature"));
  CHECK_FALSE(fs::exists(dir / "models/acme"));

  // A version imported before signatures were required is refused at load.
  auto open = open_repo(dir / "models");
  const Manifest m = import_ok(*open, request(model));
  auto p = repo->load_path(m);
  REQUIRE_FALSE(p);
  CHECK(p.error().code() == StatusCode::permission_denied);

  // Requiring signatures without a key to check them is a configuration error.
  ModelRepository::Options keyless;
  keyless.root = dir / "models";
  keyless.require_signature = true;
  CHECK_FALSE(ModelRepository::open(keyless));
}

TEST_CASE("a signature by an untrusted key is refused") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto staging = open_repo(dir / "staging");
  const std::string payload = signing_payload(import_ok(*staging, request(model)));

  ModelRepository::Options options;
  options.trusted_keys = {{"publisher", test::Ed25519Signer().public_raw_b64()}};
  auto repo = open_repo(dir / "models", options);
  auto req = request(model);
  req.signature = test::Ed25519Signer().sign(payload);
  auto r = repo->import_model(req);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::permission_denied);
  CHECK(contains(r.error().message(), "does not verify"));
  CHECK_FALSE(fs::exists(dir / "models/acme/tiny/1"));
  CHECK(fs::is_empty(dir / "models/.tmp"));

  req.signature = "not base64!";
  auto garbled = repo->import_model(req);
  REQUIRE_FALSE(garbled);
  CHECK(garbled.error().code() == StatusCode::invalid_argument);
}

TEST_CASE("a tampered manifest json is caught by the signature") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  const test::Ed25519Signer publisher;
  auto staging = open_repo(dir / "staging");
  const std::string payload = signing_payload(import_ok(*staging, request(model)));
  ModelRepository::Options options;
  options.trusted_keys = {{"publisher", publisher.public_raw_b64()}};
  auto repo = open_repo(dir / "models", options);
  auto req = request(model);
  req.signature = publisher.sign(payload);
  const Manifest signed_manifest = import_ok(*repo, req);

  // An attacker swaps the weights and writes their hash into manifest.json.
  const std::string version_dir = dir / "models/acme/tiny/1";
  flip_byte(version_dir + "/tiny.gguf");
  auto rehash = open_repo(dir / "rehash");
  Manifest tampered = signed_manifest;
  tampered.files[0].sha256 = import_ok(*rehash, request(version_dir + "/tiny.gguf")).files[0].sha256;
  REQUIRE(tampered.files[0].sha256 != signed_manifest.files[0].sha256);
  const std::string manifest_path = version_dir + "/manifest.json";
  std::string text = read_all(manifest_path);
  const auto at = text.find(signed_manifest.files[0].sha256);
  REQUIRE(at != std::string::npos);
  text.replace(at, 64, tampered.files[0].sha256);
  write_all(manifest_path, text);

  auto got = repo->get("acme", "tiny", "1");
  REQUIRE(got);
  CHECK(got->files[0].sha256 == tampered.files[0].sha256);
  auto v = repo->verify(*got);
  REQUIRE_FALSE(v);
  CHECK(v.error().code() == StatusCode::data_loss);
  CHECK(contains(v.error().message(), "signature"));
  CHECK_FALSE(repo->load_path(*got));
}

TEST_CASE("remove is refused while the version is in use and allowed otherwise") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  import_ok(*repo, request(model, "1"));
  import_ok(*repo, request(model, "2"));

  auto busy = repo->remove("acme", "tiny", "1", [](const Manifest& m) { return m.version == "1"; });
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code() == StatusCode::failed_precondition);
  CHECK(contains(busy.error().message(), "acme/tiny:1 is in use"));
  CHECK(repo->get("acme", "tiny", "1"));

  auto idle = [](const Manifest&) { return false; };
  REQUIRE(repo->remove("acme", "tiny", "1", idle));
  CHECK(repo->get("acme", "tiny", "1").error().code() == StatusCode::not_found);
  CHECK(repo->get("acme", "tiny", "2"));
  auto again = repo->remove("acme", "tiny", "1", idle);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::not_found);

  REQUIRE(repo->remove("acme", "tiny", "2", nullptr));
  CHECK_FALSE(fs::exists(dir / "models/acme"));
  CHECK(fs::is_empty(dir / "models/.tmp"));
  auto listed = repo->list();
  REQUIRE(listed);
  CHECK(listed->empty());
}

TEST_CASE("names that could escape the root are refused") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  for (const char* bad : {"..", ".", ".tmp", "", "a/b", "x\\y", "../../etc", "a b", "name\n"}) {
    auto req = request(model);
    req.version = bad;
    auto r = repo->import_model(req);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == StatusCode::invalid_argument);
    CHECK(contains(r.error().message(), "version"));
    CHECK(repo->get("acme", bad, "1").error().code() == StatusCode::invalid_argument);
  }
  auto req = request(model);
  req.org = std::string(65, 'a');
  CHECK_FALSE(repo->import_model(req));
  CHECK(fs::is_empty(dir / "models/.tmp"));
}

TEST_CASE("a source that is not a model is refused and leaves nothing behind") {
  test::TempDir dir;
  auto repo = open_repo(dir / "models");
  write_all(dir / "notes.txt", "hello");
  write_all(dir / "fake.gguf", "GGUF but not really");
  auto txt = repo->import_model(request(dir / "notes.txt"));
  REQUIRE_FALSE(txt);
  CHECK(txt.error().code() == StatusCode::invalid_argument);
  auto fake = repo->import_model(request(dir / "fake.gguf"));
  REQUIRE_FALSE(fake);
  CHECK(contains(fake.error().message(), "fake.gguf"));
  auto none = repo->import_model(request(dir / "missing.gguf"));
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == StatusCode::not_found);
  CHECK_FALSE(fs::exists(dir / "models/acme"));
  CHECK(fs::is_empty(dir / "models/.tmp"));
}

TEST_CASE("list sorts by org and model and numeric version") {
  test::TempDir dir;
  const std::string model = make_model(dir, "tiny.gguf");
  auto repo = open_repo(dir / "models");
  for (const char* v : {"v10", "v9", "v2.1"}) import_ok(*repo, request(model, v));
  auto other = request(model, "1");
  other.org = "aaa";
  import_ok(*repo, other);
  fs::create_directories(dir / "models/stray folder/x");
  // An import in progress (or cut short) is not listed.
  fs::create_directories(dir / "models/.tmp/import-0123/1_Pooling");
  auto listed = repo->list();
  INFO((listed ? std::string() : listed.error().message()));
  REQUIRE(listed);
  std::vector<std::string> refs;
  for (const auto& m : *listed) refs.push_back(m.ref());
  CHECK(refs == std::vector<std::string>{"aaa/tiny:1", "acme/tiny:v2.1", "acme/tiny:v9", "acme/tiny:v10"});
}

TEST_CASE("open clears temporary folders that an interrupted import left a day ago") {
  test::TempDir dir;
  fs::create_directories(dir / "models/.tmp/import-old/sub");
  fs::create_directories(dir / "models/.tmp/import-new");
  fs::last_write_time(dir / "models/.tmp/import-old", fs::file_time_type::clock::now() - std::chrono::hours(25));
  open_repo(dir / "models");
  CHECK_FALSE(fs::exists(dir / "models/.tmp/import-old"));
  CHECK(fs::exists(dir / "models/.tmp/import-new"));
}

TEST_CASE("trusted keys that are not ed25519 public keys are refused naming the key") {
  test::TempDir dir;
  ModelRepository::Options options;
  options.root = dir / "models";
  options.trusted_keys = {{"short", "AAAA"}};
  auto r = ModelRepository::open(options);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::invalid_argument);
  CHECK(contains(r.error().message(), "'short'"));
  options.trusted_keys = {{"pem", "-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n"}};
  auto pem = ModelRepository::open(options);
  REQUIRE_FALSE(pem);
  CHECK(contains(pem.error().message(), "'pem'"));
}
