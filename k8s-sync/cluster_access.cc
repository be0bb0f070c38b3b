#include "k8s-sync/cluster_access.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "control/yaml_helpers.h"

namespace dg::k8s {
namespace {

constexpr std::chrono::seconds kTokenMaxAge{60};  // re-read the token file at least this often

template <class T>
Result<T> Error(std::string file, std::string key, std::string reason) {
  return Result<T>(boost::system::in_place_error,
                   ConfigError{std::move(file), std::move(key), std::move(reason)});
}

std::string Trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// Standard base64 (RFC 4648), padding optional, whitespace ignored; nullopt if malformed.
std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int bit_count = 0;
  bool padding = false;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>((bits >> bit_count) & 0xff);
    }
  }
  if (bit_count >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

// ---------------------------------------------------------------------------------------
// Kubeconfig

// A map node's child, or an undefined node when `node` is not a map or lacks `key`
// (yaml-cpp's operator[] throws on scalars).
YAML::Node Child(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return node[key];
}

struct KubeconfigReader {
  std::string path;
  std::filesystem::path dir;

  // A scalar string at `node`, or an error naming `key`.
  Result<std::string> String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Error<std::string>(path, key, "expected a string");
    return Result<std::string>(boost::system::in_place_value, node.Scalar());
  }

  Result<std::string> FilePath(const YAML::Node& node, const std::string& key) const {
    auto value = String(node, key);
    if (!value) return value;
    if (value->empty()) return Error<std::string>(path, key, "is empty; expected a file path");
    std::filesystem::path file(*value);
    if (file.is_relative() && !dir.empty()) file = dir / file;
    return Result<std::string>(boost::system::in_place_value, file.string());
  }

  Result<std::string> Base64(const YAML::Node& node, const std::string& key) const {
    auto value = String(node, key);
    if (!value) return value;
    auto decoded = DecodeBase64(*value);
    if (!decoded) return Error<std::string>(path, key, "is not valid base64");
    return Result<std::string>(boost::system::in_place_value, std::move(*decoded));
  }

  // The entry of the named list (`clusters`, `users`, `contexts`) called `name`; its index
  // goes to `index`.
  Result<YAML::Node> Named(const YAML::Node& root, const char* list, const std::string& name,
                           const char* what, std::size_t* index) const {
    const YAML::Node entries = Child(root, list);
    if (entries.IsDefined() && !entries.IsNull() && !entries.IsSequence()) {
      return Error<YAML::Node>(path, list, "expected a list");
    }
    if (entries.IsSequence()) {
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const YAML::Node entry_name = Child(entries[i], "name");
        if (entry_name.IsScalar() && entry_name.Scalar() == name) {
          *index = i;
          return Result<YAML::Node>(boost::system::in_place_value, entries[i]);
        }
      }
    }
    return Error<YAML::Node>(path, list, std::string("no ") + what + " named \"" + name + "\"");
  }

  Result<ClusterAccess> Read(const YAML::Node& root, const std::string& requested_context) const {
    ClusterAccess access;
    access.source = path;

    std::string context_name = requested_context;
    if (context_name.empty()) {
      const YAML::Node current = Child(root, "current-context");
      if (current.IsDefined() && !current.IsNull()) {
        auto name = String(current, "current-context");
        if (!name) return Result<ClusterAccess>(boost::system::in_place_error, name.error());
        context_name = *name;
      }
      if (context_name.empty()) {
        return Error<ClusterAccess>(path, "current-context",
                                    "is not set; name a context explicitly");
      }
    }
    std::size_t context_index = 0;
    auto context_entry = Named(root, "contexts", context_name, "context", &context_index);
    if (!context_entry) {
      return Result<ClusterAccess>(boost::system::in_place_error, context_entry.error());
    }
    const std::string context_key = "contexts[" + std::to_string(context_index) + "].context";
    const YAML::Node context = Child(*context_entry, "context");
    if (!context.IsMap()) return Error<ClusterAccess>(path, context_key, "expected a map");

    // Cluster: where the server is and how to trust it.
    const YAML::Node cluster_ref = Child(context, "cluster");
    if (!cluster_ref.IsScalar() || cluster_ref.Scalar().empty()) {
      return Error<ClusterAccess>(path, context_key + ".cluster",
                                  "missing; expected a cluster name");
    }
    std::size_t cluster_index = 0;
    auto cluster_entry = Named(root, "clusters", cluster_ref.Scalar(), "cluster", &cluster_index);
    if (!cluster_entry) {
      return Result<ClusterAccess>(boost::system::in_place_error, cluster_entry.error());
    }
    const std::string cluster_key = "clusters[" + std::to_string(cluster_index) + "].cluster";
    const YAML::Node cluster = Child(*cluster_entry, "cluster");
    if (!cluster.IsMap()) return Error<ClusterAccess>(path, cluster_key, "expected a map");

    const YAML::Node server = Child(cluster, "server");
    if (!server.IsScalar() || server.Scalar().empty()) {
      return Error<ClusterAccess>(path, cluster_key + ".server",
                                  "missing; expected https://host:port");
    }
    access.server = server.Scalar();

    // Each -data field takes precedence over its file counterpart, as in client-go.
    if (const YAML::Node data = Child(cluster, "certificate-authority-data"); data.IsDefined()) {
      auto pem = Base64(data, cluster_key + ".certificate-authority-data");
      if (!pem) return Result<ClusterAccess>(boost::system::in_place_error, pem.error());
      access.ca_data = std::move(*pem);
    } else if (const YAML::Node file = Child(cluster, "certificate-authority"); file.IsDefined()) {
      auto ca_file = FilePath(file, cluster_key + ".certificate-authority");
      if (!ca_file) return Result<ClusterAccess>(boost::system::in_place_error, ca_file.error());
      access.ca_file = std::move(*ca_file);
    }
    if (const YAML::Node insecure = Child(cluster, "insecure-skip-tls-verify");
        insecure.IsDefined() && !insecure.IsNull()) {
      bool value = false;
      if (!insecure.IsScalar() || !YAML::convert<bool>::decode(insecure, value)) {
        return Error<ClusterAccess>(path, cluster_key + ".insecure-skip-tls-verify",
                                    "expected true or false");
      }
      access.insecure_skip_tls_verify = value;
    }

    // User: how to authenticate. A context without a user is anonymous.
    const YAML::Node user_ref = Child(context, "user");
    if (!user_ref.IsDefined() || user_ref.IsNull() ||
        (user_ref.IsScalar() && user_ref.Scalar().empty())) {
      return Result<ClusterAccess>(boost::system::in_place_value, std::move(access));
    }
    if (!user_ref.IsScalar()) {
      return Error<ClusterAccess>(path, context_key + ".user", "expected a user name");
    }
    std::size_t user_index = 0;
    auto user_entry = Named(root, "users", user_ref.Scalar(), "user", &user_index);
    if (!user_entry)
      return Result<ClusterAccess>(boost::system::in_place_error, user_entry.error());
    const std::string user_key = "users[" + std::to_string(user_index) + "].user";
    const YAML::Node user = Child(*user_entry, "user");
    if (user.IsNull() || !user.IsDefined()) {
      return Result<ClusterAccess>(boost::system::in_place_value, std::move(access));
    }
    if (!user.IsMap()) return Error<ClusterAccess>(path, user_key, "expected a map");

    for (const char* plugin : {"exec", "auth-provider"}) {
      if (Child(user, plugin).IsDefined()) {
        return Error<ClusterAccess>(path, user_key + "." + plugin,
                                    "not supported; use a token or client certificate");
      }
    }
    for (const char* basic : {"username", "password"}) {
      if (Child(user, basic).IsDefined()) {
        return Error<ClusterAccess>(path, user_key + "." + basic,
                                    "basic authentication is not supported; use a token or "
                                    "client certificate");
      }
    }

    if (const YAML::Node token = Child(user, "token"); token.IsDefined()) {
      auto value = String(token, user_key + ".token");
      if (!value) return Result<ClusterAccess>(boost::system::in_place_error, value.error());
      access.token = Trim(*value);
    }
    if (const YAML::Node token_file = Child(user, "tokenFile"); token_file.IsDefined()) {
      auto value = FilePath(token_file, user_key + ".tokenFile");
      if (!value) return Result<ClusterAccess>(boost::system::in_place_error, value.error());
      access.token_file = std::move(*value);
    }

    struct PemField {
      const char* data_key;
      const char* file_key;
      std::string* data;
      std::string* file;
    };
    const PemField fields[] = {
        {"client-certificate-data", "client-certificate", &access.client_cert_data,
         &access.client_cert_file},
        {"client-key-data", "client-key", &access.client_key_data, &access.client_key_file},
    };
    for (const PemField& field : fields) {
      if (const YAML::Node data = Child(user, field.data_key); data.IsDefined()) {
        auto pem = Base64(data, user_key + "." + field.data_key);
        if (!pem) return Result<ClusterAccess>(boost::system::in_place_error, pem.error());
        *field.data = std::move(*pem);
      } else if (const YAML::Node file = Child(user, field.file_key); file.IsDefined()) {
        auto value = FilePath(file, user_key + "." + field.file_key);
        if (!value) return Result<ClusterAccess>(boost::system::in_place_error, value.error());
        *field.file = std::move(*value);
      }
    }
    const bool has_cert = !access.client_cert_data.empty() || !access.client_cert_file.empty();
    const bool has_key = !access.client_key_data.empty() || !access.client_key_file.empty();
    if (has_cert != has_key) {
      return Error<ClusterAccess>(path,
                                  user_key + (has_cert ? ".client-key" : ".client-certificate"),
                                  "missing; a client certificate needs both certificate and key");
    }
    return Result<ClusterAccess>(boost::system::in_place_value, std::move(access));
  }
};

}  // namespace

