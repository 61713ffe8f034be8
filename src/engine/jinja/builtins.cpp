#include "jinja/builtins.h"

#include <algorithm>
#include <ctime>

#include "jinja/args.h"
#include "jinja/operators.h"
#include "jinja/printing.h"

namespace llmp::engine::jinja::detail {

// --- Native defaults ---

Result<Value> Native::call(Interpreter&, CallArgs&) {
  return error(StatusCode::invalid_argument, object_phrase(type_name()) + " is not callable");
}

Result<Value> Native::call_method(Interpreter&, std::string_view, CallArgs&, bool& found) {
  found = false;
  return Value();
}

Value Native::get_attr(std::string_view) const {
  return Value();
}

Result<void> Native::set_attr(std::string_view, Value) {
  return error(StatusCode::invalid_argument, "cannot assign attribute on non-namespace object");
}

// --- Namespace ---

std::string Namespace::repr() const {
  // A namespace can hold itself; Python's dict repr prints the repeat as {...}.
  thread_local std::vector<const Namespace*> printing;
  if (std::find(printing.begin(), printing.end(), this) != printing.end()) return "<Namespace {...}>";
  printing.push_back(this);
  std::string out = "<Namespace ";
  append_repr(out, Value(attrs_));
  out += ">";
  printing.pop_back();
  return out;
}

Value Namespace::get_attr(std::string_view name) const {
  if (const Value* found = attrs_.find(name)) return *found;
  return Value();
}

Result<void> Namespace::set_attr(std::string_view name, Value value) {
  LLMP_TRY_VOID(Interpreter::check_depth(value));
  attrs_.set(std::string(name), std::move(value));
  return {};
}

void Namespace::clear() {
  Object dropped = std::move(attrs_);
  attrs_ = Object();
}

// --- Macro ---

Result<Value> Macro::call(Interpreter& interp, CallArgs& args) {
  // A `caller` keyword passed by hand works like a {% call %} block.
  for (auto it = args.keyword.begin(); it != args.keyword.end(); ++it) {
    if (it->first == "caller") {
      Value caller = std::move(it->second);
      args.keyword.erase(it);
      return interp.call_macro(stmt_, closure_, args, caller);
    }
  }
  return interp.call_macro(stmt_, closure_, args, Value());
}

Result<Value> Macro::call_with_caller(Interpreter& interp, CallArgs& args, const Value& caller) {
  return interp.call_macro(stmt_, closure_, args, caller);
}

Value Macro::get_attr(std::string_view name) const {
  if (name == "name") return Value(stmt_.name);
  if (name == "catch_kwargs") return Value(stmt_.uses_kwargs);
  if (name == "catch_varargs") return Value(stmt_.uses_varargs);
  if (name == "caller") return Value(stmt_.uses_caller);
  if (name == "arguments") {
    Array names;
    for (const MacroParam& p : stmt_.params) names.emplace_back(*p.name);
    return Value(std::move(names), Value::Flavor::tuple);
  }
  return Value();
}

// --- LoopState ---

std::string LoopState::repr() const {
  return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(length_) + ">";
}

Value LoopState::get_attr(std::string_view name) const {
  if (name == "index") return Value(index0_ + 1);
  if (name == "index0") return Value(index0_);
  if (name == "first") return Value(index0_ == 0);
  if (name == "last") return Value(index0_ + 1 == length_);
  if (name == "length") return Value(length_);
  if (name == "revindex") return Value(length_ - index0_);
  if (name == "revindex0") return Value(length_ - index0_ - 1);
  if (name == "depth") return Value(int64_t{1});
  if (name == "depth0") return Value(int64_t{0});
  if (name == "previtem") {
    if (index0_ == 0) return Value();
    return items_.as_array()[static_cast<size_t>(index0_ - 1)];
  }
  if (name == "nextitem") {
    if (index0_ + 1 >= length_) return Value();
    return items_.as_array()[static_cast<size_t>(index0_ + 1)];
  }
  return Value();
}

Result<Value> LoopState::call_method(Interpreter&, std::string_view name, CallArgs& args, bool& found) {
  found = true;
  if (name == "cycle") {
    if (args.positional.empty()) return error(StatusCode::invalid_argument, "no items for cycling given");
    return args.positional[static_cast<size_t>(index0_) % args.positional.size()];
  }
  if (name == "changed") {
    Value current(args.positional, Value::Flavor::tuple);
    if (changed_called_ && equals(current, last_changed_)) return Value(false);
    changed_called_ = true;
    last_changed_ = std::move(current);
    return Value(true);
  }
  found = false;
  return Value();
}

// --- globals ---

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Result<Object> dict_from_args(std::string_view what, CallArgs& args) {
  Object out;
  if (args.positional.size() > 1) {
    return error(StatusCode::invalid_argument, std::string(what) + " expected at most 1 argument");
  }
  if (args.positional.size() == 1) {
    const Value& source = args.positional[0];
    if (source.is_object()) {
      out = source.as_object();
    } else if (source.is_array()) {
      for (const Value& pair : source.as_array()) {
        if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string()) {
          return error(StatusCode::invalid_argument, std::string(what) + " needs a dict or (key, value) pairs");
        }
        out.set(pair.as_array()[0].as_string(), pair.as_array()[1]);
      }
    } else if (!source.is_undefined()) {
      return error(StatusCode::invalid_argument, object_phrase(type_name(source)) + " is not iterable");
    }
  }
  for (auto& [key, value] : args.keyword) out.set(key, std::move(value));
  return out;
}

