// Shared by the kube_client_test sources: test certificates, a scripted HTTP(S) API server and
// client-call runners.
#pragma once

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

#include "k8s-sync/kube_client.h"

namespace dg::k8s::kube_test {

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
inline constexpr milliseconds kCallLimit{5000};
// Long enough that a stalled server never speaks again during a test.
inline constexpr milliseconds kStall{10000};

// ---------------------------------------------------------------------------------------
// Certificates, files, environment

struct Pem {
  std::string cert;
  std::string key;
};

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A self-signed P-256 certificate (usable as its own CA) with the given subjectAltName.
inline Pem MakeSelfSigned(const char* common_name, const char* subject_alt_name) {
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

inline const Pem& ServerPem() {
  static const Pem pem = MakeSelfSigned("localhost", "IP:127.0.0.1,DNS:localhost");
  return pem;
}
inline const Pem& OtherPem() {  // trusted by nobody in these tests
  static const Pem pem = MakeSelfSigned("localhost", "IP:127.0.0.1,DNS:localhost");
  return pem;
}
inline const Pem& WrongNamePem() {  // valid, but for a different host
  static const Pem pem = MakeSelfSigned("elsewhere.test", "DNS:elsewhere.test");
  return pem;
}
inline const Pem& ClientPem() {
  static const Pem pem = MakeSelfSigned("client", "DNS:client");
  return pem;
}

inline std::string Base64(std::string_view text) {
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

inline std::string Reason(unsigned status) {
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

inline Reply Respond(unsigned status, const std::string& body) {
  return Reply{{Step{"HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body}}};
}

inline std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}
inline constexpr char kLastChunk[] = "0\r\n\r\n";
inline constexpr char kChunkedHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

// A chunked 200 response whose wire bytes after the head go out as `pieces`, `gap` apart.
inline Reply ChunkedReply(const std::vector<std::string>& pieces,
                          milliseconds gap = milliseconds(5)) {
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

inline ClusterAccess AccessTo(const TestServer& server) {
  ClusterAccess access;
  access.server = server.Url();
  access.ca_data = ServerPem().cert;
  access.token = "T";
  access.source = "test";
  return access;
}

// Runs one client call on `io` to completion (bounded by kCallLimit).
inline KubeResponse RunCall(net::io_context& io, net::awaitable<KubeResponse> call) {
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

inline Streamed RunStream(net::io_context& io, KubeClient& client, const std::string& target,
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

inline std::unique_ptr<KubeClient> MakeClient(net::io_context& io, ClusterAccess access) {
  auto client = KubeClient::Create(io, std::move(access));
  if (!client) {
    ADD_FAILURE() << "Create failed: " << client.error().Message();
    return nullptr;
  }
  return std::move(*client);
}

inline Handler Always(unsigned status, std::string body) {
  return [status, body](const SeenRequest&) { return Respond(status, body); };
}

}  // namespace dg::k8s::kube_test
