#pragma once
// Bridges from callback-style and blocking work into Asio coroutines. Include only where a
// coroutine awaits such work: it pulls in Asio (not Beast).

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <type_traits>
#include <utility>

namespace llmp {

namespace asio = boost::asio;

//! Awaits a callback API: `start(done)` must call `done(R)` exactly once, on any thread; the
//! coroutine resumes on its own executor.
// Neither function is itself a coroutine: they return the awaitable that async_initiate makes,
// which keeps temporaries out of coroutine frames (GCC 12 mishandles some of those).
template <class R, class Start>
asio::awaitable<R> await_callback(Start start) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [start = std::move(start)](auto handler) mutable {
        auto ex = asio::get_associated_executor(handler);
        start(std::move_only_function<void(R)>([handler = std::move(handler), ex](R r) mutable {
          asio::dispatch(
              ex, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
        }));
      },
      asio::use_awaitable);
}

//! Runs `fn` on `pool` (blocking work: files, SQLite reads) and resumes with its result.
template <class Executor, class Fn>
asio::awaitable<std::invoke_result_t<Fn>> run_blocking(Executor pool, Fn fn) {
  using R = std::invoke_result_t<Fn>;
  return await_callback<R>([pool, fn = std::move(fn)](std::move_only_function<void(R)> done) mutable {
    asio::post(pool, [fn = std::move(fn), done = std::move(done)]() mutable { done(fn()); });
  });
}

}  // namespace llmp
