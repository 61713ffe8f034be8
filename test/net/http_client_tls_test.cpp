// The HTTP client over TLS against a scripted loopback TLS server (blocking, one thread per
// connection, like the raw server of http_client_test.cpp). Its CA and certificates are made
// here with OpenSSL's C API into a fresh directory: no keys in the tree, no openssl CLI.

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "llmp/net/http_client.h"
#include "net/client_test_support.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::net;
using namespace llmp::net::test;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr make_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  REQUIRE(key);
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

// A v3 certificate for `key`, valid from an hour ago for a day. Without an issuer it is a
// self-signed CA; with one, a server certificate for the names in `san`.
CertPtr make_cert(const char* common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, const char* san,
                  long serial) {
  CertPtr cert(X509_new(), X509_free);
  REQUIRE(cert);
  X509* c = cert.get();
  REQUIRE(X509_set_version(c, 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  REQUIRE(X509_set_pubkey(c, key) == 1);
  X509_NAME* name = X509_get_subject_name(c);
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name),
                                     -1, -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1);
  if (issuer == nullptr) {
    add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(c, c, NID_subject_key_identifier, "hash");
  } else {
    add_extension(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(c, issuer, NID_key_usage, "critical,digitalSignature");
    add_extension(c, issuer, NID_ext_key_usage, "serverAuth");
    add_extension(c, issuer, NID_subject_alt_name, san);
    add_extension(c, issuer, NID_authority_key_identifier, "keyid:always");
  }
  REQUIRE(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return cert;
}

// A test CA (its certificate in ca.pem under a fresh directory) and two server certificates
// it signed: one for localhost and 127.0.0.1, one for "otherhost" only.
struct TestPki {
  TestPki()
      : ca_key(make_key()),
        ca(make_cert("llmplatform test CA", ca_key.get(), nullptr, nullptr, nullptr, 1)),
        server_key(make_key()),
        server(make_cert("localhost", server_key.get(), ca.get(), ca_key.get(), "DNS:localhost,IP:127.0.0.1", 2)),
        other(make_cert("otherhost", server_key.get(), ca.get(), ca_key.get(), "DNS:otherhost", 3)),
        ca_file(dir / "ca.pem") {
    FILE* f = ::fopen(ca_file.c_str(), "w");
    REQUIRE(f != nullptr);
    const int written = PEM_write_X509(f, ca.get());
    ::fclose(f);
    REQUIRE(written == 1);
  }

  llmp::test::TempDir dir;
  KeyPtr ca_key;
  CertPtr ca;
  KeyPtr server_key;
  CertPtr server;
  CertPtr other;
  std::string ca_file;
};

// One accepted connection of the TLS server. Reads block; they end when the client closes
// (every client error path closes its connection, and the client closes its pool when it
// goes), so a script never outlives its test by more than the client's own timeouts.
class TlsPeer {
 public:
  TlsPeer(tcp::socket s, ssl::context& ctx, int index) : socket_(std::move(s)), tls_(socket_, ctx), index_(index) {}
  int index() const { return index_; }
  //! The server name the client sent (SNI), empty when none.
  const std::string& server_name() const { return server_name_; }

  //! The server's side of the handshake; false when the client gave up on it.
  bool handshake() {
    boost::system::error_code ec;
    tls_.handshake(ssl::stream_base::server, ec);
    if (ec) return false;
    const char* name = SSL_get_servername(tls_.native_handle(), TLSEXT_NAMETYPE_host_name);
    server_name_ = name ? name : "";
    return true;
  }
  //! One request (head and Content-Length body); empty when the client closed first.
  std::string read_request() {
    for (int reads = 0; reads < 10000; ++reads) {
      if (auto request = take_request(buf_)) return std::move(*request);
      char tmp[4096];
      boost::system::error_code ec;
      const size_t n = tls_.read_some(asio::buffer(tmp), ec);
      if (ec) return {};
      buf_.append(tmp, n);
    }
    return {};
  }
  void write(std::string_view data) {
    boost::system::error_code ec;
    asio::write(tls_, asio::buffer(data.data(), data.size()), ec);
  }
  //! Blocks until the client closes its side.
  void wait_closed() {
    for (int reads = 0; reads < 10000; ++reads) {
      char tmp[4096];
      boost::system::error_code ec;
      tls_.read_some(asio::buffer(tmp), ec);
      if (ec) return;
    }
  }
  //! Sends close_notify, then waits for the client to close (it never answers one).
  void close_notify() {
    boost::system::error_code ec;
    tls_.shutdown(ec);
    cut();
  }
  //! Closes the TCP connection under TLS, with no close_notify: a truncated stream.
  void cut() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  //! A TLS 1.3 session ticket, out of turn: a record that carries no data, sent as an idle
  //! connection may get one at any time. OpenSSL sends it on the next handshake step.
  bool send_session_ticket() {
    if (SSL_new_session_ticket(tls_.native_handle()) != 1) return false;
    boost::system::error_code ec;
    tls_.handshake(ssl::stream_base::server, ec);
    return !ec;
  }
  //! Bytes straight on the socket, for a server that does not speak TLS.
  void write_plain(std::string_view data) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data.data(), data.size()), ec);
  }
  void wait_closed_plain() {
    for (int reads = 0; reads < 10000; ++reads) {
      char tmp[4096];
      boost::system::error_code ec;
      socket_.read_some(asio::buffer(tmp), ec);
      if (ec) return;
    }
  }

 private:
  tcp::socket socket_;
  ssl::stream<tcp::socket&> tls_;
  int index_;
  std::string buf_;
  std::string server_name_;
};

