#include "k8s-sync/kube_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace dg::k8s {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Upper bound for one client call; a bug fails the test instead of hanging it.
constexpr milliseconds kCallLimit{5000};
// Long enough that a stalled server never speaks again during a test.
constexpr milliseconds kStall{10000};

// ---------------------------------------------------------------------------------------
// Certificates, files, environment

struct Pem {
  std::string cert;
  std::string key;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A self-signed P-256 certificate (usable as its own CA) with the given subjectAltName.
Pem MakeSelfSigned(const char* common_name, const char* subject_alt_name) {
  static long serial = 1;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_subject_alt_name, subject_alt_name},
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
  };
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());

  Pem pem;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  pem.cert = BioText(bio);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  pem.key = BioText(bio);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

const Pem& ServerPem() {
  static const Pem pem = MakeSelfSigned("localhost", "IP:127.0.0.1,DNS:localhost");
  return pem;
}
const Pem& OtherPem() {  // trusted by nobody in these tests
  static const Pem pem = MakeSelfSigned("localhost", "IP:127.0.0.1,DNS:localhost");
  return pem;
}
const Pem& WrongNamePem() {  // valid, but for a different host
  static const Pem pem = MakeSelfSigned("elsewhere.test", "DNS:elsewhere.test");
  return pem;
}
const Pem& ClientPem() {
  static const Pem pem = MakeSelfSigned("client", "DNS:client");
  return pem;
}

