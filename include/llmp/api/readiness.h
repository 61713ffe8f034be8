#pragma once
// What must finish before the server is ready (migrations, configured models). Thread-safe.

#include <mutex>
#include <string>
#include <vector>

namespace llmp::api {

class Readiness {
 public:
  //! Marks `item` ("migrations", "model llama-1b") as pending.
  void add_pending(const std::string& item);
  //! Marks `item` done.
  void resolve(const std::string& item);
  //! Marks `item` failed: it stays pending with the reason shown in /readyz.
  void fail(const std::string& item, const std::string& reason);

  struct Item {
    std::string name;
    std::string error;  // empty while simply pending
  };
  std::vector<Item> pending() const;

 private:
  mutable std::mutex mu_;
  std::vector<Item> pending_;
};

}  // namespace llmp::api
