#include "llmp/api/idempotency.h"

namespace llmp::api {

void IdempotencyCache::evict(std::chrono::steady_clock::time_point now) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    const bool expired = it != entries_.end() && it->second.done && now - it->second.at > ttl_;
    if (!expired && entries_.size() <= capacity_) break;
    if (it != entries_.end() && !it->second.done && entries_.size() <= capacity_) break;  // running: keep
    if (it != entries_.end()) entries_.erase(it);
    order_.pop_front();
  }
}

IdempotencyCache::Begin IdempotencyCache::begin(const std::string& key, uint64_t body_hash) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  evict(now);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.body_hash != body_hash) return {Outcome::mismatch, {}};
    if (!e.done) return {Outcome::in_progress, {}};
    return {Outcome::replay, e.answer};
  }
  order_.push_back(key);
  Entry e;
  e.body_hash = body_hash;
  e.at = now;
  e.order = std::prev(order_.end());
  entries_.emplace(key, std::move(e));
  return {Outcome::run, {}};
}

void IdempotencyCache::finish(const std::string& key, const net::Response& answer) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (answer.status >= 500 || answer.stream) {
    order_.erase(it->second.order);
    entries_.erase(it);
    return;
  }
  it->second.done = true;
  it->second.answer = answer;
  it->second.at = std::chrono::steady_clock::now();
}

void IdempotencyCache::abandon(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.done) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace llmp::api
