"""Network-namespace topologies around dscp-gateway, shared by perf/ and tests/integration/.

    harness.NetnsHarness   namespaces, veths, processes in them, and their removal
    calls.in_netns         run a Python function inside a namespace (setns in a thread)
    host                   namespace names, hugepages, DPDK leftovers, process groups
    icmp, iperf            traffic probes and the parsing of their output
    policies               the priority policies experiments and benchmarks share
    virtual_node           the pods/node/gateway/remote topology of the congestion experiment
    node_plumbing          its `attach` plumbing: `dscp-gateway node attach` in a shared bpffs
    vlan_path              a VLAN-tagged route out of the attached node (the 802.1p tests)
    experiment             the experiment itself (perf/virtual_node.py is its command line)

Importers put the perf/ directory on sys.path (computed from their own __file__).
"""

from .calls import HttpReply, free_tcp_port, http_request, in_netns
from .common import Failure, Interrupted, ignore_signals, install_signal_handlers, log, tail, write_atomically
from .harness import NetnsHarness
from .host import ensure_hugepages, free_prefix, netns_list, remove_dpdk_leftovers, worker_cpu_seconds

__all__ = ["Failure", "HttpReply", "Interrupted", "NetnsHarness", "ensure_hugepages", "free_prefix",
           "free_tcp_port", "http_request", "ignore_signals", "in_netns", "install_signal_handlers", "log",
           "netns_list", "remove_dpdk_leftovers", "tail", "worker_cpu_seconds", "write_atomically"]
