#pragma once
// Model prices as stored: currency-neutral amounts per 1M tokens (and per GPU-hour for local
// models), each in force from a time on.
// What a request costs is the gateway's PriceBook; this only keeps the prices.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct PriceRecord {
  std::string model;
  double input_per_million = 0;
  double output_per_million = 0;
  double cached_input_per_million = 0;
  double per_gpu_hour = 0;  // engine time of a local model; 0 for upstream ones
  int64_t effective_from = 0;  // unix seconds
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct AuditActor;

class PriceRepository {
 public:
  virtual ~PriceRepository() = default;
  //! Sets the price of (model, effective_from): creates it, or replaces the amounts of the one
  //! there. Earlier and later prices of the model stay. Audited (create or update) when `by` is
  //! set.
  virtual Result<PriceRecord> put(PriceRecord price, const AuditActor* by = nullptr) = 0;
  //! Every price (nullopt) or one model's, ordered by model, then effective_from.
  virtual Result<std::vector<PriceRecord>> list(const std::optional<std::string>& model) = 0;
  //! The price of `model` in force at `at` (unix seconds): the latest effective_from <= at;
  //! nullopt when the model has none yet.
  virtual Result<std::optional<PriceRecord>> in_force(const std::string& model, int64_t at) = 0;
};

}  // namespace llmp::store
