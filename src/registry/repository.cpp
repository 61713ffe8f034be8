#include "llmp/registry/repository.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "file_hash.h"
#include "llmp/core/crypto.h"
#include "names.h"
#include "repository_paths.h"
#include "signature.h"

namespace llmp::registry {

namespace fs = std::filesystem;

namespace {

constexpr auto kStaleTempAge = std::chrono::hours(24);

Result<std::string> read_small_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return error(StatusCode::not_found, fmt::format("{}: cannot open", p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return error(StatusCode::data_loss, fmt::format("{}: cannot read", p.string()));
  return ss.str();
}

Result<Manifest> read_manifest(const fs::path& dir, std::string_view org, std::string_view model,
                               std::string_view version) {
  const fs::path file = dir / kManifestFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (fs::exists(dir, ec)) return error(StatusCode::data_loss, fmt::format("{}: missing", file.string()));
    return error(StatusCode::not_found, fmt::format("model {}/{}@{} not found", org, model, version));
  }
  auto text = read_small_file(file);
  if (!text) return error(text.error());
  auto m = parse_manifest(*text);
  if (!m) return error(StatusCode::data_loss, fmt::format("{}: {}", file.string(), m.error().message()));
  if (m->org != org || m->model != model || m->version != version) {
    return error(StatusCode::data_loss,
                 fmt::format("{}: names {}, not {}/{}@{}", file.string(), m->ref(), org, model, version));
  }
  return m;
}

}  // namespace

Result<void> check_identity(std::string_view org, std::string_view model, std::string_view version) {
  LLMP_TRY_VOID(check_name("org", org));
  LLMP_TRY_VOID(check_name("model", model));
  LLMP_TRY_VOID(check_name("version", version));
  return ok();
}

std::string temp_name(std::string_view what) {
  return fmt::format("{}-{}", what, crypto::random_secret_hex(8));
}

ModelRepository::ModelRepository(Options options, std::unique_ptr<TrustedKeys> keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

ModelRepository::~ModelRepository() = default;

Result<std::unique_ptr<ModelRepository>> ModelRepository::open(Options options) {
  if (options.root.empty()) return error(StatusCode::invalid_argument, "model repository: no root folder given");
  std::error_code ec;
  const fs::path root = fs::absolute(options.root, ec);
  if (ec)
    return error(StatusCode::invalid_argument, fmt::format("model repository {}: {}", options.root, ec.message()));
  fs::create_directories(root / kTempDir, ec);
  if (ec) {
    return error(StatusCode::failed_precondition,
                 fmt::format("model repository: cannot create {}: {}", (root / kTempDir).string(), ec.message()));
  }
  options.root = root.lexically_normal().string();
  auto keys = TrustedKeys::parse(options.trusted_keys);
  if (!keys) return error(keys.error().with_context("model repository"));
  if (options.require_signature && (*keys)->empty()) {
    return error(StatusCode::invalid_argument,
                 "model repository: require_signature is set but no trusted keys are configured");
  }
  // An import or removal that was cut short leaves its temporary folder; one a day old is
  // not in progress (an import of a large model takes minutes).
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(root / kTempDir, ec)) {
    std::error_code entry_ec;
    const auto written = entry.last_write_time(entry_ec);
    if (!entry_ec && now - written > kStaleTempAge) fs::remove_all(entry.path(), entry_ec);
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(std::move(options), std::move(*keys)));
}

std::string ModelRepository::version_dir(const Manifest& m) const {
  return (fs::path(options_.root) / m.org / m.model / m.version).string();
}

Result<Manifest> ModelRepository::get(std::string_view org, std::string_view model, std::string_view version) const {
  LLMP_TRY_VOID(check_identity(org, model, version));
  return read_manifest(fs::path(options_.root) / org / model / version, org, model, version);
}

Result<std::vector<Manifest>> ModelRepository::list() const {
  std::vector<Manifest> out;
  std::error_code ec;
  // Only folders whose names the repository could have written: the temporary folder and
  // anything else an operator put beside the models are not versions.
  auto subdirs = [](const fs::path& dir) -> Result<std::vector<std::string>> {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::error_code type_ec;
      const std::string name = entry.path().filename().string();
      if (entry.is_directory(type_ec) && !entry.is_symlink(type_ec) && check_name("name", name)) names.push_back(name);
    }
    if (ec) return error(StatusCode::internal, fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
    return names;
  };
  const fs::path root(options_.root);
  auto orgs = subdirs(root);
  if (!orgs) return error(orgs.error());
  for (const auto& org : *orgs) {
    auto models = subdirs(root / org);
    if (!models) return error(models.error());
    for (const auto& model : *models) {
      auto versions = subdirs(root / org / model);
      if (!versions) return error(versions.error());
      for (const auto& version : *versions) {
        auto m = read_manifest(root / org / model / version, org, model, version);
        if (!m) return error(m.error());
        out.push_back(std::move(*m));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) {
    if (a.org != b.org) return a.org < b.org;
    if (a.model != b.model) return a.model < b.model;
    return natural_less(a.version, b.version);
  });
  return out;
}

Result<std::string> ModelRepository::check_signature(const Manifest& m, std::optional<StatusCode> bad_signature) const {
  if (m.signature.empty()) {
    if (options_.require_signature) {
      return error(StatusCode::permission_denied,
                   fmt::format("{} is not signed, and the model repository requires a signature", m.ref()));
    }
    return std::string();
  }
  auto id = keys_->verify(signing_payload(m), m.signature);
  if (!id) {
    const StatusCode code = bad_signature.value_or(id.error().code());
    return error(code, fmt::format("{}: {}", m.ref(), id.error().message()));
  }
  return *id;
}

Result<void> ModelRepository::verify(const Manifest& m) const {
  LLMP_TRY_VOID(check_identity(m.org, m.model, m.version));
  auto signer = check_signature(m, StatusCode::data_loss);
  if (!signer) {
    if (signer.error().code() != StatusCode::data_loss) return error(signer.error());
    return error(StatusCode::data_loss,
                 fmt::format("{} (manifest.json was changed after signing, or its key is no longer trusted)",
                             signer.error().message()));
  }
  const fs::path dir = version_dir(m);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return error(StatusCode::not_found, fmt::format("{}: {} is missing", m.ref(), dir.string()));

  // Sizes first: a truncated or missing file shows without reading gigabytes.
  std::set<std::string, std::less<>> listed;
  for (const auto& f : m.files) {
    LLMP_TRY_VOID(check_file_path(m.ref(), f.path));
    listed.insert(f.path);
    const fs::path p = dir / f.path;
    const auto status = fs::symlink_status(p, ec);
    if (ec || !fs::exists(status)) {
      return error(StatusCode::data_loss, fmt::format("{}: file {} is missing (expected {} bytes, sha256 {})", m.ref(),
                                                      f.path, f.size, f.sha256));
    }
    if (!fs::is_regular_file(status)) {
      return error(StatusCode::data_loss, fmt::format("{}: {} is not a regular file", m.ref(), f.path));
    }
    const uint64_t size = fs::file_size(p, ec);
    if (ec) return error(StatusCode::data_loss, fmt::format("{}: {}: {}", m.ref(), f.path, ec.message()));
    if (size != f.size) {
      return error(StatusCode::data_loss, fmt::format("{}: file {} is {} bytes, expected {} (sha256 {})", m.ref(),
                                                      f.path, size, f.size, f.sha256));
    }
  }
  // A file the manifest does not list could still be read by the loader (a chat template,
  // generation_config.json), so it is as much a tampering as a changed one.
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(dir).generic_string();
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) continue;
    if (rel == kManifestFile || listed.contains(rel)) continue;
    return error(StatusCode::data_loss,
                 fmt::format("{}: unexpected file {} that the manifest does not list", m.ref(), rel));
  }
  if (ec)
    return error(StatusCode::data_loss, fmt::format("{}: cannot list {}: {}", m.ref(), dir.string(), ec.message()));

