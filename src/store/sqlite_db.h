#pragma once
// SQLite in WAL mode: one writer thread that group-commits queued write jobs, and a pool of
// reader connections used on the caller's thread.

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

//! A prepared statement; reset and rebound between uses.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int index, int64_t v);
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);
  Statement& bind_null(int index);
  //! Back to the start, for the next bind and step (bindings stay until rebound).
  Statement& reset() {
    sqlite3_reset(stmt_);
    return *this;
  }

  //! Advances: true with a row, false when done.
  Result<bool> step();
  //! Steps to completion, for statements that return no rows.
  Result<void> run();
  //! Steps through every row, appending read_row(*this) to `out`.
  template <class T, class ReadRow>
  Result<void> collect(std::vector<T>& out, ReadRow read_row) {
    for (;;) {
      auto row = step();
      if (!row) return error(row.error());
      if (!*row) return ok();
      out.push_back(read_row(*this));
    }
  }

  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  double column_double(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string column_text(int i) const;
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

//! One open connection. Not thread-safe: used by one thread at a time.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool read_only, int64_t busy_timeout_ms);
  ~Connection();

  Result<void> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  sqlite3* handle() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

//! A Status from SQLite's last error on `db`; busy and locked map to retryable `unavailable`,
//! a full disk to `resource_exhausted`, constraint violations to `already_exists`, a trigger's
//! RAISE (the append-only audit log) to `failed_precondition`.
Status sqlite_status(sqlite3* db, int rc, std::string_view what);

class SqliteDb {
 public:
  struct Options {
    std::string path;
    int64_t readers = 4;
    std::string synchronous = "normal";  // "normal" | "full"
    int64_t busy_timeout_ms = 5000;
  };
  using WriteJob = std::function<Result<void>(Connection&)>;
  using ReadJob = std::function<Result<void>(Connection&)>;

  //! Opens the file and runs `prepare` (migrations) on the writer connection, outside any
  //! transaction, before readers open and the writer thread starts.
  static Result<std::unique_ptr<SqliteDb>> open(const Options& options, const WriteJob& prepare);
  ~SqliteDb();

  //! Runs `job` on the writer thread inside a transaction (with a savepoint of its own, so a
  //! failing job rolls back alone) and blocks until it is committed or has failed.
  Result<void> write(WriteJob job);

  //! Runs `job` on a reader connection on the calling thread.
  Result<void> read(const ReadJob& job);

  //! Writes still queued are finished; later writes fail. Idempotent.
  void close();

  const std::string& path() const { return options_.path; }

 private:
  struct Pending {
    WriteJob job;
    std::promise<Result<void>> done;
  };

  explicit SqliteDb(Options options) : options_(std::move(options)) {}
  void writer_loop();
  void commit_batch(std::vector<Pending>& batch);

  Options options_;
  std::unique_ptr<Connection> writer_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  std::thread writer_thread_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace llmp::store
