#include "grammar/grammar.h"

#include <algorithm>

namespace llmp::engine::grammar {

NodeId Grammar::add(NodeKind kind, uint32_t index, std::string path) {
  Node n;
  n.kind = kind;
  n.index = index;
  n.path = std::move(path);
  nodes_.push_back(std::move(n));
  return static_cast<NodeId>(nodes_.size() - 1);
}

NodeId Grammar::add_alias(std::string path) {
  return add(NodeKind::alias, kNoNode, std::move(path));
}

void Grammar::set_alias_target(NodeId alias, NodeId target) {
  nodes_[alias].index = target;
}

NodeId Grammar::add_any_of(AnyOfNode n, std::string path) {
  any_ofs_.push_back(std::move(n));
  return add(NodeKind::any_of, static_cast<uint32_t>(any_ofs_.size() - 1), std::move(path));
}

NodeId Grammar::add_object(ObjectNode n, std::string path) {
  const auto count = static_cast<uint32_t>(n.properties.size());
  for (uint32_t i = 0; i < count; ++i) n.keys.insert(n.properties[i].name, static_cast<int32_t>(i));
  n.keys.freeze();
  n.next_required.assign(count + 1, count);
  for (uint32_t i = count; i-- > 0;) n.next_required[i] = n.properties[i].required ? i : n.next_required[i + 1];
  objects_.push_back(std::move(n));
  return add(NodeKind::object, static_cast<uint32_t>(objects_.size() - 1), std::move(path));
}

NodeId Grammar::add_array(ArrayNode n, std::string path) {
  arrays_.push_back(n);
  return add(NodeKind::array, static_cast<uint32_t>(arrays_.size() - 1), std::move(path));
}

NodeId Grammar::add_string(StringNode n, std::string path) {
  strings_.push_back(n);
  return add(NodeKind::string, static_cast<uint32_t>(strings_.size() - 1), std::move(path));
}

NodeId Grammar::add_number(NumberNode n, std::string path) {
  numbers_.push_back(n);
  return add(NodeKind::number, static_cast<uint32_t>(numbers_.size() - 1), std::move(path));
}

NodeId Grammar::add_literal(const std::vector<std::string>& values, std::string path) {
  LiteralNode n;
  for (size_t i = 0; i < values.size(); ++i) n.values.insert(values[i], static_cast<int32_t>(i));
  n.values.freeze();
  literals_.push_back(std::move(n));
  return add(NodeKind::literal, static_cast<uint32_t>(literals_.size() - 1), std::move(path));
}

NodeId Grammar::add_text(TextNode n, std::string path) {
  texts_.push_back(n);
  return add(NodeKind::text, static_cast<uint32_t>(texts_.size() - 1), std::move(path));
}

const FormatAutomaton* Grammar::own(FormatAutomaton automaton) {
  pattern_states_ += automaton.states();
  patterns_.push_back(std::make_unique<const FormatAutomaton>(std::move(automaton)));
  return patterns_.back().get();
}

const LengthTable* Grammar::own(LengthTable table) {
  length_cells_ += table.cells();
  length_tables_.push_back(std::make_unique<const LengthTable>(std::move(table)));
  return length_tables_.back().get();
}

NodeId Grammar::any_value() {
  if (any_value_ != kNoNode) return any_value_;
  any_value_ = add_any_of({}, "(any value)");
  ObjectNode object;
  object.additional = any_value_;
  any_object_ = add_object(std::move(object), "(any object)");
  ArrayNode array;
  array.items = any_value_;
  const NodeId array_id = add_array(array, "(any array)");
  const NodeId string_id = add_string({}, "(any string)");
  const NodeId number_id = add_number({}, "(any number)");
  const NodeId literal_id = add_literal({"true", "false", "null"}, "(true, false or null)");
  any_ofs_[nodes_[any_value_].index].alternatives = {any_object_, array_id, string_id, number_id, literal_id};
  return any_value_;
}

NodeId Grammar::any_object() {
  any_value();
  return any_object_;
}

Result<NodeId> Grammar::resolve(NodeId id) const {
  for (size_t steps = 0; nodes_[id].kind == NodeKind::alias; ++steps) {
    if (steps > nodes_.size()) {
      return error(StatusCode::invalid_argument, "circular $ref at " + nodes_[id].path + ": it never reaches a schema");
    }
    if (nodes_[id].index == kNoNode) {
      return error(StatusCode::internal, "unresolved reference at " + nodes_[id].path);
    }
    id = nodes_[id].index;
  }
  return id;
}

Result<void> Grammar::flatten(NodeId any_of, std::vector<NodeId>& out, std::vector<uint8_t>& visiting) const {
  visiting[any_of] = 1;
  for (const NodeId alt : any_ofs_[nodes_[any_of].index].alternatives) {
    if (nodes_[alt].kind == NodeKind::any_of) {
      // An any-of that contains itself adds nothing by that branch (its values are the least
      // fixed point of the others).
      if (!visiting[alt]) LLMP_TRY_VOID(flatten(alt, out, visiting));
    } else if (std::find(out.begin(), out.end(), alt) == out.end()) {
      out.push_back(alt);
    }
  }
  visiting[any_of] = 0;
  return ok();
}

void Grammar::compute_first_bytes() {
  for (Node& n : nodes_) {
    n.first = {};
    const auto set = [&n](int b) { n.first[static_cast<size_t>(b) >> 6] |= uint64_t{1} << (b & 63); };
    switch (n.kind) {
      case NodeKind::object: set('{'); break;
      case NodeKind::array: set('['); break;
      case NodeKind::string: set('"'); break;
      case NodeKind::number:
        set('-');
        for (int d = '0'; d <= '9'; ++d) set(d);
        break;
      case NodeKind::literal:
        for (const uint8_t b : literals_[n.index].values.first_bytes()) set(b);
        break;
      case NodeKind::text: {
        const FormatAutomaton& a = *texts_[n.index].automaton;
        for (int b = 0; b < 256; ++b) {
          if (a.next(a.start(), static_cast<uint8_t>(b)) != FormatAutomaton::kReject) set(b);
        }
        break;
      }
      case NodeKind::alias:
      case NodeKind::any_of:
        break;
    }
  }
}

void Grammar::compute_min_depths() {
  for (Node& n : nodes_) n.min_depth = kNoValue;
  // Smallest derivations, as a fixed point: depths only fall, so this ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (Node& n : nodes_) {
      uint32_t d = kNoValue;
      switch (n.kind) {
        case NodeKind::object: {
          const ObjectNode& o = objects_[n.index];
          uint32_t deepest = o.next_required[0] < o.properties.size() ? 1 : 0;  // the key's frame
          for (const ObjectProperty& p : o.properties) {
            if (!p.required) continue;
            deepest = std::max(deepest, nodes_[p.value].min_depth);
          }
          d = deepest == kNoValue ? kNoValue : 1 + deepest;
          break;
        }
        case NodeKind::array: {
          const ArrayNode& a = arrays_[n.index];
          if (a.min_items == 0) {
            d = 1;
          } else if (nodes_[a.items].min_depth != kNoValue) {
            d = 1 + nodes_[a.items].min_depth;
          }
          break;
        }
        case NodeKind::string:
        case NodeKind::number:
          d = 1;
          break;
        case NodeKind::literal:
          d = literals_[n.index].values.empty() ? kNoValue : 1;
          break;
        case NodeKind::text:  // its automaton has no dead states, so some text completes
          d = 1;
          break;
        case NodeKind::any_of:
          for (const NodeId alt : any_ofs_[n.index].alternatives) d = std::min(d, nodes_[alt].min_depth);
          break;
        case NodeKind::alias:
          break;
      }
      if (d < n.min_depth) {
        n.min_depth = d;
        changed = true;
      }
    }
  }
}