Result<Value> builtin_range(Interpreter& interp, CallArgs& args) {
  if (!args.keyword.empty()) return error(StatusCode::invalid_argument, "range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3) {
    return error(StatusCode::invalid_argument, "range expected 1 to 3 arguments");
  }
  int64_t bounds[3] = {0, 0, 1};
  for (size_t i = 0; i < args.positional.size(); ++i) {
    const Value& v = args.positional[i];
    if (!v.is_int() && !v.is_bool()) {
      return error(StatusCode::invalid_argument, object_phrase(type_name(v)) + " cannot be interpreted as an integer");
    }
  }
  if (args.positional.size() == 1) {
    bounds[1] = args.positional[0].as_int();
  } else {
    bounds[0] = args.positional[0].as_int();
    bounds[1] = args.positional[1].as_int();
    if (args.positional.size() == 3) bounds[2] = args.positional[2].as_int();
  }
  const int64_t start = bounds[0];
  const int64_t stop = bounds[1];
  const int64_t step = bounds[2];
  if (step == 0) return error(StatusCode::invalid_argument, "range() arg 3 must not be zero");
  int64_t length = 0;
  if (step > 0 && start < stop) length = (stop - start - 1) / step + 1;
  if (step < 0 && start > stop) length = (start - stop - 1) / (-step) + 1;
  if (length > kMaxRange) {
    return error(StatusCode::resource_exhausted,
                 "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  LLMP_TRY_VOID(interp.count_iterations(static_cast<uint64_t>(length) / 16));
  Array items;
  items.reserve(static_cast<size_t>(length));
  for (int64_t i = 0, v = start; i < length; ++i, v += step) items.emplace_back(v);
  return Value(std::move(items));
}

Result<Value> builtin_dict(Interpreter&, CallArgs& args) {
  auto object = dict_from_args("dict", args);
  if (!object) return std::unexpected(object.error());
  return Value(std::move(*object));
}

Result<Value> builtin_namespace(Interpreter& interp, CallArgs& args) {
  auto object = dict_from_args("namespace", args);
  if (!object) return std::unexpected(object.error());
  for (const auto& item : object->items()) LLMP_TRY_VOID(Interpreter::check_depth(item.second));
  auto ns = std::make_shared<Namespace>(std::move(*object));
  interp.track(ns);
  return Value::native(std::move(ns));
}

Result<Value> builtin_raise_exception(Interpreter&, CallArgs& args) {
  std::optional<Value> message;
  LLMP_TRY_VOID(bind_args("raise_exception()", args, {"message"}, &message, 1));
  return error(StatusCode::invalid_argument, std::string(kRaisedPrefix) + to_str(*message));
}

Result<Value> builtin_strftime_now(Interpreter& interp, CallArgs& args) {
  std::optional<Value> format;
  LLMP_TRY_VOID(bind_args("strftime_now()", args, {"format"}, &format, 1));
  if (!format->is_string()) {
    return error(StatusCode::invalid_argument,
                 "strftime() argument 1 must be str, not " + std::string(type_name(*format)));
  }
  const auto now = interp.options().now.value_or(std::chrono::system_clock::now());
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&t, &local);
  const std::string& fmt = format->as_string();
  if (fmt.empty()) return Value(std::string());
  std::string out(fmt.size() * 4 + 64, '\0');
  for (int attempt = 0; attempt < 6; ++attempt) {
    const size_t n = std::strftime(out.data(), out.size(), fmt.c_str(), &local);
    if (n > 0) {
      out.resize(n);
      return Value(std::move(out));
    }
    out.resize(out.size() * 4);
  }
  return Value(std::string());
}

class Cycler : public Native {
 public:
  explicit Cycler(Array items) : items_(std::move(items)) {}
  std::string_view type_name() const override { return "Cycler"; }
  std::string repr() const override { return "<Cycler>"; }
  Value get_attr(std::string_view name) const override {
    if (name == "current") return items_[position_];
    return Value();
  }
  Result<Value> call_method(Interpreter&, std::string_view name, CallArgs&, bool& found) override {
    found = true;
    if (name == "next") {
      Value current = items_[position_];
      position_ = (position_ + 1) % items_.size();
      return current;
    }
    if (name == "reset") {
      position_ = 0;
      return Value(nullptr);
    }
    found = false;
    return Value();
  }

 private:
  Array items_;
  size_t position_ = 0;
};

class Joiner : public Native {
 public:
  explicit Joiner(std::string separator) : separator_(std::move(separator)) {}
  std::string_view type_name() const override { return "Joiner"; }
  std::string repr() const override { return "<Joiner>"; }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter&, CallArgs&) override {
    if (!used_) {
      used_ = true;
      return Value(std::string());
    }
    return Value(separator_);
  }

 private:
  std::string separator_;
  bool used_ = false;
};