  for (const auto& f : m.files) {
    auto digest = hash_file((dir / f.path).string());
    if (!digest) return error(StatusCode::data_loss, fmt::format("{}: {}", m.ref(), digest.error().message()));
    if (digest->size != f.size || digest->sha256 != f.sha256) {
      return error(StatusCode::data_loss, fmt::format("{}: file {} has sha256 {} ({} bytes), expected {} ({} bytes)",
                                                      m.ref(), f.path, digest->sha256, digest->size, f.sha256, f.size));
    }
  }
  return ok();
}

Result<std::string> ModelRepository::load_path(const Manifest& m) const {
  if (options_.verify_on_load) {
    LLMP_TRY_VOID(verify(m));
  } else {
    LLMP_TRY_VOID(check_identity(m.org, m.model, m.version));
    auto signer = check_signature(m, StatusCode::data_loss);
    if (!signer) return error(signer.error());
  }
  if (m.files.empty()) return error(StatusCode::data_loss, fmt::format("{}: the manifest lists no files", m.ref()));
  const fs::path dir = version_dir(m);
  // A single-file model (.gguf, or a bare .safetensors) loads from the file; a folder model
  // from the folder, where the loader finds config.json and the rest.
  if (m.files.size() == 1 && m.files[0].path.find('/') == std::string::npos) return (dir / m.files[0].path).string();
  return dir.string();
}

Result<void> ModelRepository::remove(std::string_view org, std::string_view model, std::string_view version,
                                     const std::function<bool(const Manifest&)>& in_use) {
  auto m = get(org, model, version);
  if (!m) return error(m.error());
  if (in_use && in_use(*m)) {
    return error(
        StatusCode::failed_precondition,
        fmt::format("{} is in use: a loaded model serves it; unload it before removing the version", m->ref()));
  }
  const fs::path root(options_.root);
  const fs::path dir = version_dir(*m);
  const fs::path trash = root / kTempDir / temp_name("removed");
  // One rename makes the version disappear at once; deleting its files can then take its time.
  std::error_code ec;
  fs::rename(dir, trash, ec);
  if (ec)
    return error(StatusCode::internal, fmt::format("{}: cannot remove {}: {}", m->ref(), dir.string(), ec.message()));
  (void)sync_dir((root / org / model).string());
  fs::remove_all(trash, ec);
  // Empty model and org folders go too (remove() refuses a non-empty folder, which is fine).
  fs::remove(root / org / model, ec);
  fs::remove(root / org, ec);
  return ok();
}

}  // namespace llmp::registry
