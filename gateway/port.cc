#include "gateway/port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

namespace dg {

EnvResult<StartedPort> StartPort(const std::string& device_name, const std::string& role,
                                 rte_mempool* pool, uint16_t ring_size) {
  const std::string operation = "start " + role + " port " + device_name;
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(device_name.c_str(), &port_id) != 0) {
    return EnvironmentError{operation,
                            "no DPDK device of that name (is there a matching --vdev or PCI "
                            "address in eal?)"};
  }
  auto fail = [&](const char* step, int rc) -> EnvResult<StartedPort> {
    return EnvironmentError{operation, std::string(step) + ": " + rte_strerror(rc < 0 ? -rc : rc)};
  };
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0)
    return fail("rte_eth_dev_info_get", rc);
  rte_eth_conf port_conf{};
  // A frame bigger than one mbuf (jumbo on a 9000-byte MTU, GSO) arrives and leaves as a
  // segment chain where the device can: the pipeline parses and marks across segments.
  port_conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
  port_conf.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  if (int rc = rte_eth_dev_configure(port_id, 1, 1, &port_conf); rc != 0) {
    return fail("rte_eth_dev_configure", rc);
  }
  uint16_t rx_descriptors = ring_size;
  uint16_t tx_descriptors = ring_size;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_descriptors, &tx_descriptors);
      rc != 0) {
    return fail("rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  }
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? rte_socket_id() : static_cast<unsigned>(socket);
  if (int rc = rte_eth_rx_queue_setup(port_id, 0, rx_descriptors, socket_id, nullptr, pool);
      rc != 0) {
    return fail("rte_eth_rx_queue_setup", rc);
  }
  if (int rc = rte_eth_tx_queue_setup(port_id, 0, tx_descriptors, socket_id, nullptr); rc != 0) {
    return fail("rte_eth_tx_queue_setup", rc);
  }
  if (int rc = rte_eth_dev_start(port_id); rc != 0) return fail("rte_eth_dev_start", rc);
  // Some PMDs (pcap, null) have no promiscuous mode to set; that is not an error here.
  rte_eth_promiscuous_enable(port_id);
  return EnvResult<StartedPort>(boost::system::in_place_value, port_id);
}

void StartedPort::Stop() {
  if (!id_) return;
  rte_eth_dev_stop(*id_);
  rte_eth_dev_close(*id_);
  id_.reset();
}

PortStatistics ReadPortStatistics(uint16_t port_id) {
  rte_eth_stats stats{};
  PortStatistics result;
  if (rte_eth_stats_get(port_id, &stats) != 0) return result;
  result.rx_packets = stats.ipackets;
  result.rx_bytes = stats.ibytes;
  result.tx_packets = stats.opackets;
  result.tx_bytes = stats.obytes;
  result.rx_missed = stats.imissed;
  result.rx_errors = stats.ierrors;
  result.tx_errors = stats.oerrors;
  result.rx_nombuf = stats.rx_nombuf;
  return result;
}

bool PortLinkUp(uint16_t port_id) {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

}  // namespace dg
