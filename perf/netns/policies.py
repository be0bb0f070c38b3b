"""Priority policies (the priorities.yaml document) the experiments and benchmarks share."""

import re

# Four classes, highest priority first, unmarked traffic in "standard".
FOUR_CLASSES = """classes:
  - {name: critical, dscp: 46}
  - {name: high, dscp: 34}
  - {name: standard, dscp: 0}
  - {name: scavenger, dscp: 8}
defaultClass: standard
"""
# The virtual node's pods: ray-training (pod-hi) above batch-jobs (pod-lo).
PRIORITY_POLICY = FOUR_CLASSES + "namespaces: {ray-training: critical, batch-jobs: scavenger}\n"
# The same with a floor for scavenger (issue 11): 10% of shaper.rate however busy critical is.
FLOOR_POLICY = PRIORITY_POLICY.replace("{name: scavenger, dscp: 8}", "{name: scavenger, dscp: 8, minRate: 10%}")
# The priority policy with 802.1p for critical (issue 12): its VLAN-tagged frames leave with PCP 5.
PCP_POLICY = PRIORITY_POLICY.replace("{name: critical, dscp: 46}", "{name: critical, dscp: 46, pcp: 5}")
FIFO_POLICY = """classes: [{name: besteffort, dscp: 0}]
defaultClass: besteffort
"""


def with_aqm(policy: str, settings: str) -> str:
    """The same policy with `aqm: {<settings>}` in every class, e.g. "codel: false" (the
    tail-drop-only queues the gateway had before) or "target: 250us, interval: 10ms"."""
    return re.sub(r"(dscp: \d+)\}", r"\1, aqm: {" + settings + "}}", policy)
