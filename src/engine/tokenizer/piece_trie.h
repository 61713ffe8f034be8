#pragma once
// A byte trie of pieces, for the two searches that need the longest piece at a position:
// finding added tokens (control and user-defined pieces such as "<|eot_id|>" or "[CLS]") in
// text, leftmost first and of those the longest, as Hugging Face's AddedVocabulary does; and
// WordPiece's greedy longest match.

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace llmp::engine::tokenizer {

class PieceTrie {
 public:
  struct Match {
    size_t begin;
    size_t end;
    int32_t id;  // -1: no match
  };

  //! Adds a piece; an empty one is ignored, a repeated one keeps its first id.
  void add(std::string_view piece, int32_t id);
  bool empty() const { return nodes_.size() <= 1; }

  //! The longest piece that `text` has at `pos`.
  Match longest_at(std::string_view text, size_t pos) const;
  //! The first position at or after `from` where a piece starts, with the longest piece there.
  Match find_next(std::string_view text, size_t from) const;

 private:
  // Children of a node are kept sorted by byte; the root's are also in a direct table, so the
  // common case (a byte no piece starts with) costs one load.
  struct Node {
    int32_t id = -1;  // piece ending here, or -1
    std::vector<std::pair<unsigned char, uint32_t>> children;
  };
  int32_t child(uint32_t node, unsigned char byte) const;

  std::vector<Node> nodes_{Node{}};
  std::array<int32_t, 256> root_{[] {
    std::array<int32_t, 256> t{};
    t.fill(-1);
    return t;
  }()};
};

}  // namespace llmp::engine::tokenizer
