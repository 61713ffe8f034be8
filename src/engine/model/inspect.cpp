#include <fmt/format.h>

#include <map>

#include "llmp/engine/model_info.h"
#include "model/loaded_model.h"

namespace llmp::engine {

Result<std::string> describe_model(const std::string& path) {
  auto loaded = load_model(path);
  if (!loaded) return error(loaded.error());
  const LoadedModel& m = **loaded;
  const ModelConfig& c = m.config;
  std::string out;
  auto line = [&](std::string_view key, const std::string& value) { out += fmt::format("{:<22} {}\n", key, value); };
  line("path", m.path);
  line("format", m.format == "gguf" ? "GGUF" : "Hugging Face folder (safetensors)");
  line("file bytes", fmt::format("{}", m.file_bytes));
  line("name", c.name.empty() ? "-" : c.name);
  line("architecture", std::string(to_string(c.arch)) + (c.is_encoder() ? " (encoder)" : " (decoder)"));
  int64_t params = 0;
  std::map<std::string, int64_t> by_dtype;
  for (const auto& t : m.all_tensors) {
    params += t.numel();
    by_dtype[std::string(dtype_info(t.dtype).name)] += t.numel();
  }
  line("parameters", fmt::format("{} ({:.2f} B)", params, static_cast<double>(params) / 1e9));
  std::string dtypes;
  for (const auto& [name, n] : by_dtype) dtypes += fmt::format("{}{} {:.1f}%", dtypes.empty() ? "" : ", ", name, 100.0 * n / params);
  line("dtypes", dtypes);
  line("vocab", fmt::format("{}", c.vocab_size));
  line("hidden", fmt::format("{}", c.hidden));
  line("layers", fmt::format("{}", c.n_layers));
  line("heads (q / kv)", fmt::format("{} / {} (head_dim {})", c.n_heads, c.n_kv_heads, c.head_dim));
  line("ffn", fmt::format("{}", c.ffn));
  line("context", fmt::format("{}", c.context_length));
  line("norm eps", fmt::format("{}", c.norm_eps));
  if (c.is_encoder()) {
    line("pooling", c.n_labels > 0 ? fmt::format("classifier, {} label(s)", c.n_labels)
                                   : fmt::format("{}{}", c.pooling == Pooling::mean ? "mean" : "cls", c.normalize ? ", L2-normalised" : ""));
  } else {
    line("rope", fmt::format("theta {}, {} layout, scaling {}{}", c.rope_theta,
                             c.rope_layout == RopeLayout::rotate_half ? "rotate-half" : "interleaved", c.rope_scaling.type,
                             m.weights.rope_freqs ? " (rope_freqs tensor)" : ""));
    line("tied embeddings", c.tied_embeddings ? "yes" : "no");
    line("qkv bias", c.qkv_bias ? "yes" : "no");
  }
  const TokenizerSpec& t = m.tokenizer->spec();
  const char* kind = t.kind == TokenizerKind::byte_level_bpe ? "byte-level BPE"
                     : t.kind == TokenizerKind::sentencepiece_bpe ? "SentencePiece BPE (byte fallback)"
                                                                  : "WordPiece";
  line("tokenizer", fmt::format("{}, {} tokens{}", kind, t.tokens.size(),
                                t.kind == TokenizerKind::byte_level_bpe ? fmt::format(", {} merges, pre-tokenizer {}", t.merges.size(), t.pre_tokenizer) : ""));
  auto tok = [&](std::optional<TokenId> id) {
    return id ? fmt::format("{} ({})", t.tokens[static_cast<size_t>(*id)], *id) : std::string("-");
  };
  line("bos / eos", fmt::format("{} / {}", tok(t.bos), tok(t.eos)));
  std::string eog;
  for (TokenId id : m.generation.eos_ids) eog += (eog.empty() ? "" : ", ") + tok(id);
  line("end of generation", eog.empty() ? "-" : eog);
  line("add bos / eos", fmt::format("{} / {}", t.add_bos, t.add_eos));
  out += "\ntensors:\n";
  for (const auto& tensor : m.all_tensors) {
    out += fmt::format("  {:<48} {:<6} {}\n", tensor.name, dtype_info(tensor.dtype).name, tensor.shape_string());
  }
  out += "\nchat template:\n";
  out += m.chat_template.empty() ? "  (none)\n" : m.chat_template + (m.chat_template.ends_with('\n') ? "" : "\n");
  return out;
}

}  // namespace llmp::engine
