// `node status`: what the journal says and what the kernel shows, in text or JSON.
#include <linux/if.h>

#include <boost/json.hpp>

#include "xdp/node_attach.h"

namespace dg::node {
namespace {

namespace json = boost::json;

// What to do about a phase that is not "attached".
const char* PhaseHint(Phase phase) {
  if (phase == Phase::kAttaching) return " (interrupted: run node attach or node detach)";
  if (phase == Phase::kDetaching) return " (interrupted: run node detach)";
  return "";
}

json::value LinkJson(const std::optional<LinkInfo>& link) {
  if (!link) return nullptr;
  return json::object{{"name", link->name},
                      {"ifindex", link->ifindex},
                      {"mac", FormatMac(link->mac)},
                      {"mtu", link->mtu},
                      {"up", (link->flags & IFF_UP) != 0},
                      {"promisc", (link->flags & IFF_PROMISC) != 0},
                      {"xdp", link->xdp_attached}};
}

std::string LinkLine(const char* role, const std::string& name,
                     const std::optional<LinkInfo>& link) {
  std::string line = std::string(role) + " " + name + ": ";
  if (!link) return line + "absent\n";
  return line + "ifindex " + std::to_string(link->ifindex) + ", mac " + FormatMac(link->mac) +
         ", mtu " + std::to_string(link->mtu) + ((link->flags & IFF_UP) ? ", up" : ", down") +
         ((link->flags & IFF_PROMISC) ? ", promisc" : "") + (link->xdp_attached ? ", xdp" : "") +
         "\n";
}

}  // namespace

EnvResult<NodeStatus> QueryNodeStatus(Rtnetlink& netlink, NodePrograms& programs,
                                      const std::string& state_path) {
  NodeStatus status;
  auto state = LoadNodeState(state_path);
  if (!state) return state.error();
  status.state = std::move(*state);
  for (auto [name, target] : {std::pair{std::string(kKernelLeg), &status.kernel_leg},
                              std::pair{std::string(kGatewayLeg), &status.gateway_leg}}) {
    auto link = netlink.GetLink(name);
    if (!link) return link.error();
    *target = *link;
  }
  if (status.kernel_leg) {
    auto addresses = netlink.DumpAddresses(status.kernel_leg->ifindex);
    if (!addresses) return addresses.error();
    status.kernel_leg_addresses = addresses->size();
  }
  if (status.state) {
    auto link = netlink.GetLink(status.state->uplink.name);
    if (!link) return link.error();
    status.uplink = *link;
    auto queried = programs.Query(status.state->uplink.name);
    if (queried) {
      status.programs = *queried;
    } else {
      status.programs_error = queried.error().Message();
    }
  }
  return status;
}

std::string NodeStatusText(const NodeStatus& status) {
  if (!status.state) {
    return std::string("node: not attached") +
           (status.kernel_leg ? " (but " + std::string(kKernelLeg) + " exists: not ours?)\n"
                              : "\n");
  }
  const NodeState& state = *status.state;
  std::string text = "node: " + std::string(PhaseName(state.phase)) + PhaseHint(state.phase) + "\n";
  if (state.phase == Phase::kAttaching) {
    text += "journal: step " + std::to_string(state.step) + "/" + std::to_string(kAttachStepCount) +
            " (" + AttachStepName(static_cast<AttachStep>(state.step < 1 ? 1 : state.step)) + ")\n";
  }
  text += LinkLine("uplink", state.uplink.name, status.uplink);
  text += LinkLine("kernel leg", kKernelLeg, status.kernel_leg);
  if (status.kernel_leg) {
    text += "  " + std::to_string(status.kernel_leg_addresses) +
            " addresses (saved from the uplink: " + std::to_string(state.uplink.addresses.size()) +
            "), " + std::to_string(state.uplink.routes.size()) + " routes moved\n";
  }
  text += LinkLine("gateway leg", kGatewayLeg, status.gateway_leg);
  if (status.programs) {
    const ProgramsStatus& programs = *status.programs;
    text += "programs: " + std::string(programs.attached ? "attached" : "not attached") +
            (programs.detail.empty() ? "" : " (" + programs.detail + ")") + "\n";
    text += "gateway socket: " +
            std::string(!programs.gateway_socket_bound
                            ? "unknown (kernel without CONFIG_XDP_SOCKETS_DIAG)"
                        : *programs.gateway_socket_bound ? "bound"
                                                         : "not bound (failing open)") +
            "\n";
    text +=
        "gateway heartbeat: " +
        (programs.heartbeat_age_seconds ? std::to_string(*programs.heartbeat_age_seconds) + " s ago"
                                        : std::string("never")) +
        "\n";
    text += "frames failed open: " + std::to_string(programs.failed_open_frames) +
            ", bypassed to the kernel: " + std::to_string(programs.bypassed_frames) + "\n";
  } else {
    text += "programs: unknown (" + status.programs_error + ")\n";
  }
  return text;
}

std::string NodeStatusJson(const NodeStatus& status) {
  json::object root;
  root["attached"] = status.state && status.state->phase == Phase::kAttached;
  root["phase"] = status.state ? json::value(PhaseName(status.state->phase)) : json::value(nullptr);
  if (status.state) {
    root["journal_step"] = status.state->step;
    root["uplink_name"] = status.state->uplink.name;
    root["saved_addresses"] = status.state->uplink.addresses.size();
    root["saved_routes"] = status.state->uplink.routes.size();
  }
  root["uplink"] = LinkJson(status.uplink);
  root["kernel_leg"] = LinkJson(status.kernel_leg);
  root["kernel_leg_addresses"] = status.kernel_leg_addresses;
  root["gateway_leg"] = LinkJson(status.gateway_leg);
  if (status.programs) {
    root["programs"] = json::object{
        {"attached", status.programs->attached},
        {"gateway_socket_bound", status.programs->gateway_socket_bound
                                     ? json::value(*status.programs->gateway_socket_bound)
                                     : json::value(nullptr)},
        {"heartbeat_age_seconds", status.programs->heartbeat_age_seconds
                                      ? json::value(*status.programs->heartbeat_age_seconds)
                                      : json::value(nullptr)},
        {"failed_open_frames", status.programs->failed_open_frames},
        {"bypassed_frames", status.programs->bypassed_frames},
        {"detail", status.programs->detail}};
  } else {
    root["programs"] = nullptr;
    if (!status.programs_error.empty()) root["programs_error"] = status.programs_error;
  }
  return json::serialize(root) + "\n";
}

}  // namespace dg::node
