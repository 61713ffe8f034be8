#include "llmp/registry/manifest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "llmp/core/json.h"
#include "names.h"

namespace llmp::registry {
namespace {

constexpr int64_t kSchemaVersion = 1;
constexpr int kMaxJsonDepth = 16;

void write_spec(json::Writer& w, const ModelSpec& s) {
  w.begin_object();
  w.field("parameters", s.parameters);
  w.field("precision", s.precision);
  w.field("context_length", s.context_length);
  w.field("max_concurrency", s.max_concurrency);
  w.key("device").begin_object();
  w.field("kind", s.device.kind);
  w.field("gpu_type", s.device.gpu_type);
  w.field("gpu_count", s.device.gpu_count);
  w.field("gpu_memory_bytes", s.device.gpu_memory_bytes);
  w.end_object();
  w.field("memory_bytes", s.memory_bytes);
  w.field("expected_tokens_per_second", s.expected_tokens_per_second);
  w.end_object();
}

void write_files(json::Writer& w, std::vector<FileEntry> files) {
  std::sort(files.begin(), files.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  w.begin_array();
  for (const auto& f : files) {
    w.begin_object().field("path", f.path).field("size", f.size).field("sha256", f.sha256).end_object();
  }
  w.end_array();
}

std::unexpected<Status> bad(std::string_view key, std::string_view what) {
  return error(StatusCode::invalid_argument, fmt::format("manifest: '{}' {}", key, what));
}

// Typed members of one object; `prefix` names the object in errors ("spec.device.").
class Fields {
 public:
  Fields(simdjson::dom::object obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  std::string name(std::string_view key) const { return prefix_ + std::string(key); }

  // Absent: `fallback` unless required.
  Result<std::string> string(std::string_view key, bool required = false, std::string fallback = {}) const {
    auto field = obj_[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) {
      if (required) return bad(name(key), "is missing");
      return fallback;
    }
    std::string_view v;
    if (field.get(v) != simdjson::SUCCESS) return bad(name(key), "must be a string");
    return std::string(v);
  }
  Result<uint64_t> u64(std::string_view key) const {
    auto field = obj_[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) return uint64_t{0};
    uint64_t v = 0;
    if (field.get(v) != simdjson::SUCCESS) return bad(name(key), "must be a non-negative integer");
    return v;
  }
  Result<int64_t> i64(std::string_view key, bool required = false,
                      int64_t max = std::numeric_limits<int64_t>::max()) const {
    auto field = obj_[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) {
      if (required) return bad(name(key), "is missing");
      return int64_t{0};
    }
    int64_t v = 0;
    if (field.get(v) != simdjson::SUCCESS || v < 0 || v > max) {
      return bad(name(key), fmt::format("must be an integer from 0 to {}", max));
    }
    return v;
  }
  Result<double> number(std::string_view key) const {
    auto field = obj_[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) return 0.0;
    double v = 0;
    if (field.get(v) != simdjson::SUCCESS || !std::isfinite(v) || v < 0)
      return bad(name(key), "must be a non-negative number");
    return v;
  }
  Result<simdjson::dom::object> object(std::string_view key) const {
    auto field = obj_[key];
    if (field.error() == simdjson::NO_SUCH_FIELD) return bad(name(key), "is missing");
    simdjson::dom::object v;
    if (field.get(v) != simdjson::SUCCESS) return bad(name(key), "must be an object");
    return v;
  }
  bool has(std::string_view key) const { return obj_[key].error() != simdjson::NO_SUCH_FIELD; }

 private:
  simdjson::dom::object obj_;
  std::string prefix_;
};

#define MANIFEST_TRY(var, expr)                            \
  auto var##_result_ = (expr);                             \
  if (!var##_result_) return error(var##_result_.error()); \
  auto var = std::move(*var##_result_)

Result<ModelSpec> parse_spec(const Fields& f) {
  ModelSpec s;
  MANIFEST_TRY(parameters, f.u64("parameters"));
  MANIFEST_TRY(precision, f.string("precision"));
  MANIFEST_TRY(context_length, f.i64("context_length"));
  MANIFEST_TRY(max_concurrency, f.i64("max_concurrency", false, std::numeric_limits<int>::max()));
  MANIFEST_TRY(memory_bytes, f.u64("memory_bytes"));
  MANIFEST_TRY(tps, f.number("expected_tokens_per_second"));
  s.parameters = parameters;
  s.precision = std::move(precision);
  s.context_length = context_length;
  s.max_concurrency = static_cast<int>(max_concurrency);
  s.memory_bytes = memory_bytes;
  s.expected_tokens_per_second = tps;
  if (f.has("device")) {
    MANIFEST_TRY(device_obj, f.object("device"));
    Fields d(device_obj, f.name("device."));
    MANIFEST_TRY(kind, d.string("kind", false, "cpu"));
    MANIFEST_TRY(gpu_type, d.string("gpu_type"));
    MANIFEST_TRY(gpu_count, d.i64("gpu_count", false, std::numeric_limits<int>::max()));
    MANIFEST_TRY(gpu_memory, d.u64("gpu_memory_bytes"));
    s.device.kind = std::move(kind);
    s.device.gpu_type = std::move(gpu_type);
    s.device.gpu_count = static_cast<int>(gpu_count);
    s.device.gpu_memory_bytes = gpu_memory;
  }
  auto checked = check_spec(s);
  if (!checked) return error(checked.error().with_context("manifest"));
  return s;
}

bool lower_hex_sha256(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string Manifest::ref() const {
  return fmt::format("{}/{}:{}", org, model, version);
}

Result<VersionRef> parse_ref(std::string_view ref) {
  const size_t slash = ref.find('/');
  const size_t colon = ref.rfind(':');
  if (slash == std::string_view::npos || colon == std::string_view::npos || colon < slash) {
    return error(StatusCode::invalid_argument,
                 fmt::format("\"{}\" is not a model version: expected \"org/model:version\"", ref));
  }
  VersionRef out{std::string(ref.substr(0, slash)), std::string(ref.substr(slash + 1, colon - slash - 1)),
                 std::string(ref.substr(colon + 1))};
  for (const auto& [what, part] : {std::pair{"org", &out.org}, std::pair{"model", &out.model},
                                   std::pair{"version", &out.version}}) {
    if (auto checked = check_name(what, *part); !checked) {
      return error(checked.error().with_context(fmt::format("\"{}\"", ref)));
    }
  }
  return out;
}

std::string signing_payload(const Manifest& m) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.field("llmp_model_signing", kSchemaVersion);
  w.field("org", m.org).field("model", m.model).field("version", m.version);
  w.key("files");
  write_files(w, m.files);
  w.key("spec");
  write_spec(w, m.spec);
  w.end_object();
  return out;
}

std::string manifest_json(const Manifest& m) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.field("schema_version", kSchemaVersion);
  w.field("org", m.org).field("model", m.model).field("version", m.version);
  w.field("created_at_ms", m.created_at_ms);
  w.field("format", m.format).field("architecture", m.architecture).field("dtype", m.dtype);
  w.field("source", m.source).field("mode", m.mode);
  w.key("files");
  write_files(w, m.files);
  w.key("spec");
  write_spec(w, m.spec);
  w.field("signature", m.signature).field("signed_by", m.signed_by);
  w.end_object();
  out += '\n';
  return out;
}

Result<Manifest> parse_manifest(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(text)).get(root) != simdjson::SUCCESS) {
    if (auto where = json::find_syntax_error(text, kMaxJsonDepth)) {
      return error(StatusCode::invalid_argument,
                   fmt::format("manifest: malformed JSON at byte {}: {}", where->offset, where->reason));
    }
    return error(StatusCode::invalid_argument, "manifest: malformed JSON");
  }
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return error(StatusCode::invalid_argument, "manifest: not a JSON object");
  Fields f(obj, "");
  MANIFEST_TRY(schema, f.i64("schema_version", true));
  if (schema != kSchemaVersion) {
    return bad("schema_version", fmt::format("is {}; this build reads version {}", schema, kSchemaVersion));
  }
  Manifest m;
  MANIFEST_TRY(org, f.string("org", true));
  MANIFEST_TRY(model, f.string("model", true));
  MANIFEST_TRY(version, f.string("version", true));
  for (auto [key, value] :
       {std::pair<std::string_view, const std::string*>{"org", &org}, {"model", &model}, {"version", &version}}) {
    auto checked = check_name(key, *value);
    if (!checked) return error(checked.error().with_context("manifest"));
  }
  m.org = std::move(org);
  m.model = std::move(model);
  m.version = std::move(version);
  MANIFEST_TRY(created, f.i64("created_at_ms"));
  MANIFEST_TRY(format, f.string("format", true));
  if (format != "gguf" && format != "safetensors") return bad("format", "must be \"gguf\" or \"safetensors\"");
  MANIFEST_TRY(architecture, f.string("architecture"));
  MANIFEST_TRY(dtype, f.string("dtype"));
  MANIFEST_TRY(source, f.string("source"));
  MANIFEST_TRY(mode, f.string("mode", false, "copy"));
  if (mode != "copy" && mode != "link") return bad("mode", "must be \"copy\" or \"link\"");
  m.created_at_ms = created;
  m.format = std::move(format);
  m.architecture = std::move(architecture);
  m.dtype = std::move(dtype);
  m.source = std::move(source);
  m.mode = std::move(mode);

  simdjson::dom::array files;
  if (obj["files"].error() == simdjson::NO_SUCH_FIELD) return bad("files", "is missing");
  if (obj["files"].get(files) != simdjson::SUCCESS) return bad("files", "must be an array");
  std::set<std::string, std::less<>> seen;
  size_t i = 0;
  for (auto element : files) {
    const std::string at = fmt::format("files[{}]", i++);
    simdjson::dom::object file_obj;
    if (element.get(file_obj) != simdjson::SUCCESS) return bad(at, "must be an object");
    Fields ff(file_obj, at + ".");
    MANIFEST_TRY(path, ff.string("path", true));
    auto path_ok = check_file_path(fmt::format("manifest: '{}.path'", at), path);
    if (!path_ok) return error(path_ok.error());
    if (!seen.insert(path).second) return bad(at + ".path", fmt::format("repeats '{}'", path));
    if (!ff.has("size")) return bad(at + ".size", "is missing");
    MANIFEST_TRY(size, ff.u64("size"));
    MANIFEST_TRY(sha, ff.string("sha256", true));
    if (!lower_hex_sha256(sha)) return bad(at + ".sha256", "must be 64 lowercase hex digits");
    m.files.push_back(FileEntry{.path = std::move(path), .size = size, .sha256 = std::move(sha)});
  }
  if (m.files.empty()) return bad("files", "is empty");
  std::sort(m.files.begin(), m.files.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });

  MANIFEST_TRY(spec_obj, f.object("spec"));
  MANIFEST_TRY(spec, parse_spec(Fields(spec_obj, "spec.")));
  m.spec = std::move(spec);
  MANIFEST_TRY(signature, f.string("signature"));
  MANIFEST_TRY(signed_by, f.string("signed_by"));
  m.signature = std::move(signature);
  m.signed_by = std::move(signed_by);
  return m;
}

}  // namespace llmp::registry
