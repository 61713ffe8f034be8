#include "tokenizer/piece_trie.h"

#include <algorithm>

namespace llmp::engine::tokenizer {

namespace {

bool byte_less(const std::pair<unsigned char, uint32_t>& edge, unsigned char byte) {
  return edge.first < byte;
}

}  // namespace

int32_t PieceTrie::child(uint32_t node, unsigned char byte) const {
  if (node == 0) return root_[byte];
  const auto& c = nodes_[node].children;
  const auto it = std::lower_bound(c.begin(), c.end(), byte, byte_less);
  return it != c.end() && it->first == byte ? static_cast<int32_t>(it->second) : -1;
}

void PieceTrie::add(std::string_view piece, int32_t id) {
  if (piece.empty()) return;
  uint32_t node = 0;
  for (const char ch : piece) {
    const unsigned char byte = static_cast<unsigned char>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      if (node == 0) root_[byte] = next;
      auto& c = nodes_[node].children;
      c.insert(std::lower_bound(c.begin(), c.end(), byte, byte_less), {byte, static_cast<uint32_t>(next)});
    }
    node = static_cast<uint32_t>(next);
  }
  if (nodes_[node].id < 0) nodes_[node].id = id;
}

PieceTrie::Match PieceTrie::longest_at(std::string_view text, size_t pos) const {
  Match best{pos, pos, -1};
  int32_t node = pos < text.size() ? root_[static_cast<unsigned char>(text[pos])] : -1;
  for (size_t i = pos + 1; node >= 0; ++i) {
    if (nodes_[static_cast<size_t>(node)].id >= 0) best = {pos, i, nodes_[static_cast<size_t>(node)].id};
    if (i == text.size()) break;
    node = child(static_cast<uint32_t>(node), static_cast<unsigned char>(text[i]));
  }
  return best;
}

PieceTrie::Match PieceTrie::find_next(std::string_view text, size_t from) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    if (root_[static_cast<unsigned char>(text[pos])] < 0) continue;
    const Match match = longest_at(text, pos);
    if (match.id >= 0) return match;
  }
  return {text.size(), text.size(), -1};
}

}  // namespace llmp::engine::tokenizer
