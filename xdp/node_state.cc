#include "xdp/node_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dg::node {
namespace {

namespace json = boost::json;

constexpr int kStateVersion = 1;

std::string ToHex(const RawMessage& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (uint8_t byte : bytes) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0xf];
  }
  return text;
}

std::optional<RawMessage> FromHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  RawMessage bytes;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = nibble(text[i]);
    const int low = nibble(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<uint8_t>(high << 4 | low));
  }
  // A message shorter than its own netlink header cannot be replayed.
  if (bytes.size() < 16) return std::nullopt;
  return bytes;
}

json::array HexArray(const std::vector<RawMessage>& messages) {
  json::array array;
  for (const RawMessage& message : messages) array.emplace_back(ToHex(message));
  return array;
}

}  // namespace

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kAttaching:
      return "attaching";
    case Phase::kAttached:
      return "attached";
    case Phase::kDetaching:
      return "detaching";
  }
  return "?";
}

std::string FormatMac(const MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

std::string NodeStateToJson(const NodeState& state) {
  json::object offloads;
  for (const auto& [name, enabled] : state.uplink.offloads) offloads[name] = enabled;
  json::object uplink{{"name", state.uplink.name},
                      {"ifindex", state.uplink.ifindex},
                      {"mac", FormatMac(state.uplink.mac)},
                      {"mtu", state.uplink.mtu},
                      {"promisc", state.uplink.promisc},
                      {"ipv6_disabled", state.uplink.ipv6_disabled},
                      {"offloads", offloads},
                      {"addresses", HexArray(state.uplink.addresses)},
                      {"routes", HexArray(state.uplink.routes)}};
  json::object root{{"version", kStateVersion},
                    {"phase", PhaseName(state.phase)},
                    {"step", state.step},
                    {"uplink", uplink}};
  return json::serialize(root) + "\n";
}

Result<NodeState> NodeStateFromJson(const std::string& text, const std::string& path) {
  boost::system::error_code parse_error;
  json::value document = json::parse(text, parse_error);
  if (parse_error) return ConfigError{path, "", "not JSON: " + parse_error.message()};
  auto fail = [&](const std::string& key, const std::string& reason) {
    return ConfigError{path, key, reason};
  };
  const json::object* root = document.if_object();
  if (root == nullptr) return fail("", "expected an object");
  const json::value* version = root->if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != kStateVersion) {
    return fail("version", "expected " + std::to_string(kStateVersion));
  }
  NodeState state;
  const json::value* phase = root->if_contains("phase");
  if (phase == nullptr || !phase->is_string()) return fail("phase", "expected a string");
  if (*phase == "attaching") {
    state.phase = Phase::kAttaching;
  } else if (*phase == "attached") {
    state.phase = Phase::kAttached;
  } else if (*phase == "detaching") {
    state.phase = Phase::kDetaching;
  } else {
    return fail("phase", "expected attaching, attached or detaching");
  }
  const json::value* step = root->if_contains("step");
  if (step == nullptr || !step->is_int64()) return fail("step", "expected an integer");
  state.step = static_cast<int>(step->as_int64());
  const json::value* uplink_value = root->if_contains("uplink");
  if (uplink_value == nullptr || !uplink_value->is_object())
    return fail("uplink", "expected an object");
  const json::object& uplink = uplink_value->as_object();
  auto field = [&](const char* key) { return uplink.if_contains(key); };
  const json::value* name = field("name");
  if (name == nullptr || !name->is_string()) return fail("uplink.name", "expected a string");
  state.uplink.name = std::string(name->as_string());
  const json::value* ifindex = field("ifindex");
  if (ifindex == nullptr || !ifindex->is_int64())
    return fail("uplink.ifindex", "expected an integer");
  state.uplink.ifindex = static_cast<int>(ifindex->as_int64());
  const json::value* mac = field("mac");
  unsigned bytes[6];
  if (mac == nullptr || !mac->is_string() ||
      std::sscanf(mac->as_string().c_str(), "%2x:%2x:%2x:%2x:%2x:%2x", &bytes[0], &bytes[1],
                  &bytes[2], &bytes[3], &bytes[4], &bytes[5]) != 6) {
    return fail("uplink.mac", "expected aa:bb:cc:dd:ee:ff");
  }
  for (int i = 0; i < 6; ++i) state.uplink.mac[i] = static_cast<uint8_t>(bytes[i]);
  const json::value* mtu = field("mtu");
  if (mtu == nullptr || !mtu->is_int64()) return fail("uplink.mtu", "expected an integer");
  state.uplink.mtu = static_cast<uint32_t>(mtu->as_int64());
  for (auto [key, target] : {std::pair{"promisc", &state.uplink.promisc},
                             std::pair{"ipv6_disabled", &state.uplink.ipv6_disabled}}) {
    const json::value* flag = field(key);
    if (flag == nullptr || !flag->is_bool())
      return fail(std::string("uplink.") + key, "expected true or false");
    *target = flag->as_bool();
  }
  const json::value* offloads = field("offloads");
  if (offloads == nullptr || !offloads->is_object())
    return fail("uplink.offloads", "expected an object");
  for (const auto& [key, value] : offloads->as_object()) {
    if (!value.is_bool())
      return fail("uplink.offloads." + std::string(key), "expected true or false");
    state.uplink.offloads[std::string(key)] = value.as_bool();
  }
  for (auto [key, target] : {std::pair{"addresses", &state.uplink.addresses},
                             std::pair{"routes", &state.uplink.routes}}) {
    const json::value* list = field(key);
    if (list == nullptr || !list->is_array())
      return fail(std::string("uplink.") + key, "expected an array");
    for (size_t i = 0; i < list->as_array().size(); ++i) {
      const json::value& item = list->as_array()[i];
      std::optional<RawMessage> message;
      if (item.is_string()) message = FromHex(item.as_string());
      if (!message) {
        return fail(std::string("uplink.") + key + "[" + std::to_string(i) + "]",
                    "expected a hex-encoded netlink message");
      }
      target->push_back(std::move(*message));
    }
  }
  return state;
}

EnvResult<std::optional<NodeState>> LoadNodeState(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text) {
    if (!std::filesystem::exists(path)) return std::optional<NodeState>();
    return EnvironmentError{"read node state", text.error().Message()};
  }
  auto state = NodeStateFromJson(*text, path);
  if (!state) {
    return EnvironmentError{"read node state",
                            state.error().Message() + " (restore by hand, then delete the file)"};
  }
  return std::optional<NodeState>(std::move(*state));
}

EnvResult<void> SaveNodeState(const std::string& path, const NodeState& state) {
  const std::string what = "write node state " + path;
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error) return EnvironmentError{what, error.message()};
  const std::string temporary = path + ".tmp";
  const std::string text = NodeStateToJson(state);
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return EnvironmentError{what, std::strerror(errno)};
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  const int write_error = errno;
  close(fd);
  if (!written) return EnvironmentError{what, std::strerror(write_error)};
  if (rename(temporary.c_str(), path.c_str()) != 0)
    return EnvironmentError{what, std::strerror(errno)};
  return {};
}

EnvResult<void> RemoveNodeState(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return EnvironmentError{"remove node state " + path, std::strerror(errno)};
  }
  return {};
}

}  // namespace dg::node
