#pragma once
// A Jinja2 interpreter for chat templates, compatible byte for byte with Python's jinja2 as
// Hugging Face transformers configures it: ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True, extensions=[loopcontrols]), `tojson` as json.dumps, and the globals
// raise_exception(msg) and strftime_now(fmt). Values follow Python's semantics (printing,
// truthiness, arithmetic, comparisons), since templates are written against them.
//
// Parse once, render many: a Template is immutable and may be rendered from several threads.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine::jinja {

class Value;
class Object;

namespace detail {
class Native;    // macros, built-in functions, namespaces, loop state
struct Program;  // a parsed template
}  // namespace detail

//! A Python list (or tuple) of values.
using Array = std::vector<Value>;

//! A template value: Python's None, bool, int, float, str, list, dict, plus Jinja's Undefined
//! and internal objects. Copies are cheap (strings, lists and dicts are shared, immutable).
class Value {
 public:
  enum class Kind : uint8_t {
    undefined,  // a missing variable or attribute: prints as "", is falsy
    none,
    boolean,
    integer,
    floating,
    string,
    array,
    object,
    native,  // internal: macros, functions, namespaces, loop state
  };
  //! How an array or string behaves where Python tells its types apart.
  enum class Flavor : uint8_t {
    list,      // arrays: a list; strings: a plain str
    tuple,     // prints as (a, b)
    iterator,  // a generator (map, select, ...): always truthy, has no length, not indexable
    markup,    // a string marked safe (|safe, |escape): what is added to it gets HTML-escaped
  };

  //! Undefined.
  Value() noexcept : kind_(Kind::undefined) {}
  //! None.
  Value(std::nullptr_t) noexcept : kind_(Kind::none) {}
  //! True or False.
  Value(bool b) noexcept : kind_(Kind::boolean) { scalar_.b = b; }
  //! An int (Python ints are unbounded; ours are int64 and overflow is an error).
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Value(T i)
  noexcept : kind_(Kind::integer) { scalar_.i = static_cast<int64_t>(i); }
  //! A float.
  Value(double d) noexcept : kind_(Kind::floating) { scalar_.d = d; }
  //! A str (UTF-8).
  Value(std::string s);
  //! A str (UTF-8), copied.
  Value(std::string_view s) : Value(std::string(s)) {}
  //! A str (UTF-8), copied.
  Value(const char* s) : Value(std::string(s)) {}
  //! A list, or a tuple or generator by `flavor`.
  Value(Array items, Flavor flavor = Flavor::list);
  //! A dict.
  Value(Object object);

  //! A dict from key/value pairs, in that order (a repeated key keeps its first position).
  static Value object(std::initializer_list<std::pair<std::string_view, Value>> items);
  //! A list.
  static Value array(std::initializer_list<Value> items);
  //! Undefined, naming what was missing for error messages (`hint` must outlive the value).
  static Value undefined(const std::string* hint) noexcept;
  //! A string marked safe (markupsafe.Markup), as |safe and |escape return.
  static Value markup(std::string s);
  //! Wraps an internal object.
  static Value native(std::shared_ptr<detail::Native> native);

