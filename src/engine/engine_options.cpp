#include "llmp/engine/engine_options.h"

namespace llmp::engine {

void declare_settings(SettingsRegistry& r, EngineOptions& o) {
  r.describe_section("engine", "The inference engine: devices, the models loaded at start, and the KV cache.");
  r.add(StringSetting{.section = "engine", .key = "device", .target = &o.device, .default_value = "auto",
                      .help = "\"auto\" takes a GPU when one is present, else the CPU; \"cpu\"; or \"cuda:N\"."});
  r.add(StringListSetting{.section = "engine", .key = "models", .target = &o.models, .default_value = {},
                          .help = "Models to load at start: a GGUF file or a Hugging Face folder, as \"path\" or "
                                  "\"name=path\" (the name clients use; default: the file or folder name). "
                                  "--model adds one."});
  r.add(BoolSetting{.section = "engine", .key = "demo_model", .target = &o.demo_model, .default_value = true,
                    .help = "With no model configured, generate and serve a small model with random weights "
                            "(\"demo-random-weights\") so the API answers out of the box. Its output is noise."});
  r.add(StringSetting{.section = "engine", .key = "chat_template_fallback", .target = &o.chat_template_fallback,
                      .default_value = "chatml",
                      .help = "Chat template for models that ship none (\"\" refuses chat requests for them).",
                      .choices = {"", "chatml", "llama3"}});
  r.add(IntSetting{.section = "engine", .key = "threads", .target = &o.threads, .default_value = 0, .min = 0,
                   .max = 1024, .help = "Compute threads per model (0: one per core)."});
  r.add(IntSetting{.section = "engine", .key = "kv_cache_mb", .target = &o.kv_cache_mb, .default_value = 0, .min = 0,
                   .max = int64_t{1} << 30,
                   .help = "KV cache budget per model in MiB (0: kv_cache_fraction of physical memory). The "
                           "context and sequence limits are derived from it and logged at start."});
  r.add(NumberSetting{.section = "engine", .key = "kv_cache_fraction", .target = &o.kv_cache_fraction,
                      .default_value = 0.25, .min = 0.001, .max = 0.95,
                      .help = "KV cache budget per model as a fraction of physical memory, when kv_cache_mb is 0."});
  r.add(StringSetting{.section = "engine", .key = "kv_cache_dtype", .target = &o.kv_cache_dtype, .default_value = "f16",
                      .help = "What the KV cache stores keys and values as: \"f16\" (10-bit mantissa, values up to "
                              "±65504) or \"bf16\" (f32's range, 7-bit mantissa), for models whose keys or values "
                              "outgrow f16. Both take 16 bits.",
                      .choices = {"f16", "bf16"}});
  r.add(IntSetting{.section = "engine", .key = "block_size", .target = &o.block_size, .default_value = 16, .min = 1,
                   .max = 256, .help = "Tokens per KV cache block (the unit of sharing and prefix caching)."});
  r.add(IntSetting{.section = "engine", .key = "max_seqs", .target = &o.max_seqs, .default_value = 0, .min = 0,
                   .max = 4096, .help = "Sequences running at once per model (0: derived from the KV budget, at most 256)."});
  r.add(IntSetting{.section = "engine", .key = "max_batch_tokens", .target = &o.max_batch_tokens,
                   .default_value = 512, .min = 1, .max = 1 << 20,
                   .help = "Tokens computed per scheduler step: decode tokens plus prefill chunks."});
  r.add(IntSetting{.section = "engine", .key = "max_context", .target = &o.max_context, .default_value = 0, .min = 0,
                   .max = 1 << 24,
                   .help = "Longest sequence (prompt plus output) per request (0: the model's, capped by the budget)."});
  r.add(IntSetting{.section = "engine", .key = "max_waiting", .target = &o.max_waiting, .default_value = 256,
                   .min = 0, .max = 1 << 20,
                   .help = "Requests queued per model beyond those running; more are refused with 503 and "
                           "Retry-After (0: no limit)."});
  r.add(IntSetting{.section = "engine", .key = "grammar_mask_cache_mb", .target = &o.grammar_mask_cache_mb,
                   .default_value = 256, .min = 16, .max = int64_t{1} << 20,
                   .help = "Token masks cached for structured output (JSON schemas, regexes, GBNF grammars), all "
                           "grammars together, in MiB; past it the least recently used grammars' masks are "
                           "dropped and recomputed when needed. Gauge: llmp_grammar_mask_bytes."});
  r.add(IntSetting{.section = "engine", .key = "speculative_tokens", .target = &o.speculative_tokens,
                   .default_value = 0, .min = 0, .max = 32,
                   .help = "Speculative decoding by prompt lookup (0: off): where a sequence's last tokens stood "
                           "earlier in its prompt or output, up to this many of the tokens that followed them there "
                           "are checked in the same forward pass as the next token, and those the sampler agrees "
                           "with are kept. The output is the one decoding a token at a time gives; text that repeats "
                           "(quoting the prompt, editing code) comes in fewer steps. A request's OpenAI "
                           "`prediction` drafts the same way, also when this is 0. Host sampling only (not on a "
                           "GPU that samples on the device). Counters: llmp_spec_decode_*_tokens_total."});
  r.add(IntSetting{.section = "engine", .key = "speculative_ngram_min", .target = &o.speculative_ngram_min,
                   .default_value = 2, .min = 1, .max = 64,
                   .help = "Speculative decoding: the fewest last tokens that must repeat to draft."});
  r.add(IntSetting{.section = "engine", .key = "speculative_ngram_max", .target = &o.speculative_ngram_max,
                   .default_value = 4, .min = 1, .max = 64,
                   .help = "Speculative decoding: the most last tokens matched (longer matches are tried first)."});
  r.add(IntSetting{.section = "engine", .key = "speculative_max_batch", .target = &o.speculative_max_batch,
                   .default_value = 1, .min = 1, .max = 4096,
                   .help = "Speculative decoding drafts only while at most this many sequences run. Batched decode "
                           "keeps the compute busy already: on a 2-core CPU, drafts that all held gave 1.3x at 2 "
                           "sequences and 1.1x at 4 (bench/RESULTS.md), where failed ones cost more."});
}

EngineConfig EngineOptions::engine_config() const {
  EngineConfig c;
  c.device = device == "auto" ? "cpu" : device;  // main resolves "auto" against the devices found
  c.threads = static_cast<int>(threads);
  c.kv_cache_bytes = kv_cache_mb * 1024 * 1024;
  c.kv_cache_fraction = kv_cache_fraction;
  c.kv_cache_dtype = kv_cache_dtype;
  c.block_size = block_size;
  c.max_seqs = max_seqs;
  c.max_batch_tokens = max_batch_tokens;
  c.max_context = max_context;
  c.max_waiting = max_waiting;
  c.speculative_tokens = speculative_tokens;
  c.speculative_ngram_min = speculative_ngram_min;
  c.speculative_ngram_max = speculative_ngram_max;
  c.speculative_max_batch = speculative_max_batch;
  return c;
}

}  // namespace llmp::engine
