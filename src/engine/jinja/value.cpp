// Value and Object: the data model shared by the interpreter and its callers.

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <functional>

#include "jinja/native.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja {

namespace {
// Dicts up to this size are searched linearly: chat messages have a handful of keys.
constexpr size_t kIndexThreshold = 12;

const std::string& empty_string() {
  static const std::string empty;
  return empty;
}
}  // namespace

Value::Value(std::string s) : kind_(Kind::string), ptr_(std::make_shared<std::string>(std::move(s))) {}

namespace {
uint16_t nested_depth(uint16_t child_max) {
  return child_max == UINT16_MAX ? child_max : static_cast<uint16_t>(child_max + 1);
}
}  // namespace

Value::Value(Array items, Flavor flavor) : kind_(Kind::array), flavor_(flavor) {
  uint16_t deepest = 0;
  for (const Value& item : items) deepest = std::max(deepest, item.depth_);
  depth_ = nested_depth(deepest);
  ptr_ = std::make_shared<Array>(std::move(items));
}

Value::Value(Object object) : kind_(Kind::object) {
  uint16_t deepest = 0;
  for (const auto& item : object.items()) deepest = std::max(deepest, item.second.depth_);
  depth_ = nested_depth(deepest);
  ptr_ = std::make_shared<Object>(std::move(object));
}

Value Value::object(std::initializer_list<std::pair<std::string_view, Value>> items) {
  Object object;
  for (const auto& [key, value] : items) object.set(std::string(key), value);
  return Value(std::move(object));
}

Value Value::array(std::initializer_list<Value> items) {
  return Value(Array(items));
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.flavor_ = Flavor::markup;
  return v;
}

Value Value::undefined(const std::string* hint) noexcept {
  Value v;
  v.scalar_.hint = hint;
  return v;
}

Value Value::native(std::shared_ptr<detail::Native> native) {
  Value v;
  v.kind_ = Kind::native;
  v.depth_ = 1;
  v.ptr_ = std::move(native);
  return v;
}

double Value::as_double() const {
  switch (kind_) {
    case Kind::floating:
      return scalar_.d;
    case Kind::integer:
      return static_cast<double>(scalar_.i);
    case Kind::boolean:
      return scalar_.b ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

const std::string& Value::as_string() const {
  assert(kind_ == Kind::string);
  return *static_cast<const std::string*>(ptr_.get());
}

const Array& Value::as_array() const {
  assert(kind_ == Kind::array);
  return *static_cast<const Array*>(ptr_.get());
}

const Object& Value::as_object() const {
  assert(kind_ == Kind::object);
  return *static_cast<const Object*>(ptr_.get());
}

detail::Native& Value::as_native() const {
  assert(kind_ == Kind::native);
  return *static_cast<detail::Native*>(ptr_.get());
}

std::string_view Value::undefined_hint() const {
  if (kind_ != Kind::undefined || scalar_.hint == nullptr) return empty_string();
  return *scalar_.hint;
}

bool Value::same_as(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::undefined:
    case Kind::none:
      return true;
    case Kind::boolean:
      return scalar_.b == other.scalar_.b;
    case Kind::integer:
      return scalar_.i == other.scalar_.i;
    case Kind::floating:
      return scalar_.d == other.scalar_.d;
    default:
      return ptr_ == other.ptr_;
  }
}

void Object::rebuild_index() {
  size_t capacity = 16;
  while (capacity < items_.size() * 2) capacity *= 2;
  index_.assign(capacity, -1);
  const size_t mask = capacity - 1;
  for (size_t i = 0; i < items_.size(); ++i) {
    size_t slot = std::hash<std::string_view>{}(items_[i].first) & mask;
    while (index_[slot] != -1) slot = (slot + 1) & mask;
    index_[slot] = static_cast<int32_t>(i);
  }
}

const Value* Object::find(std::string_view key) const {
  if (index_.empty()) {
    for (const auto& item : items_) {
      if (item.first == key) return &item.second;
    }
    return nullptr;
  }
  const size_t mask = index_.size() - 1;
  size_t slot = std::hash<std::string_view>{}(key)&mask;
  while (index_[slot] != -1) {
    const auto& item = items_[static_cast<size_t>(index_[slot])];
    if (item.first == key) return &item.second;
    slot = (slot + 1) & mask;
  }
  return nullptr;
}

void Object::set(std::string key, Value value) {
  if (const Value* existing = find(key)) {
    *const_cast<Value*>(existing) = std::move(value);
    return;
  }
  items_.emplace_back(std::move(key), std::move(value));
  if (items_.size() > kIndexThreshold) {
    if (index_.empty() || items_.size() * 2 > index_.size()) {
      rebuild_index();
    } else {
      const size_t mask = index_.size() - 1;
      size_t slot = std::hash<std::string_view>{}(items_.back().first) & mask;
      while (index_[slot] != -1) slot = (slot + 1) & mask;
      index_[slot] = static_cast<int32_t>(items_.size() - 1);
    }
  }
}

}  // namespace llmp::engine::jinja
