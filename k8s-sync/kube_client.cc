#include "k8s-sync/kube_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace dg::k8s {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using beast::error_code;

constexpr std::chrono::seconds kConnectTimeout{5};   // TCP connect, and the TLS handshake
constexpr std::chrono::seconds kRequestTimeout{60};  // a whole Get; a Stream's response head
constexpr std::uint64_t kMaxGetBody = 512ull << 20;  // a 150k-pod list is ~300 MB of JSON
constexpr std::size_t kMaxErrorBody = 4u << 20;      // Stream: body of a non-200 response
constexpr std::size_t kMaxLine = 16u << 20;          // Stream: one watch event
constexpr std::size_t kMaxRetainedLineBuffer = 1u << 20;
constexpr std::uint32_t kMaxHeader = 64u << 10;
constexpr std::size_t kReadChunk = 64u << 10;
constexpr std::size_t kMaxIdleConnections = 4;  // kept-alive Get connections
constexpr char kUserAgent[] = "dscp-gateway/0.1";

template <class T>
Result<T> Error(std::string file, std::string key, std::string reason) {
  return Result<T>(boost::system::in_place_error,
                   ConfigError{std::move(file), std::move(key), std::move(reason)});
}

// ---------------------------------------------------------------------------------------
// Transport helpers

std::string ErrorText(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// After a failed handshake, OpenSSL's own verdict on the peer certificate, when it has one.
std::string VerifyDetail(SSL* ssl, const std::string& host) {
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  std::string detail = std::string(" (") + X509_verify_cert_error_string(result);
  if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    detail += ": the certificate is not for " + host;
  }
  return detail + ")";
}

struct Connection {
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  std::optional<beast::tcp_stream> plain;
  beast::flat_buffer buffer;

  beast::tcp_stream& Tcp() { return tls ? tls->next_layer() : *plain; }
  void Close() {
    error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }
};

using Request = http::request<http::empty_body>;

