#include "xdp/node_attach.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>

#include "control/log.h"
#include "xdp/node_system.h"

namespace dg::node {
namespace {

constexpr const char* kComponent = "node";
// IPv6 routes naming a source address wait for that address's duplicate address detection.
constexpr auto kRouteRetryDeadline = std::chrono::seconds(5);
constexpr auto kRouteRetryPause = std::chrono::milliseconds(100);

LinkChange SetUp(bool up) {
  LinkChange change;
  change.up = up;
  return change;
}

LinkChange SetPromisc(bool promisc) {
  LinkChange change;
  change.promisc = promisc;
  return change;
}

LinkChange SetIdentity(const MacAddress& mac, uint32_t mtu) {
  LinkChange change;
  change.mac = mac;
  change.mtu = mtu;
  return change;
}

LinkChange SetMtuUp(uint32_t mtu) {
  LinkChange change = SetUp(true);
  change.mtu = mtu;
  return change;
}

EnvResult<LinkInfo> RequireLink(Rtnetlink& netlink, const std::string& name) {
  auto link = netlink.GetLink(name);
  if (!link) return link.error();
  if (!*link) return EnvironmentError{"find interface " + name, "no such interface"};
  return **link;
}

EnvResult<UplinkSnapshot> Snapshot(Rtnetlink& netlink, const LinkInfo& link) {
  UplinkSnapshot snapshot;
  snapshot.name = link.name;
  snapshot.ifindex = link.ifindex;
  snapshot.mac = link.mac;
  snapshot.mtu = link.mtu;
  snapshot.promisc = (link.flags & IFF_PROMISC) != 0;
  auto ipv6_disabled = Ipv6Disabled(link.name);
  if (!ipv6_disabled) return ipv6_disabled.error();
  snapshot.ipv6_disabled = *ipv6_disabled;
  for (Offload offload : kAllOffloads) {
    auto enabled = GetOffload(link.name, offload);
    if (!enabled) return enabled.error();
    snapshot.offloads[OffloadName(offload)] = *enabled;
  }
  auto addresses = netlink.DumpAddresses(link.ifindex);
  if (!addresses) return addresses.error();
  snapshot.addresses = std::move(*addresses);
  auto routes = netlink.DumpRoutes();
  if (!routes) return routes.error();
  for (RawMessage& route : *routes) {
    // Kernel-made routes (connected prefixes, local/broadcast, fe80::/64, ff00::/8) follow
    // their addresses and the link; moving them by hand would collide with the kernel's.
    if (IsClonedRoute(route) || IsKernelRoute(route) || !RouteUsesLink(route, link.ifindex))
      continue;
    if (RouteUsesNexthopObject(route)) {
      return EnvironmentError{"save route " + DescribeRoute(route),
                              "routes through nexthop objects (ip nexthop) are not supported"};
    }
    snapshot.routes.push_back(std::move(route));
  }
  return snapshot;
}

// Adds each route, retrying those whose gateway or source is not usable yet (another route or
// an address still in DAD) until no progress is possible.
EnvResult<void> AddRoutes(Rtnetlink& netlink, const std::vector<RawMessage>& routes,
                          int from_ifindex, int to_ifindex) {
  std::vector<RawMessage> pending;
  for (const RawMessage& route : routes)
    pending.push_back(RetargetRoute(route, from_ifindex, to_ifindex));
  const auto deadline = std::chrono::steady_clock::now() + kRouteRetryDeadline;
  for (;;) {
    std::vector<RawMessage> retry;
    for (const RawMessage& route : pending) {
      auto added = netlink.Replay(route, RTM_NEWROUTE, {EEXIST, ENETUNREACH, EINVAL});
      if (!added) return added.error();
      if (*added == ENETUNREACH || *added == EINVAL) retry.push_back(route);
    }
    if (retry.empty()) return {};
    const bool progressed = retry.size() < pending.size();
    if (!progressed && std::chrono::steady_clock::now() > deadline) {
      // Once more without tolerance, for the kernel's own reason.
      auto added = netlink.Replay(retry.front(), RTM_NEWROUTE, {EEXIST});
      if (!added) return added.error();
    }
    if (!progressed) std::this_thread::sleep_for(kRouteRetryPause);
    pending = std::move(retry);
  }
}

EnvResult<void> RunStep(AttachStep step, Rtnetlink& netlink, NodePrograms& programs,
                        const UplinkSnapshot& uplink) {
  switch (step) {
    case AttachStep::kCreateLegs: {
      auto existing = netlink.GetLink(kKernelLeg);
      if (!existing) return existing.error();
      if (!*existing) {
        if (auto created = netlink.CreateVethPair(kKernelLeg, kGatewayLeg); !created)
          return created;
      }
      auto kernel_leg = RequireLink(netlink, kKernelLeg);
      if (!kernel_leg) return kernel_leg.error();
      auto gateway_leg = RequireLink(netlink, kGatewayLeg);
      if (!gateway_leg) return gateway_leg.error();
      // The gateway leg only carries frames to and from the gateway: no IPv6 chatter of its own.
      if (auto quiet = SetIpv6Disabled(kGatewayLeg, true); !quiet) return quiet;
      if (kernel_leg->mac != uplink.mac || kernel_leg->mtu != uplink.mtu) {
        if (auto down = netlink.ChangeLink(kernel_leg->ifindex, SetUp(false)); !down) return down;
        if (auto set = netlink.ChangeLink(kernel_leg->ifindex, SetIdentity(uplink.mac, uplink.mtu));
            !set) {
          return set;
        }
      }
      if (auto set = netlink.ChangeLink(gateway_leg->ifindex, SetMtuUp(uplink.mtu)); !set) {
        return set;
      }
      return netlink.ChangeLink(kernel_leg->ifindex, SetUp(true));
    }
    case AttachStep::kSetOffloads: {
      // AF_XDP and XDP see whole frames: no segmentation or coalescing on the uplink or the
      // gateway leg, and the kernel must finish its checksums and write its VLAN tags before
      // frames leave it (a tag left in skb metadata is lost in XDP, through the gateway and
      // fail-open alike). GRO on the kernel leg gives it the NAPI instance XDP_REDIRECT into
      // a veth needs.
      for (const char* ifname : {uplink.name.c_str(), kGatewayLeg}) {
        for (Offload offload : {Offload::kTso, Offload::kGso, Offload::kGro}) {
          if (auto set = SetOffload(ifname, offload, false); !set) return set;
        }
      }
      for (Offload offload :
           {Offload::kTso, Offload::kGso, Offload::kTxChecksum, Offload::kTxVlan}) {
        if (auto set = SetOffload(kKernelLeg, offload, false); !set) return set;
      }
      return SetOffload(kKernelLeg, Offload::kGro, true);
    }
    case AttachStep::kRemoveUplinkRoutes:
      for (const RawMessage& route : uplink.routes) {
        auto removed = netlink.Replay(RetargetRoute(route, uplink.ifindex, uplink.ifindex),
                                      RTM_DELROUTE, {ESRCH, ENOENT});
        if (!removed) return removed.error();
      }
      return {};
    case AttachStep::kMoveAddresses: {
      auto kernel_leg = RequireLink(netlink, kKernelLeg);
      if (!kernel_leg) return kernel_leg.error();
      for (const RawMessage& address : uplink.addresses) {
        auto removed = netlink.Replay(address, RTM_DELADDR, {EADDRNOTAVAIL, ENODEV});
        if (!removed) return removed.error();
        auto added =
            netlink.Replay(RetargetAddress(address, kernel_leg->ifindex, uplink.name, kKernelLeg),
                           RTM_NEWADDR, {EEXIST});
        if (!added) return added.error();
      }
      return {};
    }
    case AttachStep::kQuietUplink: {
      // No addresses of its own: the uplink must not send router solicitations, MLD or DAD
      // for a link-local that now belongs to the kernel leg. Promiscuous: its filters only
      // know the multicast groups (solicited-node, mDNS...) it joined itself, while the node
      // now joins them on the kernel leg.
      if (auto quiet = SetIpv6Disabled(uplink.name, true); !quiet) return quiet;
      return netlink.ChangeLink(uplink.ifindex, SetPromisc(true));
    }
    case AttachStep::kAddKernelLegRoutes: {
      auto kernel_leg = RequireLink(netlink, kKernelLeg);
      if (!kernel_leg) return kernel_leg.error();
      return AddRoutes(netlink, uplink.routes, uplink.ifindex, kernel_leg->ifindex);
    }
    case AttachStep::kAttachPrograms:
      return programs.Attach(uplink.name);
  }
  return {};
}

EnvResult<std::string> ResolveUplink(Rtnetlink& netlink, const std::string& requested,
                                     const std::optional<NodeState>& state) {
  if (!requested.empty() && requested != "auto")
    return EnvResult<std::string>(boost::system::in_place_value, requested);
  if (state) return EnvResult<std::string>(boost::system::in_place_value, state->uplink.name);
  auto ifindex = netlink.DefaultRouteLink();
  if (!ifindex) return ifindex.error();
  if (!*ifindex)
    return EnvironmentError{"find the uplink (--uplink auto)", "there is no IPv4 default route"};
  auto link = netlink.GetLink(**ifindex);
  if (!link) return link.error();
  if (!*link)
    return EnvironmentError{"find the uplink (--uplink auto)",
                            "default route's interface vanished"};
  return EnvResult<std::string>(boost::system::in_place_value, (*link)->name);
}

}  // namespace

const char* AttachStepName(AttachStep step) {
  switch (step) {
    case AttachStep::kCreateLegs:
      return "create the veth pair";
    case AttachStep::kSetOffloads:
      return "set offloads";
    case AttachStep::kRemoveUplinkRoutes:
      return "remove the uplink's routes";
    case AttachStep::kMoveAddresses:
      return "move the addresses";
    case AttachStep::kQuietUplink:
      return "quiet the uplink";
    case AttachStep::kAddKernelLegRoutes:
      return "add the routes on the kernel leg";
    case AttachStep::kAttachPrograms:
      return "attach the XDP programs";
  }
  return "?";
}

EnvResult<Outcome> AttachNode(Rtnetlink& netlink, NodePrograms& programs,
                              const AttachOptions& options) {
  auto loaded = LoadNodeState(options.state_path);
  if (!loaded) return loaded.error();
  std::optional<NodeState> state = std::move(*loaded);
  auto uplink_name = ResolveUplink(netlink, options.uplink, state);
  if (!uplink_name) return uplink_name.error();
  const std::string what = "attach to " + *uplink_name;
  if (state && state->uplink.name != *uplink_name) {
    return EnvironmentError{
        what, "already attached to " + state->uplink.name + " (run node detach first)"};
  }
  if (state && state->phase == Phase::kDetaching) {
    return EnvironmentError{what, "a detach was interrupted; run node detach to finish it first"};
  }
  if (state && state->phase == Phase::kAttached) {
    auto kernel_leg = netlink.GetLink(kKernelLeg);
    if (!kernel_leg) return kernel_leg.error();
    if (!*kernel_leg) {
      return EnvironmentError{what, std::string(kKernelLeg) +
                                        " is gone although the state file says attached; run node "
                                        "detach to restore the uplink"};
    }
    return Outcome{false, "already attached to " + *uplink_name + "; nothing changed"};
  }
  if (!state) {
    auto link = RequireLink(netlink, *uplink_name);
    if (!link) return link.error();
    auto stray = netlink.GetLink(kKernelLeg);
    if (!stray) return stray.error();
    if (*stray) {
      return EnvironmentError{what, std::string(kKernelLeg) +
                                        " exists but there is no state file " + options.state_path +
                                        "; delete it or restore the node by hand"};
    }
    auto snapshot = Snapshot(netlink, *link);
    if (!snapshot) return snapshot.error();
    if (snapshot->addresses.empty())
      return EnvironmentError{what, *uplink_name + " has no addresses"};
    state = NodeState{std::move(*snapshot), Phase::kAttaching, 0};
    if (auto saved = SaveNodeState(options.state_path, *state); !saved) return saved.error();
    DG_LOG_INFO(kComponent, "saved %s: %zu addresses, %zu routes, state in %s",
                uplink_name->c_str(), state->uplink.addresses.size(), state->uplink.routes.size(),
                options.state_path.c_str());
  } else {
    DG_LOG_INFO(kComponent, "resuming an interrupted attach at step %d", state->step);
  }
  // Every step is idempotent, so resuming re-runs the step that was interrupted.
  for (int number = std::max(state->step, 1); number <= kAttachStepCount; ++number) {
    const auto step = static_cast<AttachStep>(number);
    state->step = number;
    if (auto saved = SaveNodeState(options.state_path, *state); !saved) return saved.error();
    DG_LOG_INFO(kComponent, "step %d/%d: %s", number, kAttachStepCount, AttachStepName(step));
    if (auto done = RunStep(step, netlink, programs, state->uplink); !done) {
      DG_LOG_ERROR(kComponent, "step %d (%s) failed: %s; rolling back", number,
                   AttachStepName(step), done.error().Message().c_str());
      auto rolled_back =
          DetachNode(netlink, programs, {state->uplink.name, options.state_path, false});
      return EnvironmentError{
          what, done.error().Message() +
                    (rolled_back ? "; rolled back, node as before"
                                 : "; rollback failed too: " + rolled_back.error().Message())};
    }
    if (options.kill_after_step == number) raise(SIGKILL);
  }
  state->phase = Phase::kAttached;
  if (auto saved = SaveNodeState(options.state_path, *state); !saved) return saved.error();
  return Outcome{true, "attached to " + *uplink_name + ": " +
                           std::to_string(state->uplink.addresses.size()) + " addresses and " +
                           std::to_string(state->uplink.routes.size()) + " routes moved to " +
                           kKernelLeg};
}

EnvResult<Outcome> DetachNode(Rtnetlink& netlink, NodePrograms& programs,
                              const DetachOptions& options) {
  const std::string& uplink = options.uplink;
  const std::string& state_path = options.state_path;
  auto loaded = LoadNodeState(state_path);
  if (!loaded) return loaded.error();
  if (!*loaded) {
    auto stray = netlink.GetLink(kKernelLeg);
    if (!stray) return stray.error();
    if (*stray) {
      return EnvironmentError{"detach", std::string(kKernelLeg) +
                                            " exists but there is no state file " + state_path +
                                            "; nothing to restore from"};
    }
    return Outcome{false, "not attached; nothing changed"};
  }
  NodeState state = std::move(**loaded);
  const UplinkSnapshot& saved = state.uplink;
  const std::string what = "detach from " + saved.name;
  if (!uplink.empty() && uplink != "auto" && uplink != saved.name) {
    return EnvironmentError{what, "attached to " + saved.name + ", not " + uplink};
  }
  state.phase = Phase::kDetaching;
  if (auto written = SaveNodeState(state_path, state); !written) return written.error();
  if (auto detached = programs.Detach(saved.name); !detached) return detached.error();
  // Deleting the kernel leg takes its peer, its addresses and its routes with it.
  if (auto deleted = netlink.DeleteLink(kKernelLeg); !deleted) return deleted.error();
  if (options.kill_after_deleting_legs) raise(SIGKILL);
  auto link = RequireLink(netlink, saved.name);
  if (!link) return link.error();
  if (auto ipv6 = SetIpv6Disabled(saved.name, saved.ipv6_disabled); !ipv6) return ipv6.error();
  LinkChange change = SetPromisc(saved.promisc);
  if (link->mac != saved.mac) change.mac = saved.mac;
  if (link->mtu != saved.mtu) change.mtu = saved.mtu;
  if (auto changed = netlink.ChangeLink(link->ifindex, change); !changed) return changed.error();
  for (const auto& [name, enabled] : saved.offloads) {
    for (Offload offload : kAllOffloads) {
      if (name != OffloadName(offload)) continue;
      // A driver that cannot turn an offload back on is not worth leaving the node half-restored.
      if (auto set = SetOffload(saved.name, offload, enabled); !set) {
        DG_LOG_WARNING(kComponent, "%s", set.error().Message().c_str());
      }
    }
  }
  for (const RawMessage& address : saved.addresses) {
    auto added = netlink.Replay(RetargetAddress(address, link->ifindex, saved.name, saved.name),
                                RTM_NEWADDR, {EEXIST});
    if (!added) return added.error();
  }
  if (auto added = AddRoutes(netlink, saved.routes, saved.ifindex, link->ifindex); !added)
    return added.error();
  auto after = RequireLink(netlink, saved.name);
  if (!after) return after.error();
  if (after->xdp_attached)
    return EnvironmentError{what, "an XDP program is still attached to " + saved.name};
  if (auto removed = RemoveNodeState(state_path); !removed) return removed.error();
  return Outcome{true, "detached from " + saved.name + ": " +
                           std::to_string(saved.addresses.size()) + " addresses and " +
                           std::to_string(saved.routes.size()) + " routes restored"};
}

}  // namespace dg::node