// A loopback TLS server presenting `cert` that runs `script` on each accepted connection
// (numbered from 0). The script does the handshake itself, so that it can also not.
class TlsServer {
 public:
  using Script = std::function<void(TlsPeer&)>;
  TlsServer(const TestPki& pki, X509* cert, Script script)
      : script_(std::move(script)), tls_ctx_(ssl::context::tls_server) {
    REQUIRE(SSL_CTX_use_certificate(tls_ctx_.native_handle(), cert) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(tls_ctx_.native_handle(), pki.server_key.get()) == 1);
    acceptor_.emplace([this](tcp::socket s, int index) {
      TlsPeer peer(std::move(s), tls_ctx_, index);
      script_(peer);
    });
  }
  int accepted() const { return acceptor_->accepted(); }
  std::string url(std::string_view path = "/", std::string_view host = "127.0.0.1") const {
    return fmt::format("https://{}:{}{}", host, acceptor_->port(), path);
  }

 private:
  Script script_;
  ssl::context tls_ctx_;
  std::optional<LoopbackAcceptor> acceptor_;  // listens once the certificate is in place
};

ClientOptions trusting(const TestPki& pki) {
  ClientOptions o = test_client_options();
  o.ca_file = pki.ca_file;
  return o;
}

}  // namespace

TEST_CASE("an https request trusting the test CA through ca_file gets its response") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake()) return;
    const std::string request = p.read_request();
    if (request.empty()) return;
    const size_t body_at = request.find("\r\n\r\n") + 4;
    const std::string body = request.substr(body_at);
    p.write(fmt::format("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Server-Name: {}\r\n"
                        "Content-Length: {}\r\n\r\n{}",
                        p.server_name(), body.size(), body));
    p.wait_closed();
  });
  HttpClient client(io.executor(), trusting(pki));
  // By name (verified against the DNS entry, and sent as SNI) and by address (the IP entry).
  for (const char* host : {"localhost", "127.0.0.1"}) {
    ClientRequest req;
    req.method = Method::post;
    req.url = server.url("/v1/chat/completions", host);
    req.headers.add("Content-Type", "application/json");
    req.body = R"({"model":"gpt"})";
    auto res = io.run(client.request(std::move(req)));
    REQUIRE(res);
    CHECK(res->status == 201);
    CHECK(res->body == R"({"model":"gpt"})");
    CHECK(res->headers.get("content-type") == "application/json");
    // SNI carries DNS names only.
    CHECK(res->headers.get("X-Server-Name") == (std::string_view(host) == "localhost" ? "localhost" : ""));
  }
  CHECK(server.accepted() == 2);  // localhost and 127.0.0.1 are two pool keys
}

