#include "llmp/gateway/price_book.h"

#include <algorithm>

namespace llmp::gateway {

double cost_of(const Price& price, int64_t prompt_tokens, int64_t cached_tokens, int64_t completion_tokens) {
  // The engine never reports more cached tokens than the prompt has; clamp so a bad report
  // cannot make the uncached part negative.
  const int64_t cached = std::clamp<int64_t>(cached_tokens, 0, std::max<int64_t>(0, prompt_tokens));
  const double amount = static_cast<double>(prompt_tokens - cached) * price.input_per_million +
                        static_cast<double>(cached) * price.cached_input_per_million +
                        static_cast<double>(completion_tokens) * price.output_per_million;
  return amount / 1e6;
}

void PriceBook::set_prices(std::vector<Price> prices) {
  auto table = std::make_shared<Table>();
  for (auto& p : prices) (*table)[p.model].push_back(std::move(p));
  for (auto& [model, list] : *table) {
    std::sort(list.begin(), list.end(), [](const Price& a, const Price& b) { return a.effective_from < b.effective_from; });
  }
  std::lock_guard lock(mu_);
  table_ = std::move(table);
}

std::optional<Price> PriceBook::price_at(std::string_view model, int64_t at) const {
  std::shared_ptr<const Table> table;
  {
    std::lock_guard lock(mu_);
    table = table_;
  }
  const auto found = table->find(model);
  if (found == table->end()) return std::nullopt;
  const auto& list = found->second;
  // The first price starting after `at`; the one before it is in force.
  const auto after = std::upper_bound(list.begin(), list.end(), at,
                                      [](int64_t t, const Price& p) { return t < p.effective_from; });
  if (after == list.begin()) return std::nullopt;
  return *std::prev(after);
}

}  // namespace llmp::gateway