Result<ClusterAccess> InClusterAccess(const std::string& service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (host == nullptr || *host == '\0') {
    return Error<ClusterAccess>("in-cluster", "KUBERNETES_SERVICE_HOST",
                                "is not set; not running in a Kubernetes pod?");
  }
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (port == nullptr || *port == '\0') {
    return Error<ClusterAccess>("in-cluster", "KUBERNETES_SERVICE_PORT",
                                "is not set; not running in a Kubernetes pod?");
  }
  const std::string port_text = port;
  const bool port_ok = port_text.size() <= 5 &&
                       std::all_of(port_text.begin(), port_text.end(),
                                   [](char c) { return c >= '0' && c <= '9'; }) &&
                       std::stoul(port_text) >= 1 && std::stoul(port_text) <= 65535;
  if (!port_ok) {
    return Error<ClusterAccess>("in-cluster", "KUBERNETES_SERVICE_PORT",
                                "\"" + port_text + "\" is not a port number (1-65535)");
  }
  ClusterAccess access;
  access.source = "in-cluster";
  const std::string host_text = host;
  const bool ipv6 = host_text.find(':') != std::string::npos && host_text.front() != '[';
  access.server = "https://" + (ipv6 ? "[" + host_text + "]" : host_text) + ":" + port_text;

  const std::filesystem::path dir(service_account_dir);
  access.token_file = (dir / "token").string();
  auto token = ReadTextFile(access.token_file);
  if (!token) {
    return Error<ClusterAccess>(access.token_file, "",
                                "service-account token: " + token.error().reason);
  }
  if (Trim(*token).empty()) {
    return Error<ClusterAccess>(access.token_file, "", "service-account token is empty");
  }
  access.ca_file = (dir / "ca.crt").string();
  return Result<ClusterAccess>(boost::system::in_place_value, std::move(access));
}

