#include "llmp/core/status.h"

namespace llmp {

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::ok:
      return "ok";
    case StatusCode::invalid_argument:
      return "invalid_argument";
    case StatusCode::not_found:
      return "not_found";
    case StatusCode::already_exists:
      return "already_exists";
    case StatusCode::permission_denied:
      return "permission_denied";
    case StatusCode::unauthenticated:
      return "unauthenticated";
    case StatusCode::resource_exhausted:
      return "resource_exhausted";
    case StatusCode::failed_precondition:
      return "failed_precondition";
    case StatusCode::aborted:
      return "aborted";
    case StatusCode::out_of_range:
      return "out_of_range";
    case StatusCode::unimplemented:
      return "unimplemented";
    case StatusCode::internal:
      return "internal";
    case StatusCode::unavailable:
      return "unavailable";
    case StatusCode::deadline_exceeded:
      return "deadline_exceeded";
    case StatusCode::cancelled:
      return "cancelled";
    case StatusCode::data_loss:
      return "data_loss";
  }
  return "unknown";
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string message;
  message.reserve(context.size() + 2 + message_.size());
  message.append(context).append(": ").append(message_);
  return Status(code_, std::move(message), retryable_);
}

}  // namespace llmp
