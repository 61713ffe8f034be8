// The HTTP client: connections and their pool, deadlines, and response parsing with Beast's
// parser fed from our own reads (as the server does). Everything that touches a connection
// runs on the client's strand; the public calls hop there with co_spawn and back.
//
// https: a TLS connection is the same TCP socket with a Beast ssl_stream over it (by
// reference), so deadlines, pooling and close act on the socket alike for both schemes. The
// handshake belongs to the connect phase. Closing sends no close_notify: the server has
// already framed or ended what we read, and a graceful shutdown would only cost a round trip.
#include <utility>  // before Asio: Boost 1.74's Asio forgets it; harmless with 1.81

#include "llmp/net/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <charconv>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <strings.h>
#include <sys/socket.h>
#include <unordered_map>
#include <vector>

#include "llmp/core/log.h"

namespace llmp::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;
// Over the connection's own socket, so that cancel() and close() on it reach TLS I/O too.
using TlsStream = beast::ssl_stream<tcp::socket&>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr Clock::time_point kNever = Clock::time_point::max();
// How long a pooled connection may sit idle before it is probed on reuse (see take_idle).
constexpr auto kProbeAfterIdle = std::chrono::milliseconds(100);

namespace {

// The kind travels in the message as "(http_client.<kind>)": Status has no payload, and a
// suffix survives with_context().
constexpr std::string_view kKindTag = "(http_client.";

struct KindName {
  ClientErrorKind kind;
  std::string_view name;
};
constexpr std::array<KindName, 12> kKindNames = {{
    {ClientErrorKind::other, "other"},
    {ClientErrorKind::invalid_request, "invalid_request"},
    {ClientErrorKind::connect_refused, "connect_refused"},
    {ClientErrorKind::connect_failed, "connect_failed"},
    {ClientErrorKind::connect_timeout, "connect_timeout"},
    {ClientErrorKind::first_byte_timeout, "first_byte_timeout"},
    {ClientErrorKind::total_timeout, "total_timeout"},
    {ClientErrorKind::closed_before_headers, "closed_before_headers"},
    {ClientErrorKind::closed_mid_body, "closed_mid_body"},
    {ClientErrorKind::malformed_response, "malformed_response"},
    {ClientErrorKind::body_too_large, "body_too_large"},
    {ClientErrorKind::tls_failed, "tls_failed"},
}};

}  // namespace

std::string_view to_string(ClientErrorKind kind) {
  for (const auto& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "other";
}

ClientErrorKind kind_of(const Status& status) {
  if (status.ok()) return ClientErrorKind::other;
  const std::string& m = status.message();
  const size_t at = m.rfind(kKindTag);
  if (at == std::string::npos) return ClientErrorKind::other;
  const size_t start = at + kKindTag.size();
  const size_t end = m.find(')', start);
  if (end == std::string::npos) return ClientErrorKind::other;
  const std::string_view name(m.data() + start, end - start);
  for (const auto& k : kKindNames) {
    if (k.name == name) return k.kind;
  }
  return ClientErrorKind::other;
}

bool safe_to_retry(ClientErrorKind kind) {
  return kind == ClientErrorKind::connect_refused || kind == ClientErrorKind::connect_failed ||
         kind == ClientErrorKind::connect_timeout;
}

std::optional<std::chrono::seconds> retry_after(const Headers& headers) {
  std::string_view v = headers.get("Retry-After");
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

namespace {

Status client_error(ClientErrorKind kind, std::string_view message) {
  StatusCode code = StatusCode::unavailable;
  bool retryable = false;
  switch (kind) {
    case ClientErrorKind::other:
    case ClientErrorKind::invalid_request: code = StatusCode::invalid_argument; break;
    case ClientErrorKind::connect_refused:
    case ClientErrorKind::connect_failed:
    case ClientErrorKind::closed_before_headers:
    case ClientErrorKind::closed_mid_body:
      code = StatusCode::unavailable;
      retryable = true;
      break;
    case ClientErrorKind::connect_timeout:
    case ClientErrorKind::first_byte_timeout:
    case ClientErrorKind::total_timeout:
      code = StatusCode::deadline_exceeded;
      retryable = true;
      break;
    case ClientErrorKind::malformed_response: code = StatusCode::unavailable; break;
    case ClientErrorKind::body_too_large: code = StatusCode::resource_exhausted; break;
    case ClientErrorKind::tls_failed: code = StatusCode::unavailable; break;  // not retryable
  }
  return Status(code, fmt::format("{} {}{})", message, kKindTag, to_string(kind)), retryable);
}

std::unexpected<Status> fail(ClientErrorKind kind, std::string_view message) {
  return std::unexpected<Status>(client_error(kind, message));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

struct Url {
  std::string text;         // the URL as given: for messages
  bool tls = false;         // https
  std::string host;         // without brackets for IPv6
  uint16_t port = 80;
  std::string authority;    // as written: the Host header
  std::string target;       // path and query, at least "/"
  std::string pool_key;     // scheme://host:port: an http and an https connection never mix
};

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  Url out;
  std::string_view rest;
  if (url.size() >= kHttps.size() && iequals(url.substr(0, kHttps.size()), kHttps)) {
    out.tls = true;
    out.port = 443;
    rest = url.substr(kHttps.size());
  } else if (url.size() >= kHttp.size() && iequals(url.substr(0, kHttp.size()), kHttp)) {
    rest = url.substr(kHttp.size());
  } else {
    return fail(ClientErrorKind::invalid_request, fmt::format("not an http:// or https:// URL: {}", url));
  }
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const size_t path_at = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_at);
  const std::string_view target = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return fail(ClientErrorKind::invalid_request, fmt::format("a space or control character in URL {}", url));
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail(ClientErrorKind::invalid_request, fmt::format("credentials in a URL are not supported: {}", url));
  }
  out.authority = std::string(authority);
  std::string_view host = authority;
  std::string_view port;
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return fail(ClientErrorKind::invalid_request, fmt::format("unterminated IPv6 address in URL {}", url));
    }
    const std::string_view after = host.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return fail(ClientErrorKind::invalid_request, fmt::format("bad authority in URL {}", url));
    }
    if (!after.empty()) port = after.substr(1);
    host = host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return fail(ClientErrorKind::invalid_request, fmt::format("no host in URL {}", url));
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail(ClientErrorKind::invalid_request, fmt::format("bad port in URL {}", url));
    }
    out.port = static_cast<uint16_t>(value);
  }
  out.host = std::string(host);
  out.target = target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  out.pool_key = fmt::format("{}://{}:{}", out.tls ? "https" : "http", out.host, out.port);
  out.text = std::string(url);
  return out;
}