Result<void> Grammar::finish(NodeId root, int max_whitespace) {
  max_whitespace_ = max_whitespace;
  // Every reference points at a non-alias node from here on.
  for (ObjectNode& o : objects_) {
    for (ObjectProperty& p : o.properties) {
      auto r = resolve(p.value);
      if (!r) return std::unexpected(r.error());
      p.value = *r;
    }
    if (o.additional != kNoNode) {
      auto r = resolve(o.additional);
      if (!r) return std::unexpected(r.error());
      o.additional = *r;
    }
  }
  for (ArrayNode& a : arrays_) {
    auto r = resolve(a.items);
    if (!r) return std::unexpected(r.error());
    a.items = *r;
  }
  for (AnyOfNode& a : any_ofs_) {
    for (NodeId& alt : a.alternatives) {
      auto r = resolve(alt);
      if (!r) return std::unexpected(r.error());
      alt = *r;
    }
  }
  auto resolved_root = resolve(root);
  if (!resolved_root) return std::unexpected(resolved_root.error());
  root_ = *resolved_root;

  // Flatten each any-of to the concrete nodes it can start.
  std::vector<uint8_t> visiting(nodes_.size(), 0);
  std::vector<std::vector<NodeId>> flat(nodes_.size());
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    if (nodes_[id].kind == NodeKind::any_of) LLMP_TRY_VOID(flatten(id, flat[id], visiting));
  }
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    if (nodes_[id].kind == NodeKind::any_of) any_ofs_[nodes_[id].index].alternatives = std::move(flat[id]);
  }

  compute_first_bytes();
  compute_min_depths();

  if (nodes_[root_].min_depth == kNoValue) {
    // Follow what the root needs until a node repeats or needs nothing else: that is where
    // the schema demands itself without end (or has no value at all).
    NodeId at = root_;
    std::vector<uint8_t> seen(nodes_.size(), 0);
    for (;;) {
      seen[at] = 1;
      NodeId next = kNoNode;
      const Node& n = nodes_[at];
      if (n.kind == NodeKind::object) {
        for (const ObjectProperty& p : objects_[n.index].properties) {
          if (p.required && nodes_[p.value].min_depth == kNoValue) {
            next = p.value;
            break;
          }
        }
      } else if (n.kind == NodeKind::array) {
        next = arrays_[n.index].items;
      } else if (n.kind == NodeKind::any_of && !any_ofs_[n.index].alternatives.empty()) {
        next = any_ofs_[n.index].alternatives[0];
      }
      if (next == kNoNode || seen[next]) break;
      at = next;
    }
    return error(StatusCode::invalid_argument,
                 "no JSON value satisfies the schema at " + nodes_[at].path +
                     " (a required part refers back to itself without end, or nothing is allowed)");
  }
  if (!fits(1, root_)) {
    return error(StatusCode::invalid_argument,
                 "the schema at # needs nesting deeper than the supported " + std::to_string(kMaxStackFrames) + " frames");
  }
  return ok();
}

}  // namespace llmp::engine::grammar
