#include "openai/request_fields.h"

#include <fmt/format.h>

#include <charconv>

#include "llmp/api/status_response.h"

namespace llmp::api {

net::Response response_for(const ApiError& e, const net::Request& req) {
  return api::response_for(e.status, req, e.param, e.code);
}

bool Fields::has(std::string_view key) const {
  auto f = obj_[key];
  return f.error() == simdjson::SUCCESS && !f.is_null();
}

ApiResult<std::optional<double>> Fields::number(std::string_view key, double min, double max) const {
  auto f = obj_[key];
  if (f.error() == simdjson::NO_SUCH_FIELD || f.is_null()) return std::optional<double>();
  double v;
  int64_t i;
  uint64_t u;
  if (f.get(v) == simdjson::SUCCESS) {
  } else if (f.get(i) == simdjson::SUCCESS) {
    v = static_cast<double>(i);
  } else if (f.get(u) == simdjson::SUCCESS) {
    v = static_cast<double>(u);
  } else {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a number", key), std::string(key));
  }
  if (!(v >= min && v <= max)) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be in [{}, {}], got {}", key, min, max, v),
                     std::string(key));
  }
  return std::optional<double>(v);
}

ApiResult<std::optional<int64_t>> Fields::integer(std::string_view key, int64_t min, int64_t max) const {
  auto f = obj_[key];
  if (f.error() == simdjson::NO_SUCH_FIELD || f.is_null()) return std::optional<int64_t>();
  int64_t v;
  double d;
  if (f.get(v) != simdjson::SUCCESS) {
    // 3.0 is accepted as 3, as the OpenAI API does.
    if (f.get(d) == simdjson::SUCCESS && d == static_cast<double>(static_cast<int64_t>(d))) {
      v = static_cast<int64_t>(d);
    } else {
      return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be an integer", key), std::string(key));
    }
  }
  if (v < min || v > max) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be in [{}, {}], got {}", key, min, max, v),
                     std::string(key));
  }
  return std::optional<int64_t>(v);
}

ApiResult<std::optional<bool>> Fields::boolean(std::string_view key) const {
  auto f = obj_[key];
  if (f.error() == simdjson::NO_SUCH_FIELD || f.is_null()) return std::optional<bool>();
  bool b;
  if (f.get(b) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a boolean", key), std::string(key));
  }
  return std::optional<bool>(b);
}

ApiResult<std::optional<std::string_view>> Fields::string(std::string_view key) const {
  auto f = obj_[key];
  if (f.error() == simdjson::NO_SUCH_FIELD || f.is_null()) return std::optional<std::string_view>();
  std::string_view s;
  if (f.get(s) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be a string", key), std::string(key));
  }
  return std::optional<std::string_view>(s);
}

