#pragma once
// The grammar a JSON Schema compiles to: a graph of value nodes (object, array, string, number,
// a set of literal values, any-of) that the recogniser follows byte by byte. Nodes refer to each
// other by id, so a recursive $ref is a cycle in the graph. Built by the schema compiler, then
// finish()ed: aliases ($ref) resolved, any-ofs flattened to concrete alternatives, and per node
// the bytes a value starts with and the stack depth its smallest value needs.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grammar/byte_trie.h"
#include "grammar/format_automaton.h"
#include "grammar/length_table.h"
#include "grammar/number_bounds.h"
#include "llmp/core/status.h"

namespace llmp::engine::grammar {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xFFFFFFFF;
//! min_depth of a node no finite value satisfies.
inline constexpr uint32_t kNoValue = 0xFFFFFFFF;
//! Recogniser frames one document may stack (one per open container, one for the key, string
//! or number being written): deep enough for any sensible output, and a bound on what a looping
//! model can nest.
inline constexpr uint32_t kMaxStackFrames = 64;

//! Limits on numbers without bounds (documented in structured_output.h).
inline constexpr int kMaxIntegerDigits = 16;
inline constexpr int kMaxFractionDigits = 15;
inline constexpr int kMaxExponentDigits = 2;
//! Numbers with minimum/maximum: fraction digits kept, integer digits allowed.
inline constexpr int kBoundedNumberScale = 6;
inline constexpr int kBoundedNumberIntDigits = 12;

enum class NodeKind : uint8_t { alias, any_of, object, array, string, number, literal, text };

struct ObjectProperty {
  std::string name;  // decoded
  NodeId value = kNoNode;
  bool required = false;
};

struct ObjectNode {
  std::vector<ObjectProperty> properties;  // in generation order: the schema's
  NodeId additional = kNoNode;             // schema of other keys; kNoNode: none may appear
  ByteTrie keys;                           // decoded names → property index
  //! [properties + 1]: the first required property at or after i, or properties.size().
  std::vector<uint32_t> next_required;
};

struct ArrayNode {
  NodeId items = kNoNode;
  uint32_t min_items = 0;
  uint32_t max_items = UINT32_MAX;
};

struct StringNode {
  uint32_t min_length = 0;  // in code points
  uint32_t max_length = UINT32_MAX;
  const FormatAutomaton* format = nullptr;
  //! With a format and min/maxLength: the lengths each automaton state can still end at.
  const LengthTable* lengths = nullptr;
  //! Code points are counted up to this (0: not counted, so the state repeats and masks cache).
  uint32_t count_limit() const { return max_length != UINT32_MAX ? max_length : min_length; }
};

struct NumberNode {
  bool integer = false;
  std::optional<NumberBounds> bounds;
};

struct LiteralNode {
  ByteTrie values;  // the bytes each value is written as: compact JSON, or a guided choice as it is
};

//! Raw text (not JSON) that an automaton accepts as a whole: vLLM's guided_regex output.
struct TextNode {
  const FormatAutomaton* automaton = nullptr;
};

struct AnyOfNode {
  std::vector<NodeId> alternatives;  // after finish(): concrete (object ... literal) nodes only
};

struct Node {
  NodeKind kind = NodeKind::alias;
  uint32_t index = 0;  // into the kind's table; alias: the target node
  uint32_t min_depth = kNoValue;  // frames the smallest value stacks
  std::array<uint64_t, 4> first{};  // bytes a value starts with (concrete nodes)
  std::string path;    // schema location ("#/properties/a"), for messages

  bool starts_with(int byte) const { return (first[static_cast<size_t>(byte) >> 6] >> (byte & 63)) & 1; }
};

class Grammar {
 public:
  NodeId add_alias(std::string path);
  void set_alias_target(NodeId alias, NodeId target);
  NodeId add_any_of(AnyOfNode n, std::string path);
  //! Builds the key trie and next_required.
  NodeId add_object(ObjectNode n, std::string path);
  NodeId add_array(ArrayNode n, std::string path);
  NodeId add_string(StringNode n, std::string path);
  NodeId add_number(NumberNode n, std::string path);
  //! `values`: the bytes of each (compact JSON; raw text for compile_choice).
  NodeId add_literal(const std::vector<std::string>& values, std::string path);
  //! `automaton` from own(); its strings are the node's values, written as they are.
  NodeId add_text(TextNode n, std::string path);
  //! Keeps a schema pattern's automaton for the grammar's lifetime; the pointer is stable.
  const FormatAutomaton* own(FormatAutomaton automaton);
  //! States of the automata kept so far (each holds a 1 KiB row per state).
  size_t pattern_states() const { return pattern_states_; }
  //! Keeps a string node's length table for the grammar's lifetime; the pointer is stable.
  const LengthTable* own(LengthTable table);
  //! Cells (bits) of the length tables kept so far.
  size_t length_cells() const { return length_cells_; }
  //! Any JSON value ("true" schema, json_object's values); one shared node.
  NodeId any_value();
  //! Any JSON object.
  NodeId any_object();

  //! Resolves aliases, flattens any-ofs, computes first bytes and min depths. invalid_argument
  //! naming the path for a $ref cycle that never reaches a value, or a root no value satisfies
  //! within the nesting limit.
  Result<void> finish(NodeId root, int max_whitespace);

  const Node& node(NodeId id) const { return nodes_[id]; }
  const ObjectNode& object(NodeId id) const { return objects_[nodes_[id].index]; }
  const ArrayNode& array(NodeId id) const { return arrays_[nodes_[id].index]; }
  const StringNode& string(NodeId id) const { return strings_[nodes_[id].index]; }
  const NumberNode& number(NodeId id) const { return numbers_[nodes_[id].index]; }
  const LiteralNode& literal(NodeId id) const { return literals_[nodes_[id].index]; }
  const TextNode& text(NodeId id) const { return texts_[nodes_[id].index]; }
  const AnyOfNode& any_of(NodeId id) const { return any_ofs_[nodes_[id].index]; }
  size_t size() const { return nodes_.size(); }

  NodeId root() const { return root_; }
  int max_whitespace() const { return max_whitespace_; }
  //! A value of `node` pushed on a stack of `stack_size` frames can be completed.
  bool fits(uint32_t stack_size, NodeId node) const {
    const uint32_t d = nodes_[node].min_depth;
    return d != kNoValue && stack_size + d <= kMaxStackFrames;
  }

 private:
  NodeId add(NodeKind kind, uint32_t index, std::string path);
  Result<NodeId> resolve(NodeId id) const;
  Result<void> flatten(NodeId any_of, std::vector<NodeId>& out, std::vector<uint8_t>& visiting) const;
  void compute_first_bytes();
  void compute_min_depths();

  std::vector<Node> nodes_;
  std::vector<ObjectNode> objects_;
  std::vector<ArrayNode> arrays_;
  std::vector<StringNode> strings_;
  std::vector<NumberNode> numbers_;
  std::vector<LiteralNode> literals_;
  std::vector<TextNode> texts_;
  std::vector<AnyOfNode> any_ofs_;
  std::vector<std::unique_ptr<const FormatAutomaton>> patterns_;  // StringNode::format points here
  std::vector<std::unique_ptr<const LengthTable>> length_tables_;  // StringNode::lengths points here
  size_t pattern_states_ = 0;
  size_t length_cells_ = 0;
  NodeId any_value_ = kNoNode, any_object_ = kNoNode;
  NodeId root_ = kNoNode;
  int max_whitespace_ = 0;
};

}  // namespace llmp::engine::grammar
