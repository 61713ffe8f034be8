#pragma once
// Typed reads of OpenAI request fields, with errors that carry the offending parameter's name
// (the "param" of OpenAI's error body).

#include <simdjson.h>

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "llmp/api/status_response.h"
#include "llmp/core/status.h"
#include "llmp/engine/sampling.h"
#include "llmp/net/http.h"

namespace llmp::api {

struct ApiError {
  Status status;
  std::string param;  // empty: not about one parameter
  std::string code;   // OpenAI's machine-readable code, or empty
};

template <class T>
using ApiResult = std::expected<T, ApiError>;

inline std::unexpected<ApiError> api_error(StatusCode code, std::string message, std::string param = {},
                                           std::string error_code = {}) {
  return std::unexpected<ApiError>(ApiError{Status(code, std::move(message)), std::move(param), std::move(error_code)});
}

//! The HTTP answer for an ApiError.
net::Response response_for(const ApiError& e, const net::Request& req);

class Fields {
 public:
  explicit Fields(simdjson::dom::object obj) : obj_(obj) {}
  simdjson::dom::object object() const { return obj_; }
  bool has(std::string_view key) const;
  //! Absent or null → nullopt; wrong type or out of [min, max] → an error naming the key.
  ApiResult<std::optional<double>> number(std::string_view key, double min, double max) const;
  ApiResult<std::optional<int64_t>> integer(std::string_view key, int64_t min, int64_t max) const;
  ApiResult<std::optional<bool>> boolean(std::string_view key) const;
  ApiResult<std::optional<std::string_view>> string(std::string_view key) const;

 private:
  simdjson::dom::object obj_;
};

//! A field's do-nothing value, as SDKs send by default: null, false, "", [] or {}.
bool asks_nothing(simdjson::dom::element v);

//! An error naming the first field that asks for output this server does not produce
//! (vLLM's structural_tag, best_of > 1, a suffix, ...); parse_sampling
//! calls it first.
ApiResult<void> refuse_unsupported_fields(const Fields& f);

//! The sampling parameters shared by /v1/chat/completions and /v1/completions. `chat` selects
//! the logprobs convention (chat: logprobs bool + top_logprobs; completions: logprobs int).
ApiResult<engine::SamplingParams> parse_sampling(const Fields& f, bool chat, size_t vocab_size);

}  // namespace llmp::api
