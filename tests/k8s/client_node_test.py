#!/usr/bin/python3
"""Protocol test of tests/k8s/fake_apiserver.py.

Part 1 talks to the fake server with a plain HTTPS client (chunked lists, watch replay,
bookmarks, 410s, auth, selectors, faults). Part 2 runs the official Kubernetes JavaScript
client's informers (informer_check.mjs, @kubernetes/client-node) against it, mutates the store,
forces a 410 relist and checks that the informers saw exactly the expected events and end with a
cache equal to the server's store. This is what keeps the fake server honest: if it drifts from
the real protocol, the official client notices.

Prints one line per check and a final "N passed, M failed"; exits 1 on any failure and 77
(skip) when node/npm are not installed. Installs the pinned client with `npm ci` when
tests/k8s/node_modules is missing.

Usage: /usr/bin/python3 client_node_test.py [--no-node] [--keep] [-v]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback

from informer_checks import ensure_node_client, part2
from protocol_checks import part1
from protocol_client import R, ServerProc, make_seed


# --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--no-node', action='store_true', help='only the plain HTTPS checks (part 1)')
    ap.add_argument('--keep', action='store_true', help='keep the work directory (logs, informer output)')
    args = ap.parse_args()

    node = None
    if not args.no_node:
        try:
            node, why = ensure_node_client()
        except Exception as e:
            print('FAIL installing the pinned @kubernetes/client-node: %s' % e, flush=True)
            print('0 passed, 1 failed')
            return 1
        if node is None:
            print('SKIP: %s; the client-node cross-check needs Node.js and npm '
                  '(>= 20.18) — run with --no-node for the plain HTTPS checks only' % why)
            return 77

    workdir = tempfile.mkdtemp(prefix='k8s-protocol-test-')
    seed = os.path.join(workdir, 'seed.json')
    make_seed(seed)
    srv = ServerProc(workdir, seed)
    print('fake apiserver %s started in %.2fs (workdir %s)' % (srv.info['url'], srv.startup_s, workdir), flush=True)
    try:
        t1 = time.monotonic()
        part1(srv)
        print('part 1 (plain HTTPS) took %.1fs' % (time.monotonic() - t1), flush=True)
        if node:
            # part 1 compacted the history; start part 2 from a fresh server so its seed is exact
            srv.stop()
            p2 = os.path.join(workdir, 'part2')
            os.makedirs(p2)
            srv = ServerProc(p2, seed)
            t2 = time.monotonic()
            part2(srv, node, srv.workdir)
            print('part 2 (client-node informers) took %.1fs' % (time.monotonic() - t2), flush=True)
    except Exception as e:
        R.check('test harness', False, '%s: %s\n%s' % (type(e).__name__, e, traceback.format_exc()))
    finally:
        rc = srv.stop()
        R.check('fake apiserver exits cleanly on SIGTERM', rc == 0, rc)
    print('total %.1fs' % (time.monotonic() - R.t0))
    if R.failed or args.keep:
        print('logs kept in %s' % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())