std::string Base64(std::string_view text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(text.data()),
                                   static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(size));
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kube_client_test.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }
  std::string Write(const std::string& name, std::string_view contents) const {
    const std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << contents;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// ---------------------------------------------------------------------------------------
// A scripted HTTP(S) server on 127.0.0.1, running on its own thread

struct SeenRequest {
  std::string target;
  std::string authorization;
  std::string accept;
  std::string user_agent;
  std::string host;
  int connection = 0;  // 1 for the first accepted connection
};

struct Step {
  std::string bytes;      // written as they are
  milliseconds delay{0};  // silence before writing them
};

struct Reply {
  std::vector<Step> steps;
  bool close = false;  // drop the connection after the reply
};

std::string Reason(unsigned status) {
  switch (status) {
    case 200:
      return "OK";
    case 403:
      return "Forbidden";
    case 410:
      return "Gone";
    default:
      return "Status";
  }
}

Reply Respond(unsigned status, const std::string& body) {
  return Reply{{Step{"HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body}}};
}

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}
constexpr char kLastChunk[] = "0\r\n\r\n";
constexpr char kChunkedHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

// A chunked 200 response whose wire bytes after the head go out as `pieces`, `gap` apart.
Reply ChunkedReply(const std::vector<std::string>& pieces, milliseconds gap = milliseconds(5)) {
  Reply reply{{Step{kChunkedHead}}};
  for (const auto& piece : pieces) reply.steps.push_back(Step{piece, gap});
  return reply;
}

using Handler = std::function<Reply(const SeenRequest&)>;

class TestServer {
 public:
  struct Options {
    bool tls = true;
    const Pem* identity = &ServerPem();
    const Pem* required_client_ca = nullptr;  // demand a client certificate signed by this
  };

  explicit TestServer(Handler handler) : TestServer(Options{}, std::move(handler)) {}
  TestServer(Options options, Handler handler) : tls_(options.tls), handler_(std::move(handler)) {
    tls_context_.use_certificate_chain(net::buffer(options.identity->cert));
    tls_context_.use_private_key(net::buffer(options.identity->key), ssl::context::pem);
    if (options.required_client_ca != nullptr) {
      tls_context_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      tls_context_.add_certificate_authority(net::buffer(options.required_client_ca->cert));
    }
    acceptor_.open(tcp::v4());
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    net::co_spawn(io_, Accept(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string Url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }
  std::vector<SeenRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() {
    std::lock_guard lock(mutex_);
    return connections_;
  }

 private:
  net::awaitable<void> Accept() {
    for (;;) {
      tcp::socket socket = co_await acceptor_.async_accept(net::use_awaitable);
      socket.set_option(tcp::no_delay(true));
      int id;
      {
        std::lock_guard lock(mutex_);
        id = ++connections_;
      }
      net::co_spawn(io_, Session(std::move(socket), id), net::detached);
    }
  }

  net::awaitable<void> Session(tcp::socket socket, int id) {
    try {
      if (tls_) {
        ssl::stream<tcp::socket> stream(std::move(socket), tls_context_);
        co_await stream.async_handshake(ssl::stream_base::server, net::use_awaitable);
        co_await Serve(stream, id);
      } else {
        co_await Serve(socket, id);
      }
    } catch (const std::exception&) {
      // The client went away or failed the handshake: that is what some tests want.
    }
  }

  template <class Stream>
  net::awaitable<void> Serve(Stream& stream, int id) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      co_await http::async_read(stream, buffer, request, net::use_awaitable);
      SeenRequest seen{std::string(request.target()),
                       std::string(request[http::field::authorization]),
                       std::string(request[http::field::accept]),
                       std::string(request[http::field::user_agent]),
                       std::string(request[http::field::host]),
                       id};
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
      }
      const Reply reply = handler_(seen);
      for (const Step& step : reply.steps) {
        if (step.delay.count() > 0) {
          net::steady_timer timer(io_, step.delay);
          co_await timer.async_wait(net::use_awaitable);
        }
        co_await net::async_write(stream, net::buffer(step.bytes), net::use_awaitable);
      }
      if (reply.close) co_return;
    }
  }

  const bool tls_;
  Handler handler_;
  ssl::context tls_context_{ssl::context::tls_server};  // outlives the sessions in io_
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  int connections_ = 0;
};

// ---------------------------------------------------------------------------------------
// Client side

ClusterAccess AccessTo(const TestServer& server) {
  ClusterAccess access;
  access.server = server.Url();
  access.ca_data = ServerPem().cert;
  access.token = "T";
  access.source = "test";
  return access;
}

// Runs one client call on `io` to completion (bounded by kCallLimit).
KubeResponse RunCall(net::io_context& io, net::awaitable<KubeResponse> call) {
  std::optional<KubeResponse> result;
  net::co_spawn(io, std::move(call), [&result](std::exception_ptr error, KubeResponse response) {
    if (error) {
      ADD_FAILURE() << "an exception escaped the client";
      result = KubeResponse{};
      return;
    }
    result = std::move(response);
  });
  io.restart();
  io.run_for(kCallLimit);
  if (!result) {
    ADD_FAILURE() << "the call did not finish within " << kCallLimit.count() << " ms";
    return KubeResponse{0, "", "test: did not finish"};
  }
  return *result;
}

struct Streamed {
  KubeResponse response;
  std::vector<std::string> lines;
  milliseconds elapsed{0};
};

Streamed RunStream(net::io_context& io, KubeClient& client, const std::string& target,
                   milliseconds idle_timeout, int stop_after_lines = -1) {
  Streamed out;
  auto on_line = [&out, stop_after_lines](std::string_view line) {
    out.lines.emplace_back(line);
    return stop_after_lines < 0 || static_cast<int>(out.lines.size()) < stop_after_lines;
  };
  const auto start = std::chrono::steady_clock::now();
  out.response = RunCall(io, client.Stream(target, on_line, idle_timeout));
  out.elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

std::unique_ptr<KubeClient> MakeClient(net::io_context& io, ClusterAccess access) {
  auto client = KubeClient::Create(io, std::move(access));
  if (!client) {
    ADD_FAILURE() << "Create failed: " << client.error().Message();
    return nullptr;
  }
  return std::move(*client);
}

Handler Always(unsigned status, std::string body) {
  return [status, body](const SeenRequest&) { return Respond(status, body); };
}

// ---------------------------------------------------------------------------------------
// Get

TEST(KubeClientGetTest, ReturnsBodyAndSendsBearerToken) {
  TestServer server(Always(200, R"({"kind":"PodList"})"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/api/v1/pods?limit=500"));

  EXPECT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.body, R"({"kind":"PodList"})");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/api/v1/pods?limit=500");
  EXPECT_EQ(server.requests()[0].authorization, "Bearer T");
}

TEST(KubeClientGetTest, SendsHostAcceptAndUserAgent) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/version")).ok());

  const std::vector<SeenRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const SeenRequest& seen = requests[0];
  EXPECT_EQ(seen.host, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.accept, "application/json");
  EXPECT_EQ(seen.user_agent, "dscp-gateway/0.1");
}

TEST(KubeClientGetTest, RereadsRotatedTokenFile) {
  TempDir dir;
  const std::string token_file = dir.Write("token", "first-token\n");
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.token.clear();
  access.token_file = token_file;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  dir.Write("token", "second-token-after-rotation\n");
  ASSERT_TRUE(RunCall(io, client->Get("/b")).ok());

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].authorization, "Bearer first-token");
  EXPECT_EQ(seen[1].authorization, "Bearer second-token-after-rotation");
}

TEST(KubeClientGetTest, ReusesKeptAliveConnection) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  ASSERT_TRUE(RunCall(io, client->Get("/b")).ok());

  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(KubeClientGetTest, RetriesOnFreshConnectionWhenIdleOneWasClosed) {
  // The server drops each connection after answering, without announcing it.
  TestServer server([](const SeenRequest& seen) {
    Reply reply = Respond(200, R"({"target":")" + seen.target + R"("})");
    reply.close = true;
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/a")).ok());
  std::this_thread::sleep_for(milliseconds(50));  // let the close arrive
  const KubeResponse second = RunCall(io, client->Get("/b"));

  EXPECT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(second.body, R"({"target":"/b"})");
  EXPECT_EQ(server.connections(), 2);
}

TEST(KubeClientGetTest, ReturnsHttpErrorStatusAndBody) {
  const std::string status = R"({"kind":"Status","code":403,"reason":"Forbidden"})";
  TestServer server(Always(403, status));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/api/v1/pods"));

  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.status, 403u);
  EXPECT_EQ(response.body, status);
  EXPECT_THAT(response.error, IsEmpty());
}

TEST(KubeClientGetTest, FailsTlsHandshakeWhenCaDoesNotMatch) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data = OtherPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("TLS handshake with 127.0.0.1:"));
  EXPECT_THAT(response.error, HasSubstr("certificate verify failed"));
  EXPECT_THAT(server.requests(), IsEmpty());
}

