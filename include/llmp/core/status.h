#pragma once
// Expected failures are values: every fallible call returns Result<T> (std::expected<T, Status>).
// A Status carries a code, a message a user can act on, and whether retrying may help.
// Only api/ maps a Status to an HTTP status and an OpenAI error body.

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace llmp {

enum class StatusCode {
  ok,
  invalid_argument,  // bad input from a caller: a request, a file, a config value
  not_found,
  already_exists,
  permission_denied,
  unauthenticated,
  resource_exhausted,   // limits, quotas, a full KV cache, a full disk
  failed_precondition,  // the system is not in a state to do this (starting, draining)
  aborted,              // a conflict: retry the whole operation
  out_of_range,
  unimplemented,
  internal,     // a bug or a broken invariant; details go to the log, not the client
  unavailable,  // try again later
  deadline_exceeded,
  cancelled,
  data_loss,  // a corrupt or truncated file
};

//! The name of a code as used in logs ("invalid_argument").
std::string_view to_string(StatusCode code);

//! An error: code, a message a user can act on, and whether retrying may help.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, bool retryable = false)
      : code_(code), message_(std::move(message)), retryable_(retryable) {}

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return retryable_; }

  //! A copy with `context: ` put before the message ("loading model x: ...").
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
  bool retryable_ = false;
};

template <class T>
using Result = std::expected<T, Status>;

//! Builds the error side of a Result: `return error(StatusCode::not_found, "no such key");`
inline std::unexpected<Status> error(StatusCode code, std::string message, bool retryable = false) {
  return std::unexpected<Status>(Status(code, std::move(message), retryable));
}
inline std::unexpected<Status> error(Status status) {
  return std::unexpected<Status>(std::move(status));
}

//! Result<void> success value.
inline Result<void> ok() {
  return {};
}

}  // namespace llmp

// Propagates the error of an expression yielding Result<T>; evaluates to nothing.
#define LLMP_TRY_VOID(expr)                                                             \
  do {                                                                                  \
    auto llmp_try_result_ = (expr);                                                     \
    if (!llmp_try_result_) return std::unexpected(std::move(llmp_try_result_.error())); \
  } while (0)
