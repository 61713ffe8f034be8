#include "grammar/byte_trie.h"

#include <algorithm>

namespace llmp::engine::grammar {

void ByteTrie::insert(std::string_view bytes, int32_t value) {
  uint32_t node = kRoot;
  for (const char ch : bytes) {
    const auto byte = static_cast<uint8_t>(ch);
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | byte;
    auto [it, added] = building_.try_emplace(key, static_cast<uint32_t>(nodes_.size()));
    if (added) {
      nodes_.emplace_back();
      edges_.push_back({byte, node, it->second});
    }
    node = it->second;
  }
  if (nodes_[node].value < 0) nodes_[node].value = value;
}

void ByteTrie::freeze() {
  building_.clear();
  std::sort(edges_.begin(), edges_.end(),
            [](const Edge& x, const Edge& y) { return x.from != y.from ? x.from < y.from : x.byte < y.byte; });
  for (Node& n : nodes_) n.children_begin = n.children_end = 0;
  for (uint32_t i = 0; i < edges_.size(); ++i) {
    Node& n = nodes_[edges_[i].from];
    if (n.children_end == n.children_begin) n.children_begin = i;
    n.children_end = i + 1;
  }
  // A child is always created after its parent, so going backwards visits children first.
  subtree_values_.clear();
  std::vector<int32_t> values;
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& n = nodes_[i];
    values.clear();
    if (n.value >= 0) values.push_back(n.value);
    for (uint32_t e = n.children_begin; e < n.children_end; ++e) {
      const Node& c = nodes_[edges_[e].to];
      values.insert(values.end(), subtree_values_.begin() + c.values_begin, subtree_values_.begin() + c.values_end);
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    n.values_begin = static_cast<uint32_t>(subtree_values_.size());
    subtree_values_.insert(subtree_values_.end(), values.begin(), values.end());
    n.values_end = static_cast<uint32_t>(subtree_values_.size());
  }
}

uint32_t ByteTrie::child(uint32_t node, uint8_t byte) const {
  const Node& n = nodes_[node];
  // Children are sorted by byte; an enum of thousands of strings has wide nodes.
  const auto begin = edges_.begin() + n.children_begin, end = edges_.begin() + n.children_end;
  const auto it = std::lower_bound(begin, end, byte, [](const Edge& e, uint8_t b) { return e.byte < b; });
  return it != end && it->byte == byte ? it->to : kNone;
}

std::span<const int32_t> ByteTrie::subtree_values(uint32_t node) const {
  const Node& n = nodes_[node];
  return {subtree_values_.data() + n.values_begin, n.values_end - n.values_begin};
}

std::vector<uint8_t> ByteTrie::first_bytes() const {
  std::vector<uint8_t> bytes;
  for (uint32_t e = nodes_[kRoot].children_begin; e < nodes_[kRoot].children_end; ++e) bytes.push_back(edges_[e].byte);
  return bytes;
}

}  // namespace llmp::engine::grammar
