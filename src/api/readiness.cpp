#include "llmp/api/readiness.h"

#include <algorithm>

namespace llmp::api {

void Readiness::add_pending(const std::string& item) {
  std::lock_guard lock(mu_);
  pending_.push_back({item, ""});
}

void Readiness::resolve(const std::string& item) {
  std::lock_guard lock(mu_);
  std::erase_if(pending_, [&](const Item& i) { return i.name == item; });
}

void Readiness::fail(const std::string& item, const std::string& reason) {
  std::lock_guard lock(mu_);
  for (auto& i : pending_) {
    if (i.name == item) {
      i.error = reason;
      return;
    }
  }
  pending_.push_back({item, reason});
}

std::vector<Readiness::Item> Readiness::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

}  // namespace llmp::api