TEST(KubeClientGetTest, FailsTlsHandshakeWhenHostNameDoesNotMatch) {
  TestServer server({.identity = &WrongNamePem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data = WrongNamePem().cert;  // trusted, but issued for elsewhere.test
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("TLS handshake"));
  EXPECT_THAT(response.error, HasSubstr("IP address mismatch"));
  EXPECT_THAT(server.requests(), IsEmpty());
}

TEST(KubeClientGetTest, InsecureSkipTlsVerifyAcceptsUntrustedServer) {
  TestServer server({.identity = &WrongNamePem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.ca_data.clear();
  access.insecure_skip_tls_verify = true;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
}

TEST(KubeClientGetTest, PresentsClientCertificateFromData) {
  TestServer server({.required_client_ca = &ClientPem()}, Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.token.clear();
  access.client_cert_data = ClientPem().cert;
  access.client_key_data = ClientPem().key;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0].authorization, IsEmpty());
}

TEST(KubeClientGetTest, WorksOverPlainHttp) {
  TestServer server({.tls = false}, Always(200, "plain"));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.body, "plain");
}

TEST(KubeClientGetTest, PrefixesTargetWithServerPath) {
  TestServer server(Always(200, "{}"));
  net::io_context io;
  ClusterAccess access = AccessTo(server);
  access.server += "/k8s/clusters/c-1/";
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(RunCall(io, client->Get("/api/v1/pods")).ok());

  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/k8s/clusters/c-1/api/v1/pods");
}

TEST(KubeClientGetTest, ReportsConnectionRefused) {
  net::io_context io;
  unsigned short port;
  {
    tcp::acceptor unused(io, {net::ip::make_address("127.0.0.1"), 0});
    port = unused.local_endpoint().port();
  }
  ClusterAccess access;
  access.server = "https://127.0.0.1:" + std::to_string(port);
  access.ca_data = ServerPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  const KubeResponse response = RunCall(io, client->Get("/version"));

  EXPECT_EQ(response.status, 0u);
  EXPECT_THAT(response.error, HasSubstr("connect 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(response.error, HasSubstr("refused"));
}

// ---------------------------------------------------------------------------------------
// Stream

TEST(KubeClientStreamTest, SplitsLinesAcrossChunks) {
  // Several lines per chunk, and lines that continue into the next chunk.
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("{\"n\":1}\n{\"n\":2}\n{\"n\""), Chunk(":3}\n{\"n\":"), Chunk("4"),
                         Chunk("}\n{\"n\":5}\n"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/api/v1/pods?watch=1", milliseconds(2000));

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines,
              ElementsAre("{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/api/v1/pods?watch=1");
  EXPECT_EQ(server.requests()[0].authorization, "Bearer T");
}

TEST(KubeClientStreamTest, ReassemblesLinesFromSmallReads) {
  // The chunked wire bytes arrive 7 at a time, cutting chunk headers and lines anywhere.
  const std::string wire = Chunk("{\"type\":\"ADDED\"}\n{\"type\":\"MOD") +
                           Chunk("IFIED\"}\n{\"type\":\"DELETED\"}\n") + kLastChunk;
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < wire.size(); at += 7) pieces.push_back(wire.substr(at, 7));
  TestServer server([pieces](const SeenRequest&) { return ChunkedReply(pieces, milliseconds(2)); });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre(R"({"type":"ADDED"})", R"({"type":"MODIFIED"})",
                                          R"({"type":"DELETED"})"));
}

TEST(KubeClientStreamTest, SkipsEmptyLines) {
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("a\n\n\nb\n"), Chunk("\n"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre("a", "b"));
}

TEST(KubeClientStreamTest, DeliversFinalLineWithoutNewlineWhenBodyEnds) {
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("a\nlast"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre("a", "last"));
}

TEST(KubeClientStreamTest, StopsWhenOnLineReturnsFalse) {
  TestServer server([](const SeenRequest&) {
    Reply reply = ChunkedReply({Chunk("1\n2\n3\n")});
    reply.steps.push_back(Step{Chunk("4\n"), kStall});  // the watch would go on
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(3000),
                                      /*stop_after_lines=*/2);

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines, ElementsAre("1", "2"));
  EXPECT_LT(streamed.elapsed, milliseconds(1000));
}

TEST(KubeClientStreamTest, ReportsIdleTimeoutWhenServerStalls) {
  TestServer server([](const SeenRequest&) {
    Reply reply = ChunkedReply({Chunk("1\n")});
    reply.steps.push_back(Step{Chunk("2\n"), kStall});
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(200));

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_EQ(streamed.response.error, "idle timeout");
  EXPECT_THAT(streamed.lines, ElementsAre("1"));
  EXPECT_GE(streamed.elapsed, milliseconds(200));
  EXPECT_LT(streamed.elapsed, milliseconds(2000));
}

TEST(KubeClientStreamTest, ReturnsStatusAndBodyOnHttpError) {
  const std::string status = R"({"kind":"Status","code":410,"reason":"Expired"})";
  TestServer server(Always(410, status));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch?resourceVersion=1", milliseconds(2000));

  EXPECT_EQ(streamed.response.status, 410u);
  EXPECT_EQ(streamed.response.body, status);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines, IsEmpty());
}

TEST(KubeClientStreamTest, RejectsLineLongerThan16MiB) {
  TestServer server([](const SeenRequest&) {
    const std::string piece = Chunk(std::string(64u << 10, 'x'));
    Reply reply = ChunkedReply({});
    for (int i = 0; i < 16 * 16; ++i) reply.steps.push_back(Step{piece});
    reply.steps.push_back(Step{Chunk("x")});  // one byte over the limit
    reply.steps.push_back(Step{Chunk("\n"), kStall});
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_THAT(streamed.response.error, HasSubstr("line longer than 16 MiB"));
  EXPECT_THAT(streamed.lines, IsEmpty());
}

// ---------------------------------------------------------------------------------------
// Create / Describe

TEST(KubeClientCreateTest, DescribeReturnsServer) {
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1:443";
  access.ca_data = ServerPem().cert;
  auto client = MakeClient(io, access);
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(client->Describe(), "https://10.96.0.1:443");
}

TEST(KubeClientCreateTest, RejectsUnsupportedScheme) {
  net::io_context io;
  ClusterAccess access;
  access.server = "ftp://10.96.0.1";
  access.source = "kubeconfig.yaml";

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, "kubeconfig.yaml");
  EXPECT_EQ(client.error().key, "server");
  EXPECT_THAT(client.error().reason, HasSubstr("https"));
}

TEST(KubeClientCreateTest, RejectsMissingCaFile) {
  TempDir dir;
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.ca_file = dir.Path("missing-ca.crt");

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, access.ca_file);
}

TEST(KubeClientCreateTest, RejectsCertificateWithoutKey) {
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.client_cert_data = ClientPem().cert;

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().key, "client-key");
}

TEST(KubeClientCreateTest, RejectsMissingTokenFile) {
  TempDir dir;
  net::io_context io;
  ClusterAccess access;
  access.server = "https://10.96.0.1";
  access.token_file = dir.Path("token");

  const auto client = KubeClient::Create(io, access);

  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().file, access.token_file);
}

