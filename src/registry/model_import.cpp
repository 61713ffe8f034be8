// ModelRepository::import_model: pick the source's files, copy (or hard-link) and hash them
// into a temporary folder, describe the model, sign-check, and publish with one rename.
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "file_hash.h"
#include "llmp/engine/model_facts.h"
#include "llmp/registry/repository.h"
#include "names.h"
#include "repository_paths.h"
#include "signature.h"

namespace llmp::registry {

namespace fs = std::filesystem;

namespace {

// Weight formats a Hugging Face repository often carries beside its safetensors: the engine
// reads none of them, and copying them would double the version's size for nothing.
constexpr std::string_view kSkippedExtensions[] = {".bin",     ".pt",   ".pth", ".ckpt",   ".h5",
                                                   ".msgpack", ".onnx", ".ot",  ".tflite", ".gguf"};

struct SourceFile {
  fs::path from;     // resolved: HF cache snapshots are links into a blob store
  std::string path;  // in the version folder, '/' separated
};

bool skipped(const fs::path& p) {
  const std::string name = p.filename().string();
  return std::any_of(std::begin(kSkippedExtensions), std::end(kSkippedExtensions),
                     [&](std::string_view ext) { return name.ends_with(ext); });
}

Result<std::vector<SourceFile>> source_files(const std::string& source) {
  std::error_code ec;
  const auto status = fs::status(source, ec);
  if (ec || !fs::exists(status))
    return error(StatusCode::not_found, fmt::format("source {}: no such file or folder", source));
  std::vector<SourceFile> out;
  if (fs::is_regular_file(status)) {
    const fs::path p(source);
    if (p.extension() != ".gguf" && p.extension() != ".safetensors") {
      return error(StatusCode::invalid_argument,
                   fmt::format("source {}: expected a .gguf or .safetensors file, or a model folder", source));
    }
    const std::string name = p.filename().string();
    auto checked = check_file_path(fmt::format("source {}", source), name);
    if (!checked) return error(checked.error());
    out.push_back({fs::canonical(p, ec), name});
    if (ec) return error(StatusCode::invalid_argument, fmt::format("source {}: {}", source, ec.message()));
    return out;
  }
  if (!fs::is_directory(status)) {
    return error(StatusCode::invalid_argument, fmt::format("source {}: neither a file nor a folder", source));
  }
  const fs::path dir(source);
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Hidden entries are tooling state (.git, .cache, .gitattributes), not the model.
    if (name.starts_with('.')) {
      std::error_code type_ec;
      if (it->is_directory(type_ec)) it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;
    if (!it->is_regular_file(type_ec) || skipped(it->path())) continue;
    const std::string rel = it->path().lexically_relative(dir).generic_string();
    if (rel == kManifestFile) continue;  // a version folder imported again: its old record
    auto checked = check_file_path(fmt::format("source {}", source), rel);
    if (!checked) return error(checked.error());
    fs::path from = fs::canonical(it->path(), type_ec);
    if (type_ec)
      return error(StatusCode::invalid_argument, fmt::format("source {}: {}: {}", source, rel, type_ec.message()));
    out.push_back({std::move(from), rel});
  }
  if (ec) return error(StatusCode::invalid_argument, fmt::format("source {}: cannot list: {}", source, ec.message()));
  if (out.empty())
    return error(StatusCode::invalid_argument, fmt::format("source {}: the folder holds no model files", source));
  std::sort(out.begin(), out.end(), [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return out;
}

// Removes the temporary folder unless the import published it.
struct TempFolder {
  fs::path path;
  bool keep = false;
  ~TempFolder() {
    if (keep || path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Hard-links `from` at `to` and hashes it; false when this filesystem cannot link it there.
Result<std::optional<FileDigest>> link_hashing(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (ec) {
    const int e = ec.value();
    if (e == EXDEV || e == EPERM || e == EMLINK || e == EOPNOTSUPP || e == EACCES) return std::optional<FileDigest>();
    return error(StatusCode::internal,
                 fmt::format("cannot link {} to {}: {}", from.string(), to.string(), ec.message()));
  }
  auto digest = hash_file(to.string());
  if (!digest) return error(digest.error());
  return std::optional<FileDigest>(*digest);
}

// rename(2) without replacing: a version that appeared meanwhile is not overwritten.
Result<void> publish(const fs::path& from, const fs::path& to, const std::string& ref) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return ok();
  int e = errno;
  if (e == EINVAL || e == ENOSYS) {
    // A filesystem without RENAME_NOREPLACE: plain rename still refuses a non-empty target.
    std::error_code ec;
    if (fs::exists(to, ec))
      e = EEXIST;
    else if (::rename(from.c_str(), to.c_str()) == 0)
      return ok();
    else
      e = errno;
  }
  if (e == EEXIST || e == ENOTEMPTY) {
    return error(StatusCode::already_exists,
                 fmt::format("{} already exists; versions are immutable, import a new version", ref));
  }
  return error(StatusCode::internal,
               fmt::format("{}: cannot move {} to {}: {}", ref, from.string(), to.string(), strerror(e)));
}

}  // namespace

Result<Manifest> ModelRepository::import_model(const ImportRequest& req) {
  LLMP_TRY_VOID(check_identity(req.org, req.model, req.version));
  Manifest m;
  m.org = req.org;
  m.model = req.model;
  m.version = req.version;
  const std::string ref = m.ref();
  if (req.spec) {
    auto checked = check_spec(*req.spec);
    if (!checked) return error(checked.error().with_context(ref));
  }
  // The cheap refusals come before copying gigabytes.
  if (req.signature.empty() && options_.require_signature) {
    return error(StatusCode::permission_denied,
                 fmt::format("{}: unsigned, and the model repository requires a signature", ref));
  }
  if (!req.signature.empty() && keys_->empty()) {
    return error(StatusCode::permission_denied,
                 fmt::format("{}: signed, but no trusted keys are configured to check it", ref));
  }
  const fs::path root(options_.root);
  const fs::path target = root / m.org / m.model / m.version;
  std::error_code ec;
  if (fs::exists(target, ec)) {
    return error(StatusCode::already_exists,
                 fmt::format("{} already exists; versions are immutable, import a new version", ref));
  }
  auto files = source_files(req.source);
  if (!files) return error(files.error().with_context(ref));

  TempFolder temp{root / kTempDir / temp_name("import")};
  fs::create_directories(temp.path, ec);
  if (ec)
    return error(StatusCode::internal, fmt::format("{}: cannot create {}: {}", ref, temp.path.string(), ec.message()));
  bool any_linked = false;
  for (const auto& file : *files) {
    const fs::path to = temp.path / file.path;
    fs::create_directories(to.parent_path(), ec);
    if (ec)
      return error(StatusCode::internal,
                   fmt::format("{}: cannot create {}: {}", ref, to.parent_path().string(), ec.message()));
    std::optional<FileDigest> digest;
    if (req.link) {
      auto linked = link_hashing(file.from, to);
      if (!linked) return error(linked.error().with_context(ref));
      digest = *linked;
      any_linked = any_linked || digest.has_value();
    }
    if (!digest) {
      auto copied = copy_hashing(file.from.string(), to.string());
      if (!copied) return error(copied.error().with_context(ref));
      digest = *copied;
    }
    m.files.push_back(FileEntry{.path = file.path, .size = digest->size, .sha256 = digest->sha256});
  }

  // Described from the copy: the manifest speaks of the bytes it hashed.
  const bool single = files->size() == 1 && !fs::is_directory(req.source, ec);
  auto facts = engine::model_facts((single ? temp.path / m.files[0].path : temp.path).string());
  if (!facts) {
    return error(StatusCode::invalid_argument, fmt::format("{}: {} is not a model this engine can read: {}", ref,
                                                           req.source, facts.error().message()));
  }
  m.created_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  m.format = facts->format;
  m.architecture = facts->architecture;
  m.dtype = facts->dtype;
  m.source = fs::absolute(req.source, ec).lexically_normal().string();
  m.mode = any_linked ? "link" : "copy";
  m.spec = fill_spec(req.spec.value_or(ModelSpec{}), *facts);
  auto spec_ok = check_spec(m.spec);
  if (!spec_ok) return error(spec_ok.error().with_context(ref));

  if (!req.signature.empty()) {
    m.signature = req.signature;
    auto signer = check_signature(m, std::nullopt);
    if (!signer) return error(signer.error());
    m.signed_by = *signer;
  }

  LLMP_TRY_VOID(write_file_durably((temp.path / kManifestFile).string(), manifest_json(m)));
  LLMP_TRY_VOID(sync_dir(temp.path.string()));
  fs::create_directories(target.parent_path(), ec);
  if (ec)
    return error(StatusCode::internal,
                 fmt::format("{}: cannot create {}: {}", ref, target.parent_path().string(), ec.message()));
  LLMP_TRY_VOID(publish(temp.path, target, ref));
  temp.keep = true;
  (void)sync_dir(target.parent_path().string());
  return m;
}

}  // namespace llmp::registry
