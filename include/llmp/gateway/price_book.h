#pragma once
// The prices the inference API charges, in memory: loaded from the store at start and after
// each change, read on the request path under a short lock (a shared_ptr copy), never the disk.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::gateway {

//! A model's price from `effective_from` on: currency-neutral amounts per 1M tokens.
struct Price {
  std::string model;
  double input_per_million = 0;
  double output_per_million = 0;
  double cached_input_per_million = 0;
  int64_t effective_from = 0;  // unix seconds
  double per_gpu_hour = 0;     // engine time of a local model (the usage ledger charges it)
};

//! What a request's tokens cost at `price`: uncached prompt tokens at the input price, cached
//! prompt tokens at the cached price, completion tokens at the output price.
double cost_of(const Price& price, int64_t prompt_tokens, int64_t cached_tokens, int64_t completion_tokens);

class PriceBook {
 public:
  //! Replaces every price (any order; a model may have several effective dates).
  void set_prices(std::vector<Price> prices);

  //! The price of `model` in force at `at` (unix seconds): the latest effective_from <= at;
  //! nullopt when the model has none (it costs nothing).
  std::optional<Price> price_at(std::string_view model, int64_t at) const;

 private:
  // model → its prices, by effective_from ascending.
  using Table = std::map<std::string, std::vector<Price>, std::less<>>;
  mutable std::mutex mu_;  // guards the pointer only; a Table is never changed once published
  std::shared_ptr<const Table> table_ = std::make_shared<const Table>();
};

}  // namespace llmp::gateway
