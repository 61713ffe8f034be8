#pragma once
// Where a decoder's forward pass runs. The scheduler, block manager and sampler are shared by
// every backend; a backend owns the weights in its memory, the KV blocks, and the math.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "llmp/core/status.h"
#include "kv_cache/kv_storage.h"
#include "llmp/engine/sampling.h"
#include "model/decoder.h"
#include "model/loaded_model.h"

namespace llmp::engine {

class ThreadPool;

//! How one logits row is to be sampled by a backend that samples on its device: the host
//! Sampler's inputs for that step (see src/engine/sampling/sampler.h).
struct RowSampling {
  const SamplingParams* params = nullptr;
  double uniform = 0;                       //!< the sequence's draw (Sampler::next_uniform); unused when greedy
  std::span<const TokenId> seen;            //!< tokens the repetition penalty applies to
  std::span<const TokenId> output_tokens;   //!< generated tokens, distinct ...
  std::span<const int32_t> output_counts;   //!< ... and how often each was generated
  std::span<const uint64_t> allowed;        //!< the tokens that may be sampled, as bits; empty: any
  bool suppress_eos = false;                //!< before min_tokens: end-of-generation ids are banned
};

class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  //! "cpu", "cuda:0".
  virtual std::string name() const = 0;
  //! KV blocks this backend holds (decided from its memory budget at creation).
  virtual int64_t kv_blocks() const = 0;
  //! Runs a batch of sequence chunks. Returns one logits row of vocab_size per requested
  //! token, in batch order: [rows, vocab] f32 in host memory the backend owns (pinned for
  //! the CUDA backend, so the copy off the device runs at full speed), valid and writable
  //! until the next forward.
  virtual std::span<float> forward(std::span<const SequenceChunk> batch) = 0;
  //! Whether forward_sampled() is available: sampling on the device, so that only chosen ids
  //! and requested logprobs cross to the host.
  virtual bool samples_on_device() const { return false; }
  //! forward(), then logits row i sampled under rows[i] into ids[i] (and logprobs[i] when
  //! rows[i].params->logprobs, from the raw logits as the host Sampler reports them).
  //! rows.size() is the number of logits rows of the batch; no chunk may ask for all_logits.
  //! Same results as the host Sampler given the same uniform draws, up to rounding at the
  //! edges of the kept set.
  //! (Only called when samples_on_device().)
  virtual void forward_sampled(std::span<const SequenceChunk> /*batch*/, std::span<const RowSampling> /*rows*/,
                               std::span<const TokenId> /*eos_ids*/, std::span<TokenId> /*ids*/,
                               std::span<TokenLogprob> /*logprobs*/) {
    std::abort();
  }
  //! Copies block `src` to `dst` in every layer (copy-on-write).
  virtual void copy_block(int64_t src, int64_t dst) = 0;
};

//! KV memory for the CPU backend: `kv_budget_bytes` of host memory (reserved lazily), K and V
//! stored as `kv_type`.
Result<std::unique_ptr<DecoderBackend>> make_cpu_backend(const LoadedModel& model, ThreadPool& pool, int64_t block_size,
                                                         int64_t kv_budget_bytes, KvType kv_type);

//! The CUDA backend on device `device`: weights uploaded, KV blocks sized from
//! `free_memory_fraction` of the device's free memory after the weights. unavailable when this
//! binary has no CUDA or the device cannot be used; resource_exhausted naming the model and the
//! bytes asked for when the weights do not fit.
Result<std::unique_ptr<DecoderBackend>> make_cuda_backend(const LoadedModel& model, int device, int64_t block_size,
                                                          double free_memory_fraction, KvType kv_type);

}  // namespace llmp::engine