// ---------------------------------------------------------------------------------------
// Kubeconfig

std::string Kubeconfig(const std::string& cluster_fields, const std::string& user_fields,
                       const std::string& current_context = "dev") {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "current-context: " +
         current_context +
         "\n"
         "clusters:\n"
         "- name: other-cluster\n"
         "  cluster:\n"
         "    server: https://other.example:6443\n"
         "- name: dev-cluster\n"
         "  cluster:\n"
         "    server: https://10.0.0.1:6443\n" +
         cluster_fields +
         "contexts:\n"
         "- name: other\n"
         "  context: {cluster: other-cluster, user: other-user}\n"
         "- name: dev\n"
         "  context: {cluster: dev-cluster, user: dev-user}\n"
         "users:\n"
         "- name: other-user\n"
         "  user: {token: other-token}\n"
         "- name: dev-user\n"
         "  user:\n" +
         user_fields;
}

TEST(KubeconfigAccessTest, ReadsCurrentContextWithTokenAndCaData) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("    certificate-authority-data: " + Base64("CA PEM") + "\n",
                                     "    token: abc123\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://10.0.0.1:6443");
  EXPECT_EQ(access->ca_data, "CA PEM");
  EXPECT_EQ(access->token, "abc123");
  EXPECT_THAT(access->token_file, IsEmpty());
  EXPECT_FALSE(access->insecure_skip_tls_verify);
  EXPECT_EQ(access->source, path);
}