Result<ClusterAccess> KubeconfigAccess(const std::string& path, const std::string& context) {
  auto text = ReadTextFile(path);
  if (!text) return Result<ClusterAccess>(boost::system::in_place_error, text.error());
  auto loaded = LoadYaml(*text, path);
  if (!loaded) return Result<ClusterAccess>(boost::system::in_place_error, loaded.error());
  const YAML::Node root = *loaded;
  if (!root.IsMap()) return Error<ClusterAccess>(path, "", "expected a kubeconfig (a YAML map)");
  KubeconfigReader reader{path, std::filesystem::path(path).parent_path()};
  try {
    return reader.Read(root, context);
  } catch (const YAML::Exception& e) {
    return Error<ClusterAccess>(path, "", std::string("invalid kubeconfig: ") + e.what());
  }
}

Result<KubernetesStartup> ResolveKubernetesStartup(const GatewayConfig& config) {
  auto settings = ResolveKubernetesSettings(config, std::getenv("NODE_NAME"));
  if (!settings) return Result<KubernetesStartup>(boost::system::in_place_error, settings.error());
  auto access = settings->kubeconfig.empty()
                    ? InClusterAccess()
                    : KubeconfigAccess(settings->kubeconfig, settings->context);
  if (!access) return Result<KubernetesStartup>(boost::system::in_place_error, access.error());
  return KubernetesStartup{std::move(*settings), std::move(*access)};
}

bool BearerToken::FileStamp::operator==(const FileStamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         mtime.tv_sec == other.mtime.tv_sec && mtime.tv_nsec == other.mtime.tv_nsec &&
         ctime.tv_sec == other.ctime.tv_sec && ctime.tv_nsec == other.ctime.tv_nsec;
}

Result<BearerToken> BearerToken::Create(const ClusterAccess& access) {
  BearerToken bearer;
  bearer.token_file_ = access.token_file;
  if (bearer.token_file_.empty()) {
    bearer.token_ = Trim(access.token);
  } else if (auto error = bearer.Load()) {
    return Result<BearerToken>(boost::system::in_place_error, std::move(*error));
  }
  return Result<BearerToken>(boost::system::in_place_value, std::move(bearer));
}

BearerToken::BearerToken(BearerToken&& other) noexcept {
  std::lock_guard lock(other.mutex_);
  token_file_ = std::move(other.token_file_);
  token_ = std::move(other.token_);
  stamp_ = other.stamp_;
  read_at_ = other.read_at_;
}

std::optional<ConfigError> BearerToken::Load() {
  struct stat st {};
  const bool stamped = ::stat(token_file_.c_str(), &st) == 0;
  auto text = ReadTextFile(token_file_);
  if (!text) return text.error();
  std::string value = Trim(*text);
  if (value.empty()) return ConfigError{token_file_, "", "token file is empty"};
  token_ = std::move(value);
  stamp_ =
      stamped ? FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim} : FileStamp{};
  read_at_ = Clock::now();
  return std::nullopt;
}

std::string BearerToken::Current() {
  std::lock_guard lock(mutex_);
  if (token_file_.empty()) return token_;
  struct stat st {};
  if (::stat(token_file_.c_str(), &st) != 0) return token_;
  const FileStamp stamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  if (!(stamp == stamp_) || Clock::now() - read_at_ >= kTokenMaxAge) Load();
  return token_;
}

}  // namespace dg::k8s
