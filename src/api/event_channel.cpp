#include "event_channel.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace llmp::api {

namespace asio = boost::asio;

EventChannel::EventChannel(const asio::any_io_executor& ex)
    : executor_(ex), signal_(ex, std::chrono::steady_clock::time_point::max()) {}

void EventChannel::push(engine::TokenEvent&& event) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event));
  }
  // The timer belongs to the reader's executor: cancel it there.
  asio::post(executor_, [self = shared_from_this()] { self->signal_.cancel(); });
}

asio::awaitable<engine::TokenEvent> EventChannel::next() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) {
        engine::TokenEvent e = std::move(queue_.front());
        queue_.pop_front();
        co_return e;
      }
    }
    // A push between the check above and this wait posts a cancel that runs after we wait.
    signal_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await signal_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

engine::EventSink EventChannel::sink() {
  return [self = shared_from_this()](engine::TokenEvent&& e) { self->push(std::move(e)); };
}

}  // namespace llmp::api
