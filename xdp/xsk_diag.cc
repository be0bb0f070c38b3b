// Counting bound AF_XDP sockets through sock_diag (linux/xdp_diag.h): the only view from
// outside the owning process, since an xskmap's slots cannot be read from user space.
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/xdp_diag.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "xdp/bpf_objects.h"

namespace dg::xdp {

EnvResult<std::optional<uint32_t>> CountXskSocketsBound(unsigned ifindex) {
  const std::string operation = "list AF_XDP sockets (sock_diag)";
  OwnedFd diag(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (diag.get() < 0) return EnvironmentError{operation, ErrnoText(errno)};
  struct {
    nlmsghdr header;
    xdp_diag_req request;
  } message{};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = AF_XDP;
  message.request.xdiag_show = XDP_SHOW_INFO;
  if (send(diag.get(), &message, sizeof(message), 0) < 0) {
    return EnvironmentError{operation, ErrnoText(errno)};
  }
  uint32_t bound = 0;
  alignas(nlmsghdr) std::array<char, 32768> buffer;
  for (;;) {
    ssize_t received = recv(diag.get(), buffer.data(), buffer.size(), 0);
    if (received < 0) return EnvironmentError{operation, ErrnoText(errno)};
    int remaining = static_cast<int>(received);
    // libmnl's walk, not NLMSG_OK: the kernel macro compares the unsigned nlmsg_len with an
    // int, which clang's -Wsign-compare rejects in the sanitizer build.
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(header, remaining);
         header = mnl_nlmsg_next(header, &remaining)) {
      if (header->nlmsg_type == NLMSG_DONE) return std::optional<uint32_t>(bound);
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
        // No handler for AF_XDP registered: the kernel was built without xsk_diag.
        if (error->error == -ENOENT) return std::optional<uint32_t>();
        return EnvironmentError{operation, ErrnoText(error->error)};
      }
      const auto* socket_message = static_cast<const xdp_diag_msg*>(mnl_nlmsg_get_payload(header));
      int attributes_length =
          static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof(*socket_message)));
      for (auto* attribute =
               reinterpret_cast<rtattr*>(const_cast<xdp_diag_msg*>(socket_message + 1));
           RTA_OK(attribute, attributes_length);
           attribute = RTA_NEXT(attribute, attributes_length)) {
        if (attribute->rta_type != XDP_DIAG_INFO) continue;
        const auto* info = static_cast<const xdp_diag_info*>(RTA_DATA(attribute));
        if (info->ifindex == ifindex) ++bound;
      }
    }
  }
}

}  // namespace dg::xdp