TEST(KubeconfigAccessTest, UsesRequestedContext) {
  TempDir dir;
  const std::string path = dir.Write("config", Kubeconfig("", "    token: abc123\n"));

  const auto access = KubeconfigAccess(path, "other");

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://other.example:6443");
  EXPECT_EQ(access->token, "other-token");
}

TEST(KubeconfigAccessTest, ResolvesRelativePathsAgainstItsDirectory) {
  TempDir dir;
  const std::string path =
      dir.Write("kube/config", Kubeconfig("    certificate-authority: certs/ca.crt\n",
                                          "    tokenFile: secrets/token\n"
                                          "    client-certificate: /etc/absolute/client.crt\n"
                                          "    client-key: client.key\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  const std::filesystem::path base = dir.path() / "kube";
  EXPECT_EQ(access->ca_file, (base / "certs/ca.crt").string());
  EXPECT_EQ(access->token_file, (base / "secrets/token").string());
  EXPECT_EQ(access->client_cert_file, "/etc/absolute/client.crt");
  EXPECT_EQ(access->client_key_file, (base / "client.key").string());
}

TEST(KubeconfigAccessTest, DecodesClientCertificateAndKeyData) {
  TempDir dir;
  const std::string path = dir.Write(
      "config", Kubeconfig("", "    client-certificate-data: " + Base64("CERT PEM\n") + "\n" +
                                   "    client-key-data: " + Base64("KEY PEM\n") + "\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->client_cert_data, "CERT PEM\n");
  EXPECT_EQ(access->client_key_data, "KEY PEM\n");
  EXPECT_THAT(access->client_cert_file, IsEmpty());
}

TEST(KubeconfigAccessTest, ReadsInsecureSkipTlsVerify) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_TRUE(access->insecure_skip_tls_verify);
}

TEST(KubeconfigAccessTest, MissingContextIsAnError) {
  TempDir dir;
  const std::string path = dir.Write("config", Kubeconfig("", "    token: t\n"));

  const auto access = KubeconfigAccess(path, "prod");

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, path);
  EXPECT_EQ(access.error().key, "contexts");
  EXPECT_THAT(access.error().reason, HasSubstr("\"prod\""));
}

TEST(KubeconfigAccessTest, RejectsExecPlugin) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("",
                                     "    exec:\n"
                                     "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                     "      command: aws\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "users[1].user.exec");
  EXPECT_EQ(access.error().reason, "not supported; use a token or client certificate");
}

TEST(KubeconfigAccessTest, RejectsAuthProvider) {
  TempDir dir;
  const std::string path =
      dir.Write("config", Kubeconfig("", "    auth-provider:\n      name: gcp\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "users[1].user.auth-provider");
}

TEST(KubeconfigAccessTest, RejectsInvalidBase64) {
  TempDir dir;
  const std::string path = dir.Write(
      "config", Kubeconfig("    certificate-authority-data: not*base64\n", "    token: t\n"));

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().key, "clusters[1].cluster.certificate-authority-data");
}

TEST(KubeconfigAccessTest, MissingFileIsAnError) {
  TempDir dir;
  const std::string path = dir.Path("no-such-config");

  const auto access = KubeconfigAccess(path);

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, path);
}

// ---------------------------------------------------------------------------------------
// In-cluster

TEST(InClusterAccessTest, ReadsServiceEnvironmentAndAccountFiles) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  dir.Write("ca.crt", "CA");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://10.96.0.1:443");
  EXPECT_EQ(access->token_file, dir.Path("token"));
  EXPECT_EQ(access->ca_file, dir.Path("ca.crt"));
  EXPECT_EQ(access->source, "in-cluster");
}

TEST(InClusterAccessTest, BracketsIpv6Host) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00:10:96::1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_TRUE(access) << access.error().Message();
  EXPECT_EQ(access->server, "https://[fd00:10:96::1]:443");
}

TEST(InClusterAccessTest, MissingHostVariableIsNamed) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_THAT(access.error().Message(), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

TEST(InClusterAccessTest, MissingPortVariableIsNamed) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", nullptr);

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_THAT(access.error().Message(), HasSubstr("KUBERNETES_SERVICE_PORT"));
}

TEST(InClusterAccessTest, MissingTokenFileIsNamed) {
  TempDir dir;
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");

  const auto access = InClusterAccess(dir.path().string());

  ASSERT_FALSE(access);
  EXPECT_EQ(access.error().file, dir.Path("token"));
}

}  // namespace
}  // namespace dg::k8s