TEST_CASE("a chunked stream over https arrives piece by piece as the server writes it") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    p.write("7\r\ndata: 1\r\n");
    sleep_ms(300);
    p.write("7\r\ndata: 2\r\n");
    sleep_ms(300);
    p.write("0\r\n\r\n");
    p.wait_closed();
  });
  HttpClient client(io.executor(), trusting(pki));
  auto log = io.run(stream_all(client, get(server.url("/stream"))));
  CHECK_FALSE(log.error);
  CHECK(log.status == 200);
  REQUIRE(log.pieces.size() == 2);
  CHECK(log.pieces[0] == "data: 1");
  CHECK(log.pieces[1] == "data: 2");
  CHECK(log.at_ms[0] < 200);
  CHECK(log.at_ms[1] >= 250);
}

TEST_CASE("kept-alive TLS connections are reused for later requests") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake()) return;
    for (int i = 0; i < 100; ++i) {
      if (p.read_request().empty()) return;
      p.write(kOk);
    }
  });
  HttpClient client(io.executor(), trusting(pki));
  for (int i = 0; i < 5; ++i) {
    sleep_ms(20);  // TLS 1.3 session tickets may reach the idle connection meanwhile
    auto res = io.run(client.request(get(server.url("/x"))));
    REQUIRE(res);
    CHECK(res->body == "ok");
  }
  CHECK(server.accepted() == 1);
  auto log = io.run(stream_all(client, get(server.url("/y"))));
  CHECK(joined(log) == "ok");
  auto again = io.run(client.request(get(server.url("/z"))));
  REQUIRE(again);
  CHECK(server.accepted() == 1);
}

TEST_CASE("a TLS record without data on an idle pooled connection keeps it alive") {
  TestPki pki;
  IoThread io;
  std::atomic<bool> ticket_sent{false};
  TlsServer server(pki, pki.server.get(), [&](TlsPeer& p) {
    if (!p.handshake()) return;
    for (int i = 0; i < 2; ++i) {
      if (p.read_request().empty()) return;
      p.write(kOk);
      if (i > 0) continue;
      sleep_ms(50);  // after the client took its response and pooled the connection
      ticket_sent = p.send_session_ticket();
    }
    p.wait_closed();
  });
  HttpClient client(io.executor(), trusting(pki));
  for (int i = 0; i < 2; ++i) {
    auto res = io.run(client.request(get(server.url())));
    REQUIRE(res);
    CHECK(res->body == "ok");
    sleep_ms(100);  // the ticket reaches the idle connection
  }
  CHECK(ticket_sent);
  CHECK(server.accepted() == 1);
}

TEST_CASE("a pooled TLS connection the server closed while idle is replaced") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    p.write(kOk);
    if (p.index() == 0) return p.close_notify();  // an idle timeout, the polite way
    if (p.index() == 1) return p.cut();           // and the abrupt one
    p.wait_closed();
  });
  HttpClient client(io.executor(), trusting(pki));
  for (int i = 0; i < 3; ++i) {
    auto res = io.run(client.request(get(server.url())));
    REQUIRE(res);
    CHECK(res->body == "ok");
    sleep_ms(100);  // the close reaches the client's idle connection
  }
  CHECK(server.accepted() == 3);
}

TEST_CASE("an untrusted certificate is tls_failed and names the reason") {
  TestPki pki;
  IoThread io;
  std::atomic<int> requests_seen{0};
  TlsServer server(pki, pki.server.get(), [&](TlsPeer& p) {
    if (!p.handshake()) return;
    if (!p.read_request().empty()) ++requests_seen;
  });
  HttpClient client(io.executor(), test_client_options());  // the system store only
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::tls_failed);
  CHECK_FALSE(safe_to_retry(kind_of(res.error())));
  CHECK_FALSE(res.error().retryable());
  CHECK_THAT(res.error().message(), Catch::Contains("certificate verify failed: unable to get local issuer certificate"));
  auto log = io.run(stream_all(client, get(server.url())));
  REQUIRE(log.error);
  CHECK(kind_of(*log.error) == ClientErrorKind::tls_failed);
  CHECK(requests_seen == 0);
}

TEST_CASE("a certificate for another host is tls_failed") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.other.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    p.write(kOk);
  });
  HttpClient client(io.executor(), trusting(pki));
  auto by_name = io.run(client.request(get(server.url("/", "localhost"))));
  REQUIRE_FALSE(by_name);
  CHECK(kind_of(by_name.error()) == ClientErrorKind::tls_failed);
  CHECK_THAT(by_name.error().message(), Catch::Contains("hostname mismatch"));
  auto by_address = io.run(client.request(get(server.url("/", "127.0.0.1"))));
  REQUIRE_FALSE(by_address);
  CHECK(kind_of(by_address.error()) == ClientErrorKind::tls_failed);
  CHECK_THAT(by_address.error().message(), Catch::Contains("IP address mismatch"));
}