#define LLMP_FIELD(var, expr)                    \
  auto var##_r = (expr);                         \
  if (!var##_r) return std::unexpected(var##_r.error()); \
  const auto& var = *var##_r

namespace {

// Request fields of OpenAI's and vLLM's APIs that ask for output this server does not produce.
// Ignoring them would hand back output the caller believes is constrained (guided_regex) or
// chosen (best_of); they are refused instead, unless they hold their do-nothing value (null,
// false, "", [], {}, or 1 for best_of).
struct UnsupportedField {
  std::string_view key;
  std::string_view instead;
};
constexpr std::string_view kUseSchema =
    "constrain the output with response_format (json_schema), structured_outputs (json, regex, choice, grammar), "
    "guided_json, guided_choice, guided_regex or a GBNF grammar";
constexpr UnsupportedField kUnsupportedFields[] = {
    {"structural_tag", kUseSchema},
    {"guided_whitespace_pattern", "whitespace between JSON tokens is bounded; structured_outputs.disable_any_whitespace "
                                  "removes it"},
    {"best_of", "ask for n choices (with logprobs) and choose among them"},
    {"use_beam_search", "use sampling or temperature 0"},
    {"suffix", "fill-in-the-middle is not served; send the prefix as the prompt"},
    {"prompt_logprobs", "use /v1/completions with echo and logprobs"},
};

bool asks_for_something(std::string_view key, simdjson::dom::element v) {
  double d = 0;
  // best_of: 1 is the do-nothing value (one candidate per choice).
  if (key == "best_of" && v.get(d) == simdjson::SUCCESS) return d != 1;
  return !asks_nothing(v);
}

}  // namespace

bool asks_nothing(simdjson::dom::element v) {
  using simdjson::dom::element_type;
  switch (v.type()) {
    case element_type::NULL_VALUE: return true;
    case element_type::BOOL: return !bool(v.get_bool().value_unsafe());
    case element_type::STRING: return v.get_string().value_unsafe().empty();
    case element_type::ARRAY: return v.get_array().value_unsafe().size() == 0;
    case element_type::OBJECT: return v.get_object().value_unsafe().size() == 0;
    default: return false;  // a number asks for something
  }
}

ApiResult<void> refuse_unsupported_fields(const Fields& f) {
  for (const auto& [key, instead] : kUnsupportedFields) {
    simdjson::dom::element v;
    if (f.object()[key].get(v) == simdjson::SUCCESS && asks_for_something(key, v)) {
      return api_error(StatusCode::invalid_argument, fmt::format("'{}' is not supported by this server: {}", key, instead),
                       std::string(key));
    }
  }
  return {};
}

ApiResult<engine::SamplingParams> parse_sampling(const Fields& f, bool chat, size_t vocab_size) {
  if (auto refused = refuse_unsupported_fields(f); !refused) return std::unexpected(refused.error());
  engine::SamplingParams p;
  LLMP_FIELD(temperature, f.number("temperature", 0, 2));
  LLMP_FIELD(top_p, f.number("top_p", 0, 1));
  LLMP_FIELD(n, f.integer("n", 1, 128));
  LLMP_FIELD(max_tokens, f.integer("max_tokens", 1, int64_t{1} << 30));
  LLMP_FIELD(max_completion_tokens, f.integer("max_completion_tokens", 1, int64_t{1} << 30));
  LLMP_FIELD(presence, f.number("presence_penalty", -2, 2));
  LLMP_FIELD(frequency, f.number("frequency_penalty", -2, 2));
  LLMP_FIELD(seed, f.integer("seed", INT64_MIN, INT64_MAX));
  LLMP_FIELD(top_k, f.integer("top_k", -1, 1 << 30));
  LLMP_FIELD(min_p, f.number("min_p", 0, 1));
  LLMP_FIELD(repetition, f.number("repetition_penalty", 0.01, 10));
  LLMP_FIELD(min_tokens, f.integer("min_tokens", 0, int64_t{1} << 30));
  LLMP_FIELD(ignore_eos, f.boolean("ignore_eos"));
  LLMP_FIELD(include_stop, f.boolean("include_stop_str_in_output"));
  LLMP_FIELD(skip_special, f.boolean("skip_special_tokens"));
  LLMP_FIELD(user, f.string("user"));
  (void)user;  // accepted; the gateway records it with the call
  if (temperature) p.temperature = *temperature;
  if (top_p) {
    if (*top_p <= 0) return api_error(StatusCode::invalid_argument, "'top_p' must be greater than 0", "top_p");
    p.top_p = *top_p;
  }
  if (n) p.n = static_cast<int>(*n);
  if (max_completion_tokens) p.max_tokens = *max_completion_tokens;
  else if (max_tokens) p.max_tokens = *max_tokens;
  else p.max_tokens = -1;  // the caller fills in "up to the context"
  if (presence) p.presence_penalty = *presence;
  if (frequency) p.frequency_penalty = *frequency;
  if (seed) p.seed = static_cast<uint64_t>(*seed);
  if (top_k && *top_k > 0) p.top_k = *top_k;
  if (min_p) p.min_p = *min_p;
  if (repetition) p.repetition_penalty = *repetition;
  if (min_tokens) p.min_tokens = *min_tokens;
  if (ignore_eos) p.ignore_eos = *ignore_eos;
  if (include_stop) p.include_stop_in_output = *include_stop;
  if (skip_special) p.skip_special_tokens = *skip_special;

  // stop: a string or an array of up to 4 strings (OpenAI; we allow 16).
  auto stop = f.object()["stop"];
  if (stop.error() == simdjson::SUCCESS && !stop.is_null()) {
    std::string_view one;
    simdjson::dom::array many;
    if (stop.get(one) == simdjson::SUCCESS) {
      if (!one.empty()) p.stop.emplace_back(one);
    } else if (stop.get(many) == simdjson::SUCCESS) {
      for (auto s : many) {
        std::string_view text;
        if (s.get(text) != simdjson::SUCCESS) {
          return api_error(StatusCode::invalid_argument, "'stop' must be a string or an array of strings", "stop");
        }
        if (!text.empty()) p.stop.emplace_back(text);
      }
    } else {
      return api_error(StatusCode::invalid_argument, "'stop' must be a string or an array of strings", "stop");
    }
  }
  // stop_token_ids, and vLLM's allowed_token_ids: arrays of token ids.
  for (const auto& [key, ids] : {std::pair{"stop_token_ids", &p.stop_token_ids}, std::pair{"allowed_token_ids", &p.allowed_token_ids}}) {
    auto given = f.object()[key];
    if (given.error() != simdjson::SUCCESS || given.is_null()) continue;
    const auto refuse = [key] {
      return api_error(StatusCode::invalid_argument, fmt::format("'{}' must be an array of integers", key), key);
    };
    simdjson::dom::array list;
    if (given.get(list) != simdjson::SUCCESS) return refuse();
    for (auto v : list) {
      int64_t id;
      if (v.get(id) != simdjson::SUCCESS) return refuse();
      ids->push_back(static_cast<engine::TokenId>(id));
    }
  }

  // logit_bias: {"token id": bias}.
  auto bias = f.object()["logit_bias"];
  simdjson::dom::object bias_obj;
  if (bias.error() == simdjson::SUCCESS && !bias.is_null()) {
    if (bias.get(bias_obj) != simdjson::SUCCESS) {
      return api_error(StatusCode::invalid_argument, "'logit_bias' must be an object of token id to bias", "logit_bias");
    }
    for (auto [key, value] : bias_obj) {
      int64_t id = -1;
      auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
      double b;
      int64_t bi;
      if (ec != std::errc() || ptr != key.data() + key.size()) {
        return api_error(StatusCode::invalid_argument, fmt::format("'logit_bias' key '{}' is not a token id", key), "logit_bias");
      }
      if (value.get(b) != simdjson::SUCCESS) {
        if (value.get(bi) != simdjson::SUCCESS) {
          return api_error(StatusCode::invalid_argument, "'logit_bias' values must be numbers", "logit_bias");
        }
        b = static_cast<double>(bi);
      }
      p.logit_bias.emplace_back(static_cast<engine::TokenId>(id), static_cast<float>(b));
    }
  }

  if (chat) {
    LLMP_FIELD(logprobs, f.boolean("logprobs"));
    LLMP_FIELD(top_logprobs, f.integer("top_logprobs", 0, 20));
    p.logprobs = logprobs.value_or(false);
    p.top_logprobs = static_cast<int>(top_logprobs.value_or(0));
    if (p.top_logprobs > 0 && !p.logprobs) {
      return api_error(StatusCode::invalid_argument, "'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
    }
  } else {
    LLMP_FIELD(logprobs, f.integer("logprobs", 0, 20));
    if (logprobs) {
      p.logprobs = true;
      p.top_logprobs = static_cast<int>(*logprobs);
    }
  }
  // Range checks that need the vocabulary (logit_bias, stop ids) and the relations between
  // fields; max_tokens may still be -1 here ("fill the context").
  engine::SamplingParams check = p;
  if (check.max_tokens < 1) check.max_tokens = std::max<int64_t>(1, check.min_tokens);
  if (auto r = check.validate(vocab_size); !r) {
    const std::string& m = r.error().message();
    const size_t q = m.find('\'');
    std::string param = q == std::string::npos ? std::string() : m.substr(q + 1, m.find('\'', q + 1) - q - 1);
    return api_error(StatusCode::invalid_argument, m, param);
  }
  return p;
}

#undef LLMP_FIELD

}  // namespace llmp::api