// Reading a body stops on the TCP close of a response that ends at EOF; over TLS the peer
// may skip close_notify, which is an error only when the message had a known length.
template <class Parser>
bool EndedAtEof(const error_code& ec, Parser& parser) {
  if (ec != ssl::error::stream_truncated || !parser.need_eof()) return false;
  error_code eof_error;
  parser.put_eof(eof_error);
  return !eof_error;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// KubeClient

struct KubeClient::Impl {
  explicit Impl(boost::asio::io_context& io) : executor(io.get_executor()) {}

  net::any_io_executor executor;
  ClusterAccess access;
  ssl::context tls_context{ssl::context::tls_client};
  bool use_tls = true;
  std::string host;         // without brackets: for resolving, SNI and verification
  std::string port;         // decimal
  std::string host_header;  // "host[:port]", IPv6 in brackets
  std::string path_prefix;  // a server URL's path ("/k8s/clusters/x"), without trailing '/'

  std::optional<BearerToken> bearer;  // set by Create

  std::mutex mutex;  // guards `idle`
  std::vector<std::unique_ptr<Connection>> idle;

  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard lock(mutex);
    if (idle.empty()) return nullptr;
    auto connection = std::move(idle.back());
    idle.pop_back();
    return connection;
  }

  void PutIdle(std::unique_ptr<Connection> connection) {
    connection->Tcp().expires_never();
    std::lock_guard lock(mutex);
    if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(connection));
  }

  Request MakeRequest(const std::string& target) {
    Request request{http::verb::get, path_prefix + target, 11};
    request.set(http::field::host, host_header);
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, kUserAgent);
    const std::string token = bearer->Current();
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    return request;
  }

  std::string Endpoint() const { return host_header; }

  // A connected (and, for https, handshaken) connection, or nullptr with `error` set.
  net::awaitable<std::unique_ptr<Connection>> Connect(Clock::time_point deadline,
                                                      std::string& error) {
    auto connection = std::make_unique<Connection>();
    if (use_tls) {
      connection->tls.emplace(executor, tls_context);
    } else {
      connection->plain.emplace(executor);
    }
    error_code ec;
    std::vector<tcp::endpoint> endpoints;
    const auto port_number = static_cast<unsigned short>(std::stoul(port));
    if (const auto address = net::ip::make_address(host, ec); !ec) {
      endpoints.emplace_back(address, port_number);
    } else {
      ec = {};
      tcp::resolver resolver(executor);
      const auto results =
          co_await resolver.async_resolve(host, port, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        error = "resolve " + host + ": " + ErrorText(ec);
        co_return nullptr;
      }
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }

    const auto connect_deadline = std::min(deadline, Clock::now() + kConnectTimeout);
    connection->Tcp().expires_at(connect_deadline);
    co_await connection->Tcp().async_connect(endpoints,
                                             net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      error = "connect " + Endpoint() + ": " + ErrorText(ec);
      co_return nullptr;
    }
    connection->Tcp().socket().set_option(tcp::no_delay(true), ec);
    ec = {};

    if (connection->tls) {
      SSL* ssl = connection->tls->native_handle();
      // SNI carries names only (RFC 6066); an IP literal is verified but not sent.
      if (net::ip::make_address(host, ec); ec) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
      }
      ec = {};
      connection->Tcp().expires_at(std::min(deadline, Clock::now() + kConnectTimeout));
      co_await connection->tls->async_handshake(ssl::stream_base::client,
                                                net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        error = "TLS handshake with " + Endpoint() + ": " + ErrorText(ec) + VerifyDetail(ssl, host);
        co_return nullptr;
      }
    }
    co_return connection;
  }

  net::awaitable<error_code> Write(Connection& connection, Request& request) {
    error_code ec;
    if (connection.tls) {
      co_await http::async_write(*connection.tls, request,
                                 net::redirect_error(net::use_awaitable, ec));
    } else {
      co_await http::async_write(*connection.plain, request,
                                 net::redirect_error(net::use_awaitable, ec));
    }
    co_return ec;
  }

  template <class Parser>
  net::awaitable<error_code> Read(Connection& connection, Parser& parser) {
    error_code ec;
    if (connection.tls) {
      co_await http::async_read(*connection.tls, connection.buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
    } else {
      co_await http::async_read(*connection.plain, connection.buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
    }
    if (ec && EndedAtEof(ec, parser)) ec = {};
    co_return ec;
  }

  template <class Parser>
  net::awaitable<error_code> ReadHeader(Connection& connection, Parser& parser) {
    error_code ec;
    if (connection.tls) {
      co_await http::async_read_header(*connection.tls, connection.buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
    } else {
      co_await http::async_read_header(*connection.plain, connection.buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
    }
    co_return ec;
  }

  // Some body bytes into `space`; how many arrived goes to `received`.
  net::awaitable<error_code> ReadBodySome(Connection& connection,
                                          http::response_parser<http::buffer_body>& parser,
                                          std::vector<char>& space, std::size_t& received) {
    parser.get().body().data = space.data();
    parser.get().body().size = space.size();
    error_code ec;
    if (connection.tls) {
      co_await http::async_read_some(*connection.tls, connection.buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    } else {
      co_await http::async_read_some(*connection.plain, connection.buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    }
    if (ec == http::error::need_buffer) ec = {};
    if (ec && EndedAtEof(ec, parser)) ec = {};
    received = space.size() - parser.get().body().size;
    co_return ec;
  }

  net::awaitable<KubeResponse> DoGet(std::string target) {
    const auto deadline = Clock::now() + kRequestTimeout;
    Request request = MakeRequest(target);
    bool allow_reuse = true;
    for (;;) {
      std::unique_ptr<Connection> connection = allow_reuse ? TakeIdle() : nullptr;
      const bool reused = connection != nullptr;
      if (!connection) {
        std::string error;
        connection = co_await Connect(deadline, error);
        if (!connection) co_return KubeResponse{0, "", std::move(error)};
      }
      connection->Tcp().expires_at(deadline);
      error_code ec = co_await Write(*connection, request);
      if (ec && reused) {  // the server closed the idle connection: try a fresh one
        allow_reuse = false;
        continue;
      }
      if (ec) co_return KubeResponse{0, "", "send GET " + target + ": " + ErrorText(ec)};

      http::response_parser<http::string_body> parser;
      parser.header_limit(kMaxHeader);
      parser.body_limit(kMaxGetBody);
      ec = co_await Read(*connection, parser);
      if (ec && reused && !parser.got_some() && ec != beast::error::timeout) {
        allow_reuse = false;
        continue;
      }
      if (ec) {
        co_return KubeResponse{0, "", "read response to GET " + target + ": " + ErrorText(ec)};
      }
      http::response<http::string_body> response = parser.release();
      if (response.keep_alive() && connection->buffer.size() == 0) {
        PutIdle(std::move(connection));
      } else {
        connection->Close();
      }
      co_return KubeResponse{response.result_int(), std::move(response.body()), ""};
    }
  }

  net::awaitable<KubeResponse> DoStream(std::string target,
                                        std::function<bool(std::string_view line)> on_line,
                                        std::chrono::milliseconds idle_timeout) {
    const auto deadline = Clock::now() + kRequestTimeout;
    Request request = MakeRequest(target);
    std::string error;
    std::unique_ptr<Connection> connection = co_await Connect(deadline, error);
    if (!connection) co_return KubeResponse{0, "", std::move(error)};

    connection->Tcp().expires_at(deadline);
    error_code ec = co_await Write(*connection, request);
    if (ec) co_return KubeResponse{0, "", "send GET " + target + ": " + ErrorText(ec)};

    http::response_parser<http::buffer_body> parser;
    parser.header_limit(kMaxHeader);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // a watch never ends
    ec = co_await ReadHeader(*connection, parser);
    if (ec) {
      co_return KubeResponse{0, "", "read response to GET " + target + ": " + ErrorText(ec)};
    }
    const unsigned status = parser.get().result_int();
    std::vector<char> space(kReadChunk);
    std::size_t received = 0;

    if (status != 200) {  // an error Status object: read it whole, bounded in size and time
      std::string body;
      while (!parser.is_done() && body.size() < kMaxErrorBody) {
        ec = co_await ReadBodySome(*connection, parser, space, received);
        if (ec) {
          co_return KubeResponse{0, "", "read response to GET " + target + ": " + ErrorText(ec)};
        }
        body.append(space.data(), std::min(received, kMaxErrorBody - body.size()));
      }
      connection->Close();
      co_return KubeResponse{status, std::move(body), ""};
    }

    // Complete lines are handed over straight from the read buffer; only a line that
    // spans reads is assembled in `pending`.
    std::string pending;
    while (!parser.is_done()) {
      connection->Tcp().expires_after(idle_timeout);
      ec = co_await ReadBodySome(*connection, parser, space, received);
      if (ec == beast::error::timeout) co_return KubeResponse{200, "", "idle timeout"};
      if (ec) co_return KubeResponse{0, "", "read stream of GET " + target + ": " + ErrorText(ec)};
      std::string_view data(space.data(), received);
      while (!data.empty()) {
        const std::size_t newline = data.find('\n');
        if (newline == std::string_view::npos) {
          pending.append(data);
          break;
        }
        std::string_view line = data.substr(0, newline);
        data.remove_prefix(newline + 1);
        if (!pending.empty()) {
          pending.append(line);
          if (pending.size() > kMaxLine) break;  // reported below
          line = pending;
        }
        const bool more = line.empty() || on_line(line);
        pending.clear();
        if (!more) {
          connection->Close();
          co_return KubeResponse{200, "", ""};
        }
      }
      if (pending.size() > kMaxLine) {
        connection->Close();
        co_return KubeResponse{200, "", "line longer than 16 MiB in stream of GET " + target};
      }
      if (pending.empty() && pending.capacity() > kMaxRetainedLineBuffer) {
        std::string().swap(pending);  // give back the memory of an unusually large event
      }
    }
    // The server ended the body; a final line without its newline is still a whole line.
    if (!pending.empty()) on_line(pending);
    connection->Close();
    co_return KubeResponse{200, "", ""};
  }
};

Result<std::unique_ptr<KubeClient>> KubeClient::Create(boost::asio::io_context& io,
                                                       ClusterAccess access) {
  using Out = std::unique_ptr<KubeClient>;
  const std::string source = access.source.empty() ? "cluster access" : access.source;
  try {
    auto impl = std::make_unique<Impl>(io);

    // The server URL.
    const auto url = boost::urls::parse_uri(access.server);
    if (!url) {
      return Error<Out>(source, "server",
                        "\"" + access.server + "\" is not a URL; expected https://host:port");
    }
    const std::string scheme(url->scheme());
    if (scheme != "https" && scheme != "http") {
      return Error<Out>(source, "server",
                        "\"" + access.server + "\": scheme must be https (or http)");
    }
    impl->use_tls = scheme == "https";
    impl->host = url->host_address();
    if (impl->host.empty()) {
      return Error<Out>(source, "server", "\"" + access.server + "\" has no host");
    }
    if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
      return Error<Out>(source, "server",
                        "\"" + access.server + "\": expected scheme://host[:port][/path] only");
    }
    const bool ipv6 = url->host_type() == boost::urls::host_type::ipv6;
    const std::string host_for_header = ipv6 ? "[" + impl->host + "]" : impl->host;
    if (url->has_port() && !url->port().empty()) {
      if (url->port_number() == 0) {
        return Error<Out>(source, "server", "\"" + access.server + "\" has an invalid port");
      }
      impl->port = std::to_string(url->port_number());
      impl->host_header = host_for_header + ":" + impl->port;
    } else {
      impl->port = impl->use_tls ? "443" : "80";
      impl->host_header = host_for_header;
    }
    impl->path_prefix = std::string(url->encoded_path());
    while (!impl->path_prefix.empty() && impl->path_prefix.back() == '/') {
      impl->path_prefix.pop_back();
    }

    // TLS: 1.2 or later; verify the server against the given CA (or the system roots)
    // and its certificate against the host name or IP address.
    ssl::context& tls = impl->tls_context;
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    error_code ec;
    if (access.insecure_skip_tls_verify) {
      tls.set_verify_mode(ssl::verify_none);
    } else {
      tls.set_verify_mode(ssl::verify_peer);
      if (!access.ca_data.empty()) {
        tls.add_certificate_authority(net::buffer(access.ca_data), ec);
        if (ec) {
          return Error<Out>(source, "certificate-authority-data",
                            "no usable PEM certificate: " + ec.message());
        }
      }
      if (!access.ca_file.empty()) {
        std::string contents;
        if (auto text = ReadTextFile(access.ca_file); !text) {
          return Error<Out>(access.ca_file, "", "CA certificate: " + text.error().reason);
        } else {
          contents = std::move(*text);
        }
        tls.add_certificate_authority(net::buffer(contents), ec);
        if (ec) {
          return Error<Out>(access.ca_file, "", "no usable PEM CA certificate: " + ec.message());
        }
      }
      if (access.ca_data.empty() && access.ca_file.empty()) {
        tls.set_default_verify_paths(ec);
        if (ec) return Error<Out>(source, "", "cannot load system CA roots: " + ec.message());
      }
      // host_name_verification only says no; record why, for the handshake error.
      const bool host_is_ip = url->host_type() == boost::urls::host_type::ipv4 || ipv6;
      tls.set_verify_callback(
          [check = ssl::host_name_verification(impl->host), host_is_ip](
              bool preverified, ssl::verify_context& context) {
            if (check(preverified, context)) return true;
            if (preverified) {
              X509_STORE_CTX_set_error(context.native_handle(), host_is_ip
                                                                    ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                                    : X509_V_ERR_HOSTNAME_MISMATCH);
            }
            return false;
          },
          ec);
      if (ec) return Error<Out>(source, "", "cannot set up verification: " + ec.message());
    }

    // Client certificate: data takes precedence over files.
    const bool has_cert = !access.client_cert_data.empty() || !access.client_cert_file.empty();
    const bool has_key = !access.client_key_data.empty() || !access.client_key_file.empty();
    if (has_cert != has_key) {
      return Error<Out>(source, has_cert ? "client-key" : "client-certificate",
                        "missing; a client certificate needs both certificate and key");
    }
    if (has_cert) {
      if (!access.client_cert_data.empty()) {
        tls.use_certificate_chain(net::buffer(access.client_cert_data), ec);
        if (ec)
          return Error<Out>(source, "client-certificate-data",
                            "not a PEM certificate: " + ec.message());
      } else {
        tls.use_certificate_chain_file(access.client_cert_file, ec);
        if (ec) {
          return Error<Out>(access.client_cert_file, "",
                            "cannot load client certificate: " + ec.message());
        }
      }
      if (!access.client_key_data.empty()) {
        tls.use_private_key(net::buffer(access.client_key_data), ssl::context::pem, ec);
        if (ec)
          return Error<Out>(source, "client-key-data", "not a PEM private key: " + ec.message());
      } else {
        tls.use_private_key_file(access.client_key_file, ssl::context::pem, ec);
        if (ec) {
          return Error<Out>(access.client_key_file, "", "cannot load client key: " + ec.message());
        }
      }
      if (SSL_CTX_check_private_key(tls.native_handle()) != 1) {
        return Error<Out>(source, "client-key", "does not match the client certificate");
      }
    }

    auto bearer = BearerToken::Create(access);
    if (!bearer) return Result<Out>(boost::system::in_place_error, bearer.error());
    impl->bearer.emplace(std::move(*bearer));
    impl->access = std::move(access);
    return Result<Out>(boost::system::in_place_value, Out(new KubeClient(std::move(impl))));
  } catch (const std::exception& e) {
    return Error<Out>(source, "", std::string("cannot create the API client: ") + e.what());
  }
}

KubeClient::KubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KubeClient::~KubeClient() = default;

boost::asio::awaitable<KubeResponse> KubeClient::Get(std::string target) {
  std::string failure;
  try {
    co_return co_await impl_->DoGet(std::move(target));
  } catch (const std::exception& e) {
    failure = std::string("GET failed: ") + e.what();
  }
  co_return KubeResponse{0, "", std::move(failure)};
}

boost::asio::awaitable<KubeResponse> KubeClient::Stream(
    std::string target, std::function<bool(std::string_view line)> on_line,
    std::chrono::milliseconds idle_timeout) {
  std::string failure;
  try {
    co_return co_await impl_->DoStream(std::move(target), std::move(on_line), idle_timeout);
  } catch (const std::exception& e) {
    failure = std::string("watch failed: ") + e.what();
  }
  co_return KubeResponse{0, "", std::move(failure)};
}

std::string KubeClient::Describe() const { return impl_->access.server; }

}  // namespace dg::k8s