TEST_CASE("with verify_peer off an untrusted server for another host is accepted") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.other.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    p.write(kOk);
    p.wait_closed();
  });
  ClientOptions o = test_client_options();
  o.verify_peer = false;  // and no ca_file
  HttpClient client(io.executor(), o);
  auto res = io.run(client.request(get(server.url("/", "localhost"))));
  REQUIRE(res);
  CHECK(res->body == "ok");
}

TEST_CASE("a TLS stream cut mid-body is closed_mid_body") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    if (p.index() < 2) {
      p.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      sleep_ms(50);
      p.write("8\r\npart");  // a chunk of 8 bytes, of which 4 come
      sleep_ms(50);
    } else {
      p.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    }
    // A truncated stream, then a proper close_notify: neither ends a framed body.
    if (p.index() % 2 == 0) return p.cut();
    p.close_notify();
  });
  HttpClient client(io.executor(), trusting(pki));
  auto log = io.run(stream_all(client, get(server.url())));
  CHECK(log.status == 200);
  CHECK(joined(log) == "hellopart");
  REQUIRE(log.error);
  CHECK(kind_of(*log.error) == ClientErrorKind::closed_mid_body);
  auto buffered = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(buffered);
  CHECK(kind_of(buffered.error()) == ClientErrorKind::closed_mid_body);
  for (int i = 0; i < 2; ++i) {
    auto short_body = io.run(client.request(get(server.url())));
    REQUIRE_FALSE(short_body);
    CHECK(kind_of(short_body.error()) == ClientErrorKind::closed_mid_body);
  }
  CHECK(server.accepted() == 4);
}

TEST_CASE("a TLS body without length ends cleanly when the server closes") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    if (!p.handshake() || p.read_request().empty()) return;
    p.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    if (p.index() == 0) return p.close_notify();
    p.cut();  // "stream truncated": the body has no framing to be cut short of
  });
  HttpClient client(io.executor(), trusting(pki));
  for (int i = 0; i < 2; ++i) {
    auto res = io.run(client.request(get(server.url())));
    REQUIRE(res);
    CHECK(res->body == "until the end");
  }
}

TEST_CASE("a server that does not speak TLS is tls_failed") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) {
    p.write_plain("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    p.wait_closed_plain();
  });
  HttpClient client(io.executor(), trusting(pki));
  auto res = io.run(client.request(get(server.url())));
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::tls_failed);
  CHECK_THAT(res.error().message(), Catch::Contains("TLS handshake with 127.0.0.1"));
}

TEST_CASE("a TLS handshake that never completes is a connect timeout") {
  TestPki pki;
  IoThread io;
  TlsServer server(pki, pki.server.get(), [](TlsPeer& p) { p.wait_closed_plain(); });
  HttpClient client(io.executor(), trusting(pki));
  ClientRequest req = get(server.url());
  req.connect_timeout = 300ms;
  const auto t0 = Clock::now();
  auto res = io.run(client.request(std::move(req)));
  const auto took = Clock::now() - t0;
  REQUIRE_FALSE(res);
  CHECK(kind_of(res.error()) == ClientErrorKind::connect_timeout);
  CHECK(took >= 250ms);
  CHECK(took < 2000ms);
}

TEST_CASE("a ca_file that cannot be loaded fails every https request but no http one") {
  TestPki pki;
  IoThread io;
  ClientOptions o = test_client_options();
  o.ca_file = pki.dir / "missing.pem";
  HttpClient client(io.executor(), o);
  for (int i = 0; i < 2; ++i) {
    auto res = io.run(client.request(get("https://127.0.0.1:1/")));
    REQUIRE_FALSE(res);
    CHECK(kind_of(res.error()) == ClientErrorKind::tls_failed);
    CHECK_THAT(res.error().message(), Catch::Contains("missing.pem"));
  }
  auto plain = io.run(client.request(get("http://127.0.0.1:1/")));  // nothing listens there
  REQUIRE_FALSE(plain);
  CHECK(kind_of(plain.error()) == ClientErrorKind::connect_refused);
}