  //! What the value is.
  Kind kind() const { return kind_; }
  //! List, tuple or generator for arrays; plain or Markup for strings.
  Flavor flavor() const { return flavor_; }
  //! Kind tests.
  bool is_undefined() const { return kind_ == Kind::undefined; }
  bool is_none() const { return kind_ == Kind::none; }
  bool is_bool() const { return kind_ == Kind::boolean; }
  bool is_int() const { return kind_ == Kind::integer; }
  bool is_float() const { return kind_ == Kind::floating; }
  //! int, float or bool (bool is an int in Python).
  bool is_number() const { return kind_ == Kind::integer || kind_ == Kind::floating || kind_ == Kind::boolean; }
  bool is_string() const { return kind_ == Kind::string; }
  //! A string marked safe.
  bool is_markup() const { return kind_ == Kind::string && flavor_ == Flavor::markup; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_native() const { return kind_ == Kind::native; }

  //! The payload; calling the accessor of another kind is a bug (checked in debug builds).
  bool as_bool() const { return scalar_.b; }
  //! The int (a bool reads as 0 or 1).
  int64_t as_int() const { return kind_ == Kind::boolean ? (scalar_.b ? 1 : 0) : scalar_.i; }
  //! The number as a double (ints and bools convert).
  double as_double() const;
  //! The string's UTF-8 bytes.
  const std::string& as_string() const;
  //! The list's items.
  const Array& as_array() const;
  //! The dict.
  const Object& as_object() const;
  //! The internal object (interpreter use).
  detail::Native& as_native() const;

  //! What an undefined value stands for ("messages", "content"), or "" when unknown.
  std::string_view undefined_hint() const;

  //! How deeply lists and dicts nest in this value: 0 for scalars, 1 for a flat list (saturates
  //! at 65535). The interpreter refuses to build values nested deeper than it can walk safely.
  uint16_t depth() const { return depth_; }

  //! True when both share the same payload (Python's `is`).
  bool same_as(const Value& other) const;

 private:
  Kind kind_;
  Flavor flavor_ = Flavor::list;
  uint16_t depth_ = 0;  // nesting of lists and dicts inside, saturating
  union Scalar {
    bool b;
    int64_t i;
    double d;
    const std::string* hint;  // undefined: what was missing
  } scalar_{};
  std::shared_ptr<void> ptr_;  // string, array, object or native, by kind
};

//! A Python dict with string keys: insertion-ordered, as templates rely on.
class Object {
 public:
  using Item = std::pair<std::string, Value>;

  //! An empty dict.
  Object() = default;
  //! Copies and moves keep order and index.
  Object(const Object& other) = default;
  Object(Object&&) noexcept = default;
  Object& operator=(const Object& other) = default;
  Object& operator=(Object&&) noexcept = default;

  //! Sets `key`; an existing key keeps its position and gets the new value (as in Python).
  void set(std::string key, Value value);
  //! The value of `key`, or nullptr.
  const Value* find(std::string_view key) const;
  //! True when `key` is present.
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  //! Number of keys.
  size_t size() const { return items_.size(); }
  //! True when there are no keys.
  bool empty() const { return items_.empty(); }
  //! Key/value pairs in insertion order.
  const std::vector<Item>& items() const { return items_; }

 private:
  void rebuild_index();
  std::vector<Item> items_;
  // Open-addressing table of item positions (-1: empty), kept only for larger dicts.
  std::vector<int32_t> index_;
};

//! Parses JSON into a Value (objects keep key order, numbers with a fraction or exponent become
//! floats, others ints); the error says where the text stops being JSON.
Result<Value> value_from_json(std::string_view json);

//! Limits that keep a runaway template from taking the process down with it.
struct RenderOptions {
  size_t max_output_bytes = size_t{16} << 20;  // rendered text, and any string built on the way
  uint64_t max_loop_iterations = 1'000'000;    // all loops of one render together
  int max_call_depth = 64;                     // nested macro calls
  //! The clock of strftime_now(); unset means now. Set it for reproducible renders.
  std::optional<std::chrono::system_clock::time_point> now;
};

//! A compiled template.
class Template {
 public:
  //! Parses `source`; syntax errors, unknown filters and unknown tests name line and column.
  static Result<Template> parse(std::string_view source);

  //! Renders with the variables of `context` (a dict). Fails where jinja2 raises: undefined
  //! operations, type errors, raise_exception(), broken limits.
  Result<std::string> render(const Value& context, const RenderOptions& options = {}) const;

 private:
  explicit Template(std::shared_ptr<const detail::Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const detail::Program> program_;
};

}  // namespace llmp::engine::jinja
