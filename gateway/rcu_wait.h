// Waiting for every worker to pass a quiescent state before the control thread frees what
// they may still read (policy snapshots, the IPv4 pod table's old array).
#pragma once

#include <rte_rcu_qsbr.h>

namespace dg {

// rte_rcu_qsbr_synchronize() spelled out: start + check are inline (rte_rcu_qsbr.h), so
// ThreadSanitizer sees the acquire that orders a worker's last read before the free;
// inside the uninstrumented librte_rcu it reports that free as a race. The caller must
// not be a registered reader (synchronize's thread id argument, here always invalid).
inline void WaitForQuiescentReaders(rte_rcu_qsbr* qsbr) {
  rte_rcu_qsbr_check(qsbr, rte_rcu_qsbr_start(qsbr), true);
}

}  // namespace dg
