#!/usr/bin/env python3
"""Kubernetes sync benchmarks (issue: k8s-sync), against the fake API server on loopback:

1. initial sync of N pods in cluster-wide mode: time from gateway start to the pod
   table holding every pod (readyz), and the gateway's peak RSS (VmHWM);
2. event -> datapath-visible latency for single pod adds/deletes while the gateway
   forwards (pcap infinite_rx -> null): the gateway's own dscp_gateway_sync_lag_seconds
   histogram (line received -> rte_hash updated), plus the end-to-end time from the API
   write to /v1/pods showing the change (an upper bound: includes HTTP polling);
3. the seed's approach for comparison: one `iptables -t mangle -A POSTROUTING -s IP -j
   DSCP --set-dscp D` per pod, for 1,000 and 10,000 pods, in a scratch network namespace,
   against our table programming for the same pods (the sync of that many ADDED events).

Writes a JSON document (--out) and prints a summary. Needs root (netns, iptables).
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from netns.results import histogram_quantile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(REPO, 'tests', 'k8s', 'fake_apiserver.py')


def post(control, path, body):
    request = urllib.request.Request(control + path, data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def get_json(url, path, timeout=30):
    with urllib.request.urlopen(url + path, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(interval)
    return None


class Cluster:
    """The fake API server plus a gateway syncing from it."""

    def __init__(self, work, generate_pods, all_pods, gateway_binary):
        os.makedirs(work, exist_ok=True)
        self.work = work
        ready = os.path.join(work, 'ready.json')
        self.kubeconfig = os.path.join(work, 'kubeconfig')
        command = ['/usr/bin/python3', FAKE, '--port', '0', '--control-port', '0', '--token', 'bench',
                   '--token-file', os.path.join(work, 'token'), '--ready-file', ready,
                   '--kubeconfig-out', self.kubeconfig, '--cert-dir', os.path.join(work, 'certs'),
                   '--no-gzip']
        if generate_pods:
            command += ['--generate-pods', str(generate_pods), '--node', 'node-a']
        self.server = subprocess.Popen(command, stdout=open(os.path.join(work, 'apiserver.log'), 'w'),
                                       stderr=subprocess.STDOUT)
        info = wait_for(lambda: os.path.exists(ready) and json.load(open(ready)), 600, 0.2)
        if not info:
            raise RuntimeError('fake API server did not start; see ' + work)
        self.control = info['control_url'].rstrip('/')
        self.gateway_binary = gateway_binary
        self.all_pods = all_pods
        self.gateway = None

    def start_gateway(self, table_size):
        from scapy.all import Ether, IP, UDP, Raw, wrpcap  # Debian python3-scapy
        traffic = os.path.join(self.work, 'traffic.pcap')
        wrpcap(traffic, [Ether() / IP(src='10.64.0.%d' % i, dst='10.99.0.1') / UDP() / Raw(b'x' * 18)
                         for i in range(1, 33)])
        config = os.path.join(self.work, 'gateway.yaml')
        json.dump({'eal': ['-l', '0-1', '--no-huge', '-m', '1024', '--no-shconf', '--no-pci', '--log-level',
                           '*:error', '--vdev', 'net_pcap0,rx_pcap=%s,infinite_rx=1' % traffic,
                           '--vdev', 'net_null0'],
                   'ports': {'kernel': 'net_pcap0', 'uplink': 'net_null0'},
                   'rest': {'listen': '127.0.0.1:0'},
                   'datapath': {'podTableSize': table_size},
                   'kubernetes': {'enabled': True, 'kubeconfig': self.kubeconfig, 'nodeName': 'node-a',
                                  'allPods': self.all_pods, 'configMap': {'name': ''},
                                  'namespaceClassLabel': '', 'pageSize': 500}},
                  open(config, 'w'))
        self.started = time.monotonic()
        self.gateway = subprocess.Popen([self.gateway_binary, 'run', '--config', config], stdout=subprocess.PIPE,
                                        stderr=open(os.path.join(self.work, 'gateway.err'), 'w'), text=True)
        for line in self.gateway.stdout:
            match = re.search(r'REST on (\S+):(\d+)', line)
            if match:
                self.rest = 'http://%s:%s' % match.groups()
                return
        raise RuntimeError('gateway did not start: ' + open(os.path.join(self.work, 'gateway.err')).read()[-2000:])

    def ready(self):
        try:
            with urllib.request.urlopen(self.rest + '/readyz', timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def peak_rss_mb(self):
        for line in open('/proc/%d/status' % self.gateway.pid):
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
        return 0.0

    def table_entries(self):
        return get_json(self.rest, '/v1/stats')['pod_table']['entries']

    def stop(self):
        for process in (self.gateway, self.server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT if process is self.gateway else signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def metric_quantile(metrics, name, quantile):
    """A quantile of histogram `name` in Prometheus text."""
    buckets = [(float('inf') if le == '+Inf' else float(le), float(count)) for le, count in
               re.findall(r'^%s_bucket\{le="([^"]+)"\} (\S+)' % name, metrics, re.M)]
    return histogram_quantile(buckets, quantile)


def initial_sync(args, work):
    cluster = Cluster(work, args.pods, True, args.gateway_binary)
    try:
        cluster.start_gateway(table_size=max(262144, args.pods * 2))
        synced = wait_for(cluster.ready, 300, 0.02)
        seconds = time.monotonic() - cluster.started
        entries = cluster.table_entries() if synced else 0
        pods_watch = [w for w in get_json(cluster.rest, '/v1/stats')['kubernetes']['watches']
                      if w['resource'] == '/api/v1/pods'][0]
        return {'pods': args.pods, 'seconds': round(seconds, 3), 'synced': bool(synced), 'table_entries': entries,
                # Of the wall time, what the list took end to end (pages fetched from the fake
                # server, which is Python) and what the gateway itself spent parsing and applying.
                'list_seconds': round(pods_watch['last_list_seconds'], 3),
                'gateway_processing_seconds': round(pods_watch['last_list_handler_seconds'], 3),
                'peak_rss_mb': round(cluster.peak_rss_mb(), 1), 'target_seconds': 5, 'target_rss_mb': 500}
    finally:
        cluster.stop()


def event_latency(args, work):
    cluster = Cluster(work, 0, False, args.gateway_binary)
    try:
        cluster.start_gateway(table_size=65536)
        wait_for(cluster.ready, 60)
        end_to_end_ms = []
        for i in range(args.events):
            ip = '10.70.%d.%d' % (i // 250, i % 250 + 1)
            name = 'lat-%d' % i
            started = time.monotonic()
            post(cluster.control, '/pods', {'name': name, 'namespace': 'default', 'node': 'node-a', 'ip': ip,
                                            'phase': 'Running'})
            wait_for(lambda: any(p['ip'] == ip for p in get_json(cluster.rest, '/v1/pods')['pods']), 10, 0.001)
            end_to_end_ms.append((time.monotonic() - started) * 1000)
            post(cluster.control, '/pods/delete', {'namespace': 'default', 'name': name})
        time.sleep(0.5)
        metrics = urllib.request.urlopen(cluster.rest + '/metrics', timeout=10).read().decode()
        p50 = metric_quantile(metrics, 'dscp_gateway_sync_lag_seconds', 0.5)
        p99 = metric_quantile(metrics, 'dscp_gateway_sync_lag_seconds', 0.99)
        count = re.search(r'^dscp_gateway_sync_lag_seconds_count (\d+)', metrics, re.M)
        end_to_end_ms.sort()
        return {'events': int(count.group(1)) if count else 0,
                'gateway_p50_ms': None if p50 is None else round(p50 * 1000, 3),
                'gateway_p99_ms': None if p99 is None else round(p99 * 1000, 3),
                'end_to_end_p50_ms': round(statistics.median(end_to_end_ms), 3),
                'end_to_end_p99_ms': round(end_to_end_ms[int(0.99 * (len(end_to_end_ms) - 1))], 3),
                'target_p99_ms': 10}
    finally:
        cluster.stop()


def iptables_vs_table(args, work, count):
    namespace = 'dgbench%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', namespace], check=True)
    try:
        started = time.monotonic()
        for i in range(count):
            subprocess.run(['ip', 'netns', 'exec', namespace, 'iptables', '-w', '-t', 'mangle', '-A', 'POSTROUTING',
                            '-s', '10.80.%d.%d' % (i // 250, i % 250 + 1), '-j', 'DSCP', '--set-dscp', '46'],
                           check=True)
        iptables_seconds = time.monotonic() - started
    finally:
        subprocess.run(['ip', 'netns', 'del', namespace])
    cluster = Cluster(work, 0, False, args.gateway_binary)
    try:
        cluster.start_gateway(table_size=65536)
        wait_for(cluster.ready, 60)
        baseline = cluster.table_entries()
        started = time.monotonic()
        post(cluster.control, '/generate-pods', {'count': count, 'node': 'node-a', 'ip_base': [10, 80]})
        wait_for(lambda: cluster.table_entries() >= baseline + count, 120, 0.005)
        table_seconds = time.monotonic() - started
    finally:
        cluster.stop()
    return {'pods': count, 'iptables_seconds': round(iptables_seconds, 3),
            'gateway_seconds': round(table_seconds, 3),
            'speedup': round(iptables_seconds / max(table_seconds, 1e-6), 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gateway-binary', default=os.path.join(REPO, 'build', 'gateway', 'dscp-gateway'))
    parser.add_argument('--pods', type=int, default=150000, help='initial-sync size (default 150000)')
    parser.add_argument('--events', type=int, default=200, help='single-pod events for latency (default 200)')
    parser.add_argument('--iptables-counts', default='1000,10000')
    parser.add_argument('--out', help='write the results JSON here')
    parser.add_argument('--sections', default='initial_sync,event_latency,iptables')
    args = parser.parse_args()
    if os.geteuid() != 0:
        print('k8s_sync_bench: needs root (network namespaces, iptables)', file=sys.stderr)
        return 77
    results = {}
    with tempfile.TemporaryDirectory(prefix='dg-k8s-bench-') as work:
        sections = args.sections.split(',')
        if 'initial_sync' in sections:
            results['initial_sync'] = initial_sync(args, os.path.join(work, 'sync'))
            print('initial sync: %s' % json.dumps(results['initial_sync']), flush=True)
        if 'event_latency' in sections:
            results['event_latency'] = event_latency(args, os.path.join(work, 'latency'))
            print('event latency: %s' % json.dumps(results['event_latency']), flush=True)
        results['iptables'] = []
        for count in [int(c) for c in args.iptables_counts.split(',') if c and 'iptables' in sections]:
            results['iptables'].append(iptables_vs_table(args, os.path.join(work, 'ipt%d' % count), count))
            print('iptables vs table: %s' % json.dumps(results['iptables'][-1]), flush=True)
    if args.out:
        with open(args.out, 'w') as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
