#include "sqlite_db.h"

#include <fmt/format.h>

namespace llmp::store {

Status sqlite_status(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  const std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string message = fmt::format("{}: {}", what, detail);
  // A trigger's RAISE(ABORT) is a rule the schema enforces (the audit log is append-only),
  // not a duplicate row.
  if (primary == SQLITE_CONSTRAINT && db && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_TRIGGER) {
    return Status(StatusCode::failed_precondition, message);
  }
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status(StatusCode::unavailable, message, true);
    case SQLITE_FULL: return Status(StatusCode::resource_exhausted, message);
    case SQLITE_CONSTRAINT: return Status(StatusCode::already_exists, message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status(StatusCode::data_loss, message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: return Status(StatusCode::permission_denied, message);
    default: return Status(StatusCode::internal, message);
  }
}

Statement& Statement::bind(int index, int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}
Statement& Statement::bind(int index, double v) {
  sqlite3_bind_double(stmt_, index, v);
  return *this;
}
Statement& Statement::bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(sqlite_status(db_, rc, "sqlite step"));
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return error(row.error());
    if (!*row) return ok();
  }
}

std::string Statement::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool read_only, int64_t busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = sqlite_status(db, rc, fmt::format("cannot open SQLite database {}", path));
    sqlite3_close(db);
    return error(st);
  }
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout_ms));
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() { sqlite3_close_v2(db_); }

Result<void> Connection::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string message = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = sqlite_status(db_, rc, "sqlite exec");
    return error(st.code(), fmt::format("sqlite exec: {}", message), st.retryable());
  }
  return ok();
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return error(sqlite_status(db_, rc, fmt::format("sqlite prepare \"{}\"", sql)));
  return Statement(db_, stmt);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const Options& options, const WriteJob& prepare) {
  std::unique_ptr<SqliteDb> db(new SqliteDb(options));
  auto writer = Connection::open(options.path, false, options.busy_timeout_ms);
  if (!writer) return error(writer.error());
  db->writer_ = std::move(*writer);
  // WAL: readers never block the writer; NORMAL sync keeps every committed transaction across a
  // process crash (FULL also across power loss).
  const std::string pragmas = fmt::format(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=1000;",
      options.synchronous == "full" ? "FULL" : "NORMAL");
  if (auto r = db->writer_->exec(pragmas); !r) return error(r.error().with_context(options.path));
  if (auto r = prepare(*db->writer_); !r) return error(r.error().with_context(options.path));
  for (int64_t i = 0; i < options.readers; ++i) {
    auto reader = Connection::open(options.path, true, options.busy_timeout_ms);
    if (!reader) return error(reader.error());
    db->idle_readers_.push_back(std::move(*reader));
  }
  db->writer_thread_ = std::thread([raw = db.get()] { raw->writer_loop(); });
  return db;
}

SqliteDb::~SqliteDb() { close(); }

void SqliteDb::close() {
  {
    std::lock_guard lock(queue_mu_);
    if (closing_ && !writer_thread_.joinable()) return;
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  std::lock_guard lock(readers_mu_);
  idle_readers_.clear();
  writer_.reset();
}

Result<void> SqliteDb::write(WriteJob job) {
  std::future<Result<void>> done;
  {
    std::lock_guard lock(queue_mu_);
    if (closing_) return error(StatusCode::unavailable, "the store is closing", true);
    queue_.push_back(Pending{std::move(job), {}});
    done = queue_.back().done.get_future();
  }
  queue_cv_.notify_one();
  return done.get();
}

Result<void> SqliteDb::read(const ReadJob& job) {
  std::unique_ptr<Connection> conn;
  {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !idle_readers_.empty() || !writer_; });
    if (idle_readers_.empty()) return error(StatusCode::unavailable, "the store is closed", true);
    conn = std::move(idle_readers_.back());
    idle_readers_.pop_back();
  }
  auto result = job(*conn);
  {
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(std::move(conn));
  }
  readers_cv_.notify_one();
  return result;
}

void SqliteDb::writer_loop() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, and nothing left to write
      // Group commit: every job queued now shares one transaction and one WAL sync.
      while (!queue_.empty() && batch.size() < 256) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void SqliteDb::commit_batch(std::vector<Pending>& batch) {
  std::vector<Result<void>> results;
  results.reserve(batch.size());
  auto fail_all = [&](const Status& st) {
    for (auto& p : batch) p.done.set_value(error(st));
  };
  if (auto r = writer_->exec("BEGIN IMMEDIATE"); !r) return fail_all(r.error());
  for (auto& p : batch) {
    if (auto r = writer_->exec("SAVEPOINT job"); !r) {
      results.push_back(error(r.error()));
      continue;
    }
    auto r = p.job(*writer_);
    if (r) {
      (void)writer_->exec("RELEASE job");
    } else {
      (void)writer_->exec("ROLLBACK TO job");
      (void)writer_->exec("RELEASE job");
    }
    results.push_back(std::move(r));
  }
  if (auto r = writer_->exec("COMMIT"); !r) {
    (void)writer_->exec("ROLLBACK");
    return fail_all(r.error());
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
}

}  // namespace llmp::store