Result<Value> builtin_cycler(Interpreter&, CallArgs& args) {
  if (args.positional.empty()) return error(StatusCode::invalid_argument, "at least one item has to be provided");
  return Value::native(std::make_shared<Cycler>(args.positional));
}

Result<Value> builtin_joiner(Interpreter&, CallArgs& args) {
  std::optional<Value> sep;
  LLMP_TRY_VOID(bind_args("joiner()", args, {"sep"}, &sep));
  return Value::native(std::make_shared<Joiner>(sep ? to_str(*sep) : std::string(", ")));
}

Value function(const char* name, Result<Value> (*fn)(Interpreter&, CallArgs&)) {
  return Value::native(std::make_shared<Function>(name, fn));
}

}  // namespace

const std::vector<std::pair<std::string_view, Value>>& builtin_globals() {
  // Built once; these functions keep no state (cycler and joiner make fresh objects per call).
  static const std::vector<std::pair<std::string_view, Value>> globals = {
      {"range", function("range", builtin_range)},
      {"dict", function("dict", builtin_dict)},
      {"namespace", function("namespace", builtin_namespace)},
      {"raise_exception", function("raise_exception", builtin_raise_exception)},
      {"strftime_now", function("strftime_now", builtin_strftime_now)},
      {"cycler", function("cycler", builtin_cycler)},
      {"joiner", function("joiner", builtin_joiner)},
  };
  return globals;
}

}  // namespace llmp::engine::jinja::detail
