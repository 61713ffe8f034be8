#pragma once
// A small, frozen byte trie with a value per string and, per node, the sorted values of its
// subtree: an object's declared property names (value = property index, so a key prefix can be
// checked against the properties still allowed) and an enum's serialized values.

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmp::engine::grammar {

class ByteTrie {
 public:
  static constexpr uint32_t kRoot = 0;
  static constexpr uint32_t kNone = 0xFFFFFFFF;

  //! Adds a string; the first value given for a string is kept. Not after freeze().
  void insert(std::string_view bytes, int32_t value);
  //! Sorts children and collects subtree values; the trie is read-only afterwards.
  void freeze();

  //! The child of `node` by `byte`, or kNone.
  uint32_t child(uint32_t node, uint8_t byte) const;
  //! The value of the string ending at `node`, or -1.
  int32_t value(uint32_t node) const { return nodes_[node].value; }
  bool has_children(uint32_t node) const { return nodes_[node].children_end > nodes_[node].children_begin; }
  //! Values of the strings at or below `node`, ascending.
  std::span<const int32_t> subtree_values(uint32_t node) const;
  //! Bytes the strings start with.
  std::vector<uint8_t> first_bytes() const;
  bool empty() const { return nodes_.size() <= 1 && nodes_[0].value < 0; }

 private:
  struct Node {
    int32_t value = -1;
    uint32_t children_begin = 0, children_end = 0;  // into edges_ (after freeze)
    uint32_t values_begin = 0, values_end = 0;      // into subtree_values_ (after freeze)
  };
  struct Edge {
    uint8_t byte;
    uint32_t from, to;
  };

  std::vector<Node> nodes_{Node{}};
  std::vector<Edge> edges_;  // while building: unordered; after freeze: grouped by parent, by byte
  std::vector<int32_t> subtree_values_;
  std::unordered_map<uint64_t, uint32_t> building_;  // (node << 8 | byte) → child, until freeze()
};

}  // namespace llmp::engine::grammar
