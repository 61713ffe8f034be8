#pragma once
// Idempotency-Key for non-streaming generation requests: the first request with a key runs;
// a repeat with the same key (same tenant and API key) gets the stored answer back without
// running or billing again; a repeat while the first still runs gets 409; a repeat with a
// different body gets 422. Kept in memory for a day, at most `capacity` keys (oldest dropped).

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "llmp/net/http.h"

namespace llmp::api {

class IdempotencyCache {
 public:
  explicit IdempotencyCache(size_t capacity = 10000, std::chrono::seconds ttl = std::chrono::hours(24))
      : capacity_(capacity), ttl_(ttl) {}

  enum class Outcome { run, replay, in_progress, mismatch };
  struct Begin {
    Outcome outcome = Outcome::run;
    net::Response stored;  // when replay
  };
  //! Claims `key` for a request whose body hashes to `body_hash`, or says why not.
  Begin begin(const std::string& key, uint64_t body_hash);
  //! Stores the answer of a claimed key (answers of 5xx are not kept: the key may run again).
  void finish(const std::string& key, const net::Response& answer);
  //! Releases a claimed key without an answer to keep.
  void abandon(const std::string& key);

 private:
  struct Entry {
    uint64_t body_hash = 0;
    bool done = false;
    net::Response answer;
    std::chrono::steady_clock::time_point at;
    std::list<std::string>::iterator order;
  };
  void evict(std::chrono::steady_clock::time_point now);

  size_t capacity_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // oldest first
};

}  // namespace llmp::api