// RFC 9110's tchar: letters, digits and !#$%&'*+-.^_`|~. Looked up: every byte of every name.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token_char(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

// One pass over the value: find_first_of("\r\n") called memchr once per byte of it.
bool has_line_break(std::string_view v) {
  return std::any_of(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n'; });
}

// The request line and headers. The body goes out as a second buffer of the same write.
Result<std::string> serialize_head(const ClientRequest& req, const Url& url) {
  if (req.method == Method::other) {
    return fail(ClientErrorKind::invalid_request, fmt::format("no HTTP method given for {}", req.url));
  }
  std::string out;
  out.reserve(512);  // a proxied call's head (traceparent, request id) outgrew 256 bytes
  out.append(to_string(req.method));
  out.push_back(' ');
  out.append(url.target);
  out.append(" HTTP/1.1\r\n");
  if (!req.headers.has("Host")) {
    out.append("Host: ");
    out.append(url.authority);
    out.append("\r\n");
  }
  for (const auto [name, value] : req.headers) {
    // The framing is ours: a caller's length or encoding could only contradict it.
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
      return fail(ClientErrorKind::invalid_request, fmt::format("bad header name \"{}\" for {}", name, req.url));
    }
    if (has_line_break(value)) {
      return fail(ClientErrorKind::invalid_request, fmt::format("a line break in header {} for {}", name, req.url));
    }
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  if (!req.headers.has("User-Agent")) out.append("User-Agent: llmplatform\r\n");
  const bool body_expected = req.method == Method::post || req.method == Method::put || req.method == Method::patch;
  if (!req.body.empty() || body_expected) {
    char len[24];
    const auto [end, ec] = std::to_chars(len, len + sizeof len, req.body.size());
    out.append("Content-Length: ");
    out.append(len, end);
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

Clock::time_point deadline_after(Clock::time_point now, std::chrono::milliseconds d) {
  return d.count() > 0 ? now + d : kNever;
}

// One connection: its socket, its leftover bytes and the one deadline ahead of it. Shared
// with its timer's handler, which may run after the connection was dropped.
struct Conn : std::enable_shared_from_this<Conn> {
  Conn(const asio::any_io_executor& ex, std::string key)
      : socket(ex), resolver(ex), timer(ex), pool_key(std::move(key)) {}

  tcp::socket socket;
  std::unique_ptr<TlsStream> tls;  // https only; declared after the socket it refers to
  tcp::resolver resolver;
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  std::string pool_key;
  Clock::time_point idle_since{};
  bool reused = false;
  Clock::time_point deadline = kNever;
  ClientErrorKind deadline_kind = ClientErrorKind::other;
  ClientErrorKind fired = ClientErrorKind::other;  // the deadline that cancelled our I/O
  Clock::time_point timer_expiry = kNever;          // when the pending wait ends; kNever: none

  // Starts a phase: its own deadline (`phase`, of `kind`) or the total one, whichever is first.
  // The timer is touched only when the new deadline comes before the pending wait: a later
  // one is picked up when that wait ends (on_timer), so the usual request, whose deadlines
  // lie seconds ahead, re-arms nothing.
  void arm(Clock::time_point phase, ClientErrorKind kind, Clock::time_point total) {
    fired = ClientErrorKind::other;
    if (total <= phase) {
      deadline = total;
      deadline_kind = ClientErrorKind::total_timeout;
    } else {
      deadline = phase;
      deadline_kind = kind;
    }
    if (deadline < timer_expiry) start_timer(deadline);
  }

  // A wait until `at`, replacing a pending one (whose handler then sees operation_aborted).
  void start_timer(Clock::time_point at) {
    timer_expiry = at;
    timer.expires_at(at);
    timer.async_wait([weak = weak_from_this()](ErrorCode ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_timer();
    });
  }

  // The pending wait ended: the deadline may have moved on since it was set.
  void on_timer() {
    timer_expiry = kNever;
    if (fired != ClientErrorKind::other || deadline == kNever) return;
    if (Clock::now() < deadline) {
      start_timer(deadline);
      return;
    }
    fired = deadline_kind;
    ErrorCode ignored;
    resolver.cancel();
    socket.cancel(ignored);
  }

  void close() {
    deadline = kNever;
    timer_expiry = kNever;
    timer.cancel();
    resolver.cancel();
    ErrorCode ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  // An idle connection is alive when a read would block: EOF, a reset or stray bytes all mean
  // it cannot carry a request. Over TLS the read goes through the TLS stream: records that
  // carry no data (TLS 1.3 session tickets) arrive on an idle connection and are consumed
  // here, while a close_notify, a broken record or application data still mean dead.
  bool idle_alive() {
    if (!socket.is_open()) return false;
    ErrorCode ec;
    if (tls) {
      if (SSL_pending(tls->native_handle()) > 0) return false;
      socket.non_blocking(true, ec);
      if (ec) return false;
      char byte = 0;
      tls->read_some(asio::buffer(&byte, 1), ec);
      ErrorCode ignored;
      socket.non_blocking(false, ignored);
      return ec == asio::error::would_block || ec == asio::error::try_again;
    }
    // Plain: one peek that does not block, instead of toggling the socket's mode around a read.
    char byte = 0;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

// The end of the peer's data: a TCP FIN, a TLS close_notify (eof) or a TLS connection closed
// without one ("stream truncated"). Whether that ends the body cleanly is the parser's call,
// as for plain http: only a body framed by the connection's end may end this way.
bool is_end_of_stream(const ErrorCode& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

// One read into the connection's buffer. When a deadline cancelled it, conn.fired says which.
Awaitable<ErrorCode> read_some(Conn& conn) {
  if (conn.fired != ClientErrorKind::other) co_return asio::error::timed_out;
  ErrorCode ec;
  size_t n = 0;
  if (conn.tls) {
    auto [rec, rn] = co_await conn.tls->async_read_some(conn.buffer.prepare(16384), kNoThrow);
    ec = rec;
    n = rn;
  } else {
    auto [rec, rn] = co_await conn.socket.async_read_some(conn.buffer.prepare(16384), kNoThrow);
    ec = rec;
    n = rn;
  }
  if (!ec) conn.buffer.commit(n);
  if (conn.fired != ClientErrorKind::other) co_return asio::error::timed_out;
  if (!ec && n == 0) co_return asio::error::eof;
  co_return ec;
}

// Parses a response straight into our Headers and a body string. Beast's response_parser
// builds its own message first (a node per header field) that we then copied field by field.
class ResponseReader final : public http::basic_parser<false> {
 public:
  int status() const { return status_; }
  Headers& headers() { return headers_; }
  //! The body bytes parsed and not taken yet.
  std::string& body() { return body_; }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int, ErrorCode& ec) override {
    ec = http::error::bad_method;  // a response parser never sees a request line
  }
  void on_response_impl(int code, beast::string_view, int, ErrorCode&) override { status_ = code; }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, ErrorCode&) override {
    headers_.add(name, value);
  }
  void on_header_impl(ErrorCode&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, ErrorCode&) override {
    // Room for a declared length up to 1 MiB: a streamed body has no limit, and a length an
    // upstream claims is no reason to allocate it before it comes.
    if (length) body_.reserve(static_cast<size_t>(std::min<std::uint64_t>(*length, 1 << 20)));
  }
  size_t on_body_impl(beast::string_view body, ErrorCode&) override {
    body_.append(body);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, ErrorCode&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, ErrorCode&) override {
    body_.append(body);
    return body.size();
  }
  void on_finish_impl(ErrorCode&) override {}

  int status_ = 0;
  Headers headers_;
  std::string body_;
};

}  // namespace

struct HttpClient::Core {
  Core(asio::any_io_executor ex, ClientOptions o, bool confined_to_caller)
      : strand(confined_to_caller ? std::move(ex) : asio::any_io_executor(asio::make_strand(std::move(ex)))),
        confined(confined_to_caller),
        options(std::move(o)) {}
  ~Core() {
    for (auto& [key, conns] : idle) {
      for (auto& c : conns) c->close();
    }
  }

  // Where the connections, timers and pool live: a strand of the given executor, or for a
  // client confined to one thread (HttpClients), that executor itself.
  asio::any_io_executor strand;
  // Only ever called from the thread that runs `strand`: calls run inline, with no hop.
  bool confined;
  ClientOptions options;
  // The TLS settings every https connection shares, made by the first https request (loading
  // the system trust store costs milliseconds an http-only client need not pay). On the
  // strand only; tls_error keeps a failure to make it, so each request reports the same.
  std::unique_ptr<asio::ssl::context> tls_context;
  std::optional<Status> tls_error;
  // Set by close_idle(): connections are closed when given back, not pooled. On the strand.
  bool closing = false;
  // Touched on the strand only. Most recently used last: the likeliest to be alive.
  std::unordered_map<std::string, std::vector<std::shared_ptr<Conn>>> idle;

  Result<asio::ssl::context*> tls() {
    if (tls_context) return tls_context.get();
    if (tls_error) return error(*tls_error);
    auto made = make_tls_context();
    if (!made) {
      tls_error = made.error();
      return error(made.error());
    }
    tls_context = std::move(*made);
    return tls_context.get();
  }

  Result<std::unique_ptr<asio::ssl::context>> make_tls_context() const {
    std::unique_ptr<asio::ssl::context> ctx;
    try {
      ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    } catch (const std::exception& e) {
      return fail(ClientErrorKind::tls_failed, fmt::format("cannot set up TLS: {}", e.what()));
    }
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
      return fail(ClientErrorKind::tls_failed, "cannot set up TLS: TLS 1.2 is not available");
    }
    // A missing system store is no error here: verification then fails and says so.
    (void)SSL_CTX_set_default_verify_paths(native);
    ERR_clear_error();
    if (!options.ca_file.empty()) {
      ErrorCode ec;
      ctx->load_verify_file(options.ca_file, ec);
      if (ec) {
        return fail(ClientErrorKind::tls_failed,
                    fmt::format("cannot load the CA bundle ca_file {}: {}", options.ca_file, ec.message()));
      }
    }
    ctx->set_verify_mode(options.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return ctx;
  }

  std::shared_ptr<Conn> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    const auto now = Clock::now();
    auto& conns = it->second;
    while (!conns.empty()) {
      std::shared_ptr<Conn> c = std::move(conns.back());
      conns.pop_back();
      const auto idle_for = now - c->idle_since;
      const bool stale = options.pool_idle_timeout.count() > 0 && idle_for > options.pool_idle_timeout;
      // A connection back in the pool for less than kProbeAfterIdle skips the liveness probe (a
      // syscall per request under load): a peer that closed it in that moment fails the send or
      // the read before any response byte, and the exchange retries once on a new connection.
      if (stale || (idle_for >= kProbeAfterIdle && !c->idle_alive())) {
        c->close();
        continue;
      }
      c->reused = true;
      return c;
    }
    return nullptr;
  }

  void give_back(std::shared_ptr<Conn> c) {
    const bool tls_leftover = c->tls && SSL_pending(c->tls->native_handle()) > 0;
    // Closing (close_idle): a request that ends after it must not pool its connection, whose
    // pending deadline would hold the stopping event loop.
    if (closing || options.max_idle_per_host == 0 || c->buffer.size() > 0 || tls_leftover || !c->socket.is_open()) {
      c->close();
      return;
    }
    c->deadline = kNever;  // a pending wait then ends doing nothing
    c->idle_since = Clock::now();
    auto& conns = idle[c->pool_key];
    conns.push_back(std::move(c));
    if (conns.size() > options.max_idle_per_host) {
      conns.front()->close();
      conns.erase(conns.begin());
    }
  }
};

struct ClientStream::State {
  std::shared_ptr<HttpClient::Core> core;
  std::shared_ptr<Conn> conn;  // null once the body ended or failed
  // In place, not behind a pointer of its own; made again for each response read (a retry on
  // a new connection, a 1xx before the real answer).
  std::optional<ResponseReader> parser;
  std::shared_ptr<const Url> url;
  std::chrono::milliseconds total_timeout{0};
  bool finished = false;

  ResponseReader& new_parser(const ClientOptions& o, bool buffered, Method method) {
    ResponseReader& p = parser.emplace();
    p.header_limit(static_cast<std::uint32_t>(o.max_response_header_bytes));
    if (buffered) {
      p.body_limit(static_cast<std::uint64_t>(o.max_response_body_bytes));
    } else {
      p.body_limit(boost::none);
    }
    if (method == Method::head) p.skip(true);
    return p;
  }

  // The body ended: the connection goes back to the pool when its framing allows.
  void finish(bool reusable) {
    finished = true;
    if (!conn) return;
    auto c = std::move(conn);
    if (reusable && parser->is_done() && parser->keep_alive()) {
      core->give_back(std::move(c));
    } else {
      c->close();
    }
  }
  void abandon() {
    finished = true;
    if (conn) conn->close();
    conn.reset();
  }
};

namespace {

using StatePtr = std::shared_ptr<ClientStream::State>;
using HttpCore = HttpClient::Core;

Status timeout_error(ClientErrorKind kind, const Url& url, std::string_view full_url,
                     std::chrono::milliseconds phase_ms, std::chrono::milliseconds total_ms) {
  switch (kind) {
    case ClientErrorKind::connect_timeout:
      return client_error(kind, fmt::format("no connection to {}:{} within {} ms", url.host, url.port, phase_ms.count()));
    case ClientErrorKind::first_byte_timeout:
      return client_error(kind, fmt::format("no response headers from {} within {} ms of sending the request",
                                            full_url, phase_ms.count()));
    default:
      return client_error(ClientErrorKind::total_timeout,
                          fmt::format("the request to {} did not complete within {} ms", full_url, total_ms.count()));
  }
}

// The TLS handshake over a connected socket, on the connect phase's clock. The peer must
// present a chain to a trusted CA naming url.host: a DNS name (also sent as SNI), or an IP
// address, checked against the certificate's IP entries.
Awaitable<Result<void>> handshake(Conn& conn, const Url& url, asio::ssl::context& context, bool verify_peer,
                                  bool host_is_ip) {
  std::string not_made;
  try {
    conn.tls = std::make_unique<TlsStream>(conn.socket, context);
  } catch (const std::exception& e) {  // SSL_new failed: Asio throws
    not_made = e.what();
  }
  if (!conn.tls) co_return fail(ClientErrorKind::tls_failed, fmt::format("cannot set up TLS: {}", not_made));
  SSL* ssl = conn.tls->native_handle();
  // SNI carries DNS names only (RFC 6066).
  if (!host_is_ip && SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) {
    co_return fail(ClientErrorKind::invalid_request, fmt::format("cannot send {} as the TLS server name", url.host));
  }
  if (verify_peer) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
    if (set != 1) {
      co_return fail(ClientErrorKind::invalid_request, fmt::format("cannot verify a certificate for {}", url.host));
    }
  }
  auto [ec] = co_await conn.tls->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (conn.fired != ClientErrorKind::other) co_return error(Status(StatusCode::deadline_exceeded, "timeout"));
  if (!ec) co_return ok();
  if (const long verified = SSL_get_verify_result(ssl); verify_peer && verified != X509_V_OK) {
    co_return fail(ClientErrorKind::tls_failed,
                   fmt::format("TLS handshake with {}:{} failed: certificate verify failed: {}", url.host, url.port,
                               X509_verify_cert_error_string(verified)));
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    co_return fail(ClientErrorKind::tls_failed,
                   fmt::format("TLS handshake with {}:{} failed: {}", url.host, url.port, ec.message()));
  }
  // Closed or reset before the handshake finished: a server at its connection limit does
  // that as much as one that will never speak TLS, and nothing was sent.
  co_return fail(ClientErrorKind::connect_failed,
                 fmt::format("the TLS handshake with {}:{} ended early: {}", url.host, url.port, ec.message()));
}

Awaitable<Result<void>> connect(Conn& conn, const Url& url, asio::ssl::context* tls_context, bool verify_peer,
                                Clock::time_point connect_deadline, Clock::time_point total_deadline) {
  conn.arm(connect_deadline, ClientErrorKind::connect_timeout, total_deadline);
  ErrorCode ec;
  const auto address = asio::ip::make_address(url.host, ec);
  const bool host_is_ip = !ec;
  if (host_is_ip) {
    const tcp::endpoint endpoint(address, url.port);
    auto [cec] = co_await conn.socket.async_connect(endpoint, kNoThrow);
    ec = cec;
  } else {
    const std::string service = std::to_string(url.port);
    auto [rec, results] = co_await conn.resolver.async_resolve(url.host, service, kNoThrow);
    if (rec && conn.fired == ClientErrorKind::other) {
      co_return fail(ClientErrorKind::connect_failed, fmt::format("cannot resolve {}: {}", url.host, rec.message()));
    }
    if (!rec) {
      auto [cec, endpoint] = co_await asio::async_connect(conn.socket, results, kNoThrow);
      ec = cec;
    }
  }
  if (conn.fired != ClientErrorKind::other) co_return error(Status(StatusCode::deadline_exceeded, "timeout"));
  if (ec == asio::error::connection_refused) {
    co_return fail(ClientErrorKind::connect_refused, fmt::format("connection refused by {}:{}", url.host, url.port));
  }
  if (ec) {
    co_return fail(ClientErrorKind::connect_failed,
                   fmt::format("cannot connect to {}:{}: {}", url.host, url.port, ec.message()));
  }
  ErrorCode ignored;
  conn.socket.set_option(tcp::no_delay(true), ignored);
  if (tls_context == nullptr) co_return ok();
  auto handshake_op = handshake(conn, url, *tls_context, verify_peer, host_is_ip);
  co_return co_await std::move(handshake_op);
}

std::chrono::milliseconds or_default(const std::optional<std::chrono::milliseconds>& given,
                                     std::chrono::milliseconds fallback) {
  return given ? *given : fallback;
}

// Connects (or reuses), sends, and reads up to the end of the response headers. `buffered`:
// the body will be collected whole, so it is held to max_response_body_bytes.
// parse_url through a small per-thread cache: a gateway calls the same few upstream URLs over
// and over, and parsing one costs four strings. Entries are immutable and shared.
Result<std::shared_ptr<const Url>> parse_url_cached(std::string_view text) {
  constexpr size_t kEntries = 16;
  thread_local std::vector<std::shared_ptr<const Url>> cache;
  for (const auto& url : cache) {
    if (url->text == text) return url;
  }
  auto parsed = parse_url(text);
  if (!parsed) return error(parsed.error());
  auto url = std::make_shared<const Url>(std::move(*parsed));
  if (cache.size() == kEntries) cache.erase(cache.begin());
  cache.push_back(url);
  return url;
}

Awaitable<Result<StatePtr>> start_exchange(std::shared_ptr<HttpCore> core, const ClientRequest& req, bool buffered) {
  auto parsed_url = parse_url_cached(req.url);
  if (!parsed_url) co_return error(parsed_url.error());
  const std::shared_ptr<const Url> url = std::move(*parsed_url);
  auto head = serialize_head(req, *url);
  if (!head) co_return error(head.error());
  const ClientOptions& o = core->options;
  const auto connect_ms = or_default(req.connect_timeout, o.connect_timeout);
  const auto first_byte_ms = or_default(req.first_byte_timeout, o.first_byte_timeout);
  const auto total_ms = or_default(req.total_timeout, o.total_timeout);
  const auto started = Clock::now();
  const auto total_deadline = deadline_after(started, total_ms);
  asio::ssl::context* tls_context = nullptr;
  if (url->tls) {
    auto made = core->tls();
    if (!made) co_return error(made.error());
    tls_context = *made;
  }
  auto state = std::make_shared<ClientStream::State>();
  state->core = core;
  state->url = url;
  state->total_timeout = total_ms;

  // A second attempt only when a pooled connection turned out dead before any response byte.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Conn> conn = attempt == 0 ? core->take_idle(url->pool_key) : nullptr;
    if (!conn) {
      conn = std::make_shared<Conn>(core->strand, url->pool_key);
      const auto connect_deadline = deadline_after(Clock::now(), connect_ms);
      auto connect_op = connect(*conn, *url, tls_context, o.verify_peer, connect_deadline, total_deadline);
      auto connected = co_await std::move(connect_op);
      if (!connected) {
        const ClientErrorKind fired = conn->fired;
        conn->close();
        if (fired != ClientErrorKind::other) co_return error(timeout_error(fired, *url, req.url, connect_ms, total_ms));
        co_return error(connected.error());
      }
    }

    conn->arm(kNever, ClientErrorKind::other, total_deadline);
    const std::array<asio::const_buffer, 2> out = {asio::buffer(*head), asio::buffer(req.body)};
    ErrorCode wec;
    if (conn->tls) {
      // Beast's ssl_stream gathers the two buffers into one TLS record where they fit.
      auto [tec, written] = co_await asio::async_write(*conn->tls, out, kNoThrow);
      wec = tec;
    } else {
      auto [pec, written] = co_await asio::async_write(conn->socket, out, kNoThrow);
      wec = pec;
    }
    if (conn->fired != ClientErrorKind::other) {
      conn->close();
      co_return error(timeout_error(conn->fired, *url, req.url, connect_ms, total_ms));
    }
    if (wec) {
      conn->close();
      if (conn->reused && attempt == 0) continue;
      co_return fail(ClientErrorKind::closed_before_headers,
                     fmt::format("sending the request to {} failed: {}", req.url, wec.message()));
    }

    conn->arm(deadline_after(Clock::now(), first_byte_ms), ClientErrorKind::first_byte_timeout, total_deadline);
    ResponseReader* parser = &state->new_parser(o, buffered, req.method);
    bool received = false;
    bool retry = false;
    int informational = 0;
    for (;;) {
      if (conn->buffer.size() > 0) {
        ErrorCode pec;
        const size_t used = parser->put(conn->buffer.data(), pec);
        conn->buffer.consume(used);
        if (pec == http::error::body_limit) {
          conn->close();
          co_return fail(ClientErrorKind::body_too_large,
                         fmt::format("the response from {} declares a body over the limit of {} bytes", req.url,
                                     o.max_response_body_bytes));
        }
        if (pec && pec != http::error::need_more) {
          conn->close();
          const std::string why = pec == http::error::header_limit
                                      ? fmt::format("headers over {} bytes", o.max_response_header_bytes)
                                      : pec.message();
          co_return fail(ClientErrorKind::malformed_response,
                         fmt::format("malformed response from {}: {}", req.url, why));
        }
        if (parser->is_header_done()) {
          const int status = parser->status();
          if (status >= 100 && status < 200 && status != 101) {
            // 100 Continue and friends precede the real response; a server sending them
            // without end gets cut off.
            if (++informational > 8) {
              conn->close();
              co_return fail(ClientErrorKind::malformed_response,
                             fmt::format("malformed response from {}: too many 1xx responses", req.url));
            }
            parser = &state->new_parser(o, buffered, req.method);
            continue;
          }
          break;
        }
        if (!pec && used > 0) continue;
      }
      const ErrorCode rec = co_await read_some(*conn);
      if (conn->fired != ClientErrorKind::other) {
        conn->close();
        co_return error(timeout_error(conn->fired, *url, req.url, first_byte_ms, total_ms));
      }
      if (rec) {
        conn->close();
        if (!received && conn->reused && attempt == 0) {
          retry = true;
          break;
        }
        co_return fail(ClientErrorKind::closed_before_headers,
                       fmt::format("the connection to {} ended before the response headers: {}", req.url,
                                   rec.message()));
      }
      received = true;
    }
    if (retry) continue;

    parser->eager(true);
    conn->arm(kNever, ClientErrorKind::other, total_deadline);  // the body runs on the total clock
    state->conn = std::move(conn);
    if (state->parser->is_done()) state->finish(true);  // no body (HEAD, 204, 304)
    co_return state;
  }
  co_return fail(ClientErrorKind::closed_before_headers, fmt::format("no usable connection to {}", req.url));
}

// The next piece of the body, on the strand.
Awaitable<Result<std::optional<std::string>>> next_piece(StatePtr st) {
  if (st->finished || !st->conn) co_return std::nullopt;
  ResponseReader& p = *st->parser;
  Conn& conn = *st->conn;
  const size_t limit = st->core->options.max_response_body_bytes;
  for (;;) {
    bool progressed = false;
    if (conn.buffer.size() > 0 && !p.is_done()) {
      ErrorCode pec;
      const size_t used = p.put(conn.buffer.data(), pec);
      conn.buffer.consume(used);
      progressed = used > 0;
      if (pec == http::error::body_limit) {
        st->abandon();
        co_return fail(ClientErrorKind::body_too_large,
                       fmt::format("the response body from {} exceeds the limit of {} bytes", st->url->text, limit));
      }
      if (pec && pec != http::error::need_more) {
        st->abandon();
        co_return fail(ClientErrorKind::malformed_response,
                       fmt::format("malformed response body from {}: {}", st->url->text, pec.message()));
      }
    }
    std::string& body = p.body();
    if (!body.empty()) {
      std::string piece = std::move(body);
      body.clear();
      if (p.is_done()) st->finish(true);
      co_return piece;
    }
    if (p.is_done()) {
      st->finish(true);
      co_return std::nullopt;
    }
    if (progressed && conn.buffer.size() > 0) continue;
    const ErrorCode rec = co_await read_some(conn);
    if (conn.fired != ClientErrorKind::other) {
      st->abandon();
      co_return fail(ClientErrorKind::total_timeout,
                     fmt::format("the request to {} did not complete within {} ms", st->url->text,
                                 st->total_timeout.count()));
    }
    if (rec) {
      if (is_end_of_stream(rec)) {
        // A body without length or chunks ends with the connection; any other ends early.
        ErrorCode eec;
        p.put_eof(eec);
        if (!eec) {
          st->finish(false);
          co_return std::nullopt;
        }
      }
      st->abandon();
      co_return fail(ClientErrorKind::closed_mid_body,
                     fmt::format("the response from {} was cut off before its end: {}", st->url->text, rec.message()));
    }
  }
}

Awaitable<Result<StatePtr>> open_on_strand(std::shared_ptr<HttpCore> core, ClientRequest req) {
  auto op = start_exchange(std::move(core), req, false);
  co_return co_await std::move(op);
}

Awaitable<Result<ClientResponse>> request_on_strand(std::shared_ptr<HttpCore> core, ClientRequest req) {
  auto start_op = start_exchange(std::move(core), req, true);
  auto started = co_await std::move(start_op);
  if (!started) co_return error(started.error());
  StatePtr st = std::move(*started);
  ClientResponse res;
  res.status = st->parser->status();
  res.headers = std::move(st->parser->headers());
  for (;;) {
    auto next_op = next_piece(st);
    auto piece = co_await std::move(next_op);
    if (!piece) co_return error(piece.error());
    if (!*piece) break;
    if (res.body.empty()) {
      res.body = std::move(**piece);
    } else {
      res.body += **piece;
    }
  }
  co_return res;
}

// Drops a stream's connection on the strand, where its I/O objects live.
void abandon_on_strand(StatePtr st) {
  if (!st || st->finished) return;
  auto strand = st->core->strand;
  asio::post(strand, [st = std::move(st)] { st->abandon(); });
}

}  // namespace

ClientStream::ClientStream() = default;
ClientStream::ClientStream(std::shared_ptr<State> state) : state_(std::move(state)) {}
ClientStream::ClientStream(ClientStream&&) noexcept = default;
ClientStream& ClientStream::operator=(ClientStream&& other) noexcept {
  if (this != &other) {
    abandon_on_strand(std::move(state_));
    state_ = std::move(other.state_);
  }
  return *this;
}
ClientStream::~ClientStream() { abandon_on_strand(std::move(state_)); }

int ClientStream::status() const { return state_ ? state_->parser->status() : 0; }

const Headers& ClientStream::headers() const {
  static const Headers kNone;
  return state_ ? state_->parser->headers() : kNone;
}

Awaitable<Result<std::optional<std::string>>> ClientStream::next() {
  if (!state_) {
    co_return error(StatusCode::failed_precondition, "next() on an empty ClientStream (moved from, or never opened)");
  }
  if (state_->finished) co_return std::nullopt;
  auto st = state_;
  if (st->core->confined) {
    auto op = next_piece(std::move(st));
    co_return co_await std::move(op);
  }
  auto strand = st->core->strand;
  auto op = asio::co_spawn(strand, next_piece(std::move(st)), asio::use_awaitable);
  co_return co_await std::move(op);
}

HttpClient::HttpClient(asio::any_io_executor executor, ClientOptions options, Confinement confinement)
    : core_(std::make_shared<Core>(std::move(executor), std::move(options),
                                   confinement == Confinement::calling_thread)) {
  if (!core_->options.verify_peer) {
    log::warn("HTTP client created with TLS certificate verification off (verify_peer = false): https peers "
              "are not authenticated; for tests and development only");
  }
}

HttpClient::~HttpClient() = default;

// Not a coroutine itself: it hands back request_on_strand's awaitable (or the strand hop's),
// so a call costs one coroutine frame fewer.
Awaitable<Result<ClientResponse>> HttpClient::request(ClientRequest request) {
  if (core_->confined) return request_on_strand(core_, std::move(request));
  return asio::co_spawn(core_->strand, request_on_strand(core_, std::move(request)), asio::use_awaitable);
}

void HttpClient::close_idle() {
  core_->closing = true;
  for (auto& [key, conns] : core_->idle) {
    for (auto& c : conns) c->close();
  }
  core_->idle.clear();
}

Awaitable<Result<ClientStream>> HttpClient::open(ClientRequest request) {
  auto core = core_;
  Result<StatePtr> opened;
  if (core->confined) {
    auto op = open_on_strand(std::move(core), std::move(request));
    opened = co_await std::move(op);
  } else {
    auto strand = core->strand;
    auto op = asio::co_spawn(strand, open_on_strand(std::move(core), std::move(request)), asio::use_awaitable);
    opened = co_await std::move(op);
  }
  if (!opened) co_return error(opened.error());
  co_return ClientStream(std::move(*opened));
}

namespace {
std::atomic<uint64_t> next_clients_id{1};
}  // namespace

HttpClients::HttpClients(ClientOptions options) : options_(std::move(options)), id_(next_clients_id.fetch_add(1)) {}

HttpClient& HttpClients::here(const boost::asio::any_io_executor& executor) {
  // The last lookup on this thread, by the set's id (an address could be reused by a new set).
  thread_local uint64_t cached_id = 0;
  thread_local HttpClient* cached = nullptr;
  if (cached_id == id_) return *cached;
  std::lock_guard lock(mu_);
  auto& client = clients_[std::this_thread::get_id()];
  if (!client) client = std::make_unique<HttpClient>(executor, options_, HttpClient::Confinement::calling_thread);
  cached_id = id_;
  cached = client.get();
  return *client;
}

void HttpClients::close_idle_here() {
  std::lock_guard lock(mu_);
  if (auto it = clients_.find(std::this_thread::get_id()); it != clients_.end()) it->second->close_idle();
}

}  // namespace llmp::net
