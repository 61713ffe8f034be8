#pragma once
// Carries a request's token events from the engine's loop thread to the coroutine answering
// the HTTP request. push() never blocks the engine; next() suspends until an event arrives.

#include <deque>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "llmp/engine/engine.h"

namespace llmp::api {

class EventChannel : public std::enable_shared_from_this<EventChannel> {
 public:
  explicit EventChannel(const boost::asio::any_io_executor& ex);
  //! From any thread (the engine's): queues `event` and wakes the reader.
  void push(engine::TokenEvent&& event);
  //! On the channel's executor: the next event, waiting for it if need be.
  boost::asio::awaitable<engine::TokenEvent> next();
  //! A sink for GenerationRequest::on_event that feeds this channel.
  engine::EventSink sink();

 private:
  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer signal_;
  std::mutex mu_;
  std::deque<engine::TokenEvent> queue_;
};

}  // namespace llmp::api
