#!/usr/bin/env python3
"""End to end: the real gateway, pointed at the fake API server, keeps its pod table and
policy in step through churn and injected faults.

The datapath runs on DPDK vdevs (pcap in with infinite_rx, null out, no hugepages), so
the per-namespace counters in /v1/stats show where the gateway attributes live traffic
from each pod address. Prints one line per check and `N passed, M failed`.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'perf'))
from netns.policies import FOUR_CLASSES  # noqa: E402

NODE = 'node-a'
CM_NAMESPACE, CM_NAME = 'dscp-gateway', 'dscp-gateway-priorities'

PRIORITIES = FOUR_CLASSES + """namespaces:
  ns-crit: critical
  batch-*: scavenger
"""


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, name, ok, detail=''):
        print(('PASS ' if ok else 'FAIL ') + name + ('' if ok else ': ' + detail), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(interval)
    return last


def post(control_url, path, body):
    request = urllib.request.Request(control_url + path, data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def get_json(url, path):
    with urllib.request.urlopen(url + path, timeout=5) as response:
        return json.loads(response.read())


def get_status(url, path):
    try:
        with urllib.request.urlopen(url + path, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def write_traffic(path, sources):
    # Imported here: Debian's python3-scapy, loaded only by the process that needs it.
    from scapy.all import Ether, IP, UDP, Raw, wrpcap  # noqa: E402
    frames = [Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02') /
              IP(src=source, dst='10.99.0.1') / UDP(sport=4000, dport=5000) / Raw(b'x' * 18)
              for source in sources]
    wrpcap(path, frames)


def namespace_bytes(rest, name):
    for entry in get_json(rest, '/v1/stats')['namespaces']:
        if entry['namespace'] == name:
            return entry['bytes']
    return 0


def measured_bps(rest, namespace, seconds=2.0):
    """What the gateway let through from `namespace` (bytes its pod shaper admitted)."""
    before, start = namespace_bytes(rest, namespace), time.monotonic()
    time.sleep(seconds)
    return (namespace_bytes(rest, namespace) - before) * 8 / (time.monotonic() - start)


def check_pod_overrides(checks, control, rest, pods, pod_class):
    """Pod annotations through the watch: an allowed and a refused dscp-gateway.io/class,
    Volcano offline work, and kubernetes.io/egress-bandwidth changed while traffic flows."""
    policy = PRIORITIES.replace('ns-crit: critical', 'ns-crit: high') + \
        'podOverrides: {allowedClasses: [standard, scavenger], offlineClass: scavenger}\n'
    post(control, '/configmaps', {'name': CM_NAME, 'namespace': CM_NAMESPACE,
                                  'data': {'priorities.yaml': policy}})
    post(control, '/pods', {'name': 'web', 'namespace': 'ns-web',
                            'annotations': {'dscp-gateway.io/class': 'scavenger'}})
    checks.check('an allowed pod class annotation applies',
                 wait_for(lambda: pods().get('10.244.1.2', {}).get('class_source') == 'pod-annotation' and
                          pod_class('10.244.1.2') == 'scavenger', 3), json.dumps(pods()))
    post(control, '/pods', {'name': 'trainer', 'namespace': 'ns-crit',
                            'annotations': {'dscp-gateway.io/class': 'critical'}})
    refused = wait_for(lambda: pods().get('10.244.1.1', {}).get('refusals') == ['class_not_allowed'], 3)
    checks.check('a class not allowed is refused, the namespace class stays',
                 refused and pod_class('10.244.1.1') == 'high', json.dumps(pods()))
    metrics = urllib.request.urlopen(rest + '/metrics', timeout=5).read().decode()
    checks.check('the refusal is counted',
                 'dscp_gateway_pod_override_refused_total{reason="class_not_allowed"} 1' in metrics,
                 '\n'.join(line for line in metrics.splitlines() if 'refused' in line))

    post(control, '/namespaces', {'name': 'ns-lim'})
    post(control, '/pods', {'name': 'offline', 'namespace': 'ns-lim', 'node': NODE, 'ip': '10.244.1.3',
                            'phase': 'Running',
                            'annotations': {'volcano.sh/qos-level': '-1',
                                            'kubernetes.io/egress-bandwidth': '1M'}})
    checks.check('a Volcano offline pod gets the offline class',
                 wait_for(lambda: pods().get('10.244.1.3', {}).get('class_source') == 'volcano-offline' and
                          pod_class('10.244.1.3') == 'scavenger', 3), json.dumps(pods()))
    time.sleep(0.5)  # past the bucket's initial burst
    rate = measured_bps(rest, 'ns-lim')
    checks.check('its egress is held to its 1M limit (within 10%)', 0.9e6 <= rate <= 1.1e6, '%.0f bit/s' % rate)
    post(control, '/pods', {'name': 'offline', 'namespace': 'ns-lim',
                            'annotations': {'kubernetes.io/egress-bandwidth': '2M'}})
    wait_for(lambda: pods().get('10.244.1.3', {}).get('egress_bps') == 2000000, 3)
    time.sleep(0.5)
    rate = measured_bps(rest, 'ns-lim')
    checks.check('a changed limit applies while traffic flows (2M within 10%)', 1.8e6 <= rate <= 2.2e6,
                 '%.0f bit/s' % rate)
    post(control, '/pods/delete', {'namespace': 'ns-lim', 'name': 'offline'})
    checks.check('the limited pod leaves the table', wait_for(lambda: '10.244.1.3' not in pods(), 3),
                 json.dumps(pods()))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--gateway-binary', required=True)
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='dg-k8s-sync-')
    processes = []
    checks = Checks()

    def cleanup(*_):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT if process is processes[-1] else signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(1)))

    try:
        ready_file = os.path.join(work, 'ready.json')
        kubeconfig = os.path.join(work, 'kubeconfig')
        server = subprocess.Popen(
            ['/usr/bin/python3', os.path.join(HERE, 'fake_apiserver.py'), '--port', '0', '--control-port', '0',
             '--token-file', os.path.join(work, 'token'), '--token', 'first-token', '--ready-file', ready_file,
             '--kubeconfig-out', kubeconfig, '--kubeconfig-token-file', '--bookmark-interval', '1',
             '--cert-dir', os.path.join(work, 'certs')],
            stdout=open(os.path.join(work, 'apiserver.log'), 'w'), stderr=subprocess.STDOUT)
        processes.append(server)
        info = wait_for(lambda: json.load(open(ready_file)), 20)
        if not checks.check('fake API server starts', bool(info), 'no ready file'):
            return 1
        control = info['control_url'].rstrip('/')

        post(control, '/namespaces', {'name': 'ns-crit'})
        post(control, '/namespaces', {'name': 'ns-web'})
        post(control, '/namespaces', {'name': 'batch-etl'})
        post(control, '/namespaces', {'name': CM_NAMESPACE})
        post(control, '/configmaps', {'name': CM_NAME, 'namespace': CM_NAMESPACE,
                                      'data': {'priorities.yaml': PRIORITIES}})
        post(control, '/pods', {'name': 'trainer', 'namespace': 'ns-crit', 'node': NODE, 'ip': '10.244.1.1',
                                'phase': 'Running'})
        post(control, '/pods', {'name': 'etl', 'namespace': 'batch-etl', 'node': NODE, 'ip': '10.244.1.3',
                                'phase': 'Running'})
        post(control, '/pods', {'name': 'elsewhere', 'namespace': 'ns-crit', 'node': 'node-b',
                                'ip': '10.244.1.4', 'phase': 'Running'})

        traffic = os.path.join(work, 'traffic.pcap')
        write_traffic(traffic, ['10.244.1.%d' % i for i in range(1, 8)])
        config = os.path.join(work, 'gateway.yaml')
        with open(config, 'w') as out:
            out.write(json.dumps({
                'eal': ['-l', '0-1', '--no-huge', '-m', '512', '--no-shconf', '--no-pci',
                        '--file-prefix', 'dgk8s%d' % os.getpid(), '--log-level', '*:error',
                        '--vdev', 'net_pcap0,rx_pcap=%s,infinite_rx=1' % traffic, '--vdev', 'net_null0'],
                'ports': {'kernel': 'net_pcap0', 'uplink': 'net_null0'},
                'shaper': {'rate': '20Mbit'},
                'rest': {'listen': '127.0.0.1:0'},
                'datapath': {'podTableSize': 4096},
                'kubernetes': {'enabled': True, 'kubeconfig': kubeconfig, 'nodeName': NODE,
                               'watchTimeoutSeconds': 10, 'idleTimeoutSeconds': 3},
            }))
        gateway_log = open(os.path.join(work, 'gateway.err'), 'w')
        gateway = subprocess.Popen([args.gateway_binary, 'run', '--config', config], stdout=subprocess.PIPE,
                                   stderr=gateway_log, text=True)
        processes.append(gateway)
        rest = None
        for line in gateway.stdout:
            match = re.search(r'REST on (\S+):(\d+)', line)
            if match:
                rest = 'http://%s:%s' % match.groups()
                break
        if not checks.check('gateway starts with Kubernetes sync', rest is not None,
                            open(os.path.join(work, 'gateway.err')).read()[-2000:]):
            return 1

        def pods():
            return {pod['ip']: pod for pod in get_json(rest, '/v1/pods')['pods']}

        def pod_class(ip):
            return pods().get(ip, {}).get('class')

        def namespace_packets(name):
            for entry in get_json(rest, '/v1/stats')['namespaces']:
                if entry['namespace'] == name:
                    return entry['packets']
            return 0

        def relists():
            stats = get_json(rest, '/v1/stats')['kubernetes']['watches']
            return sum(watch['relists'] for watch in stats)

        def watch_of(resource_suffix):
            for watch in get_json(rest, '/v1/stats')['kubernetes']['watches']:
                if watch['resource'].endswith(resource_suffix):
                    return watch
            return {}

        checks.check('readyz turns ready once listed', wait_for(lambda: get_status(rest, '/readyz') == 200, 15),
                     str(get_status(rest, '/readyz')))
        table = pods()
        checks.check('this node\'s pods are in the table with ConfigMap classes',
                     table.get('10.244.1.1', {}).get('class') == 'critical' and
                     table.get('10.244.1.3', {}).get('class') == 'scavenger', json.dumps(table))
        checks.check('other nodes\' pods are not', '10.244.1.4' not in table, json.dumps(table))

        post(control, '/pods', {'name': 'web', 'namespace': 'ns-web', 'node': NODE, 'ip': '10.244.1.2',
                                'phase': 'Running'})
        checks.check('a created pod appears', wait_for(lambda: pod_class('10.244.1.2') == 'standard', 3),
                     json.dumps(pods()))
        before = namespace_packets('ns-web')
        checks.check('its traffic is attributed to its namespace',
                     wait_for(lambda: namespace_packets('ns-web') > before + 100, 5), str(before))

        post(control, '/namespaces', {'name': 'ns-web', 'labels': {'dscp-gateway.io/class': 'high'}})
        checks.check('a namespace label assigns a class', wait_for(lambda: pod_class('10.244.1.2') == 'high', 3),
                     json.dumps(pods()))
        post(control, '/namespaces', {'name': 'ns-crit', 'labels': {'dscp-gateway.io/class': 'scavenger'}})
        time.sleep(1)
        checks.check('an exact ConfigMap entry beats the label', pod_class('10.244.1.1') == 'critical',
                     json.dumps(pods()))

        hash_before = get_json(rest, '/v1/policy')['content_hash']
        post(control, '/configmaps', {'name': CM_NAME, 'namespace': CM_NAMESPACE,
                                      'data': {'priorities.yaml': PRIORITIES.replace('ns-crit: critical',
                                                                                     'ns-crit: high')}})
        checks.check('a ConfigMap change applies', wait_for(lambda: pod_class('10.244.1.1') == 'high', 3),
                     json.dumps(pods()))
        checks.check('the policy hash changes', get_json(rest, '/v1/policy')['content_hash'] != hash_before)

        errors_before = get_json(rest, '/v1/policy')['reload_errors']
        post(control, '/configmaps', {'name': CM_NAME, 'namespace': CM_NAMESPACE,
                                      'data': {'priorities.yaml': PRIORITIES.replace('dscp: 46', 'dscp: 99')}})
        policy = wait_for(lambda: (lambda p: p if p['reload_errors'] > errors_before else None)(
            get_json(rest, '/v1/policy')), 3) or {}
        checks.check('an invalid ConfigMap is rejected with name, key and reason',
                     'ConfigMap dscp-gateway/dscp-gateway-priorities' in policy.get('last_reload_error', '') and
                     'classes[0].dscp' in policy.get('last_reload_error', ''), json.dumps(policy))
        checks.check('and the last good policy stays', pod_class('10.244.1.1') == 'high', json.dumps(pods()))

        post(control, '/pods/delete', {'namespace': 'batch-etl', 'name': 'etl'})
        checks.check('a deleted pod leaves the table', wait_for(lambda: '10.244.1.3' not in pods(), 3),
                     json.dumps(pods()))
        post(control, '/pods', {'name': 'reuser', 'namespace': 'ns-web', 'node': NODE, 'ip': '10.244.1.3',
                                'phase': 'Running'})
        checks.check('a reused IP takes its new pod\'s class',
                     wait_for(lambda: pod_class('10.244.1.3') == 'high', 3), json.dumps(pods()))
        post(control, '/pods', {'name': 'reuser', 'namespace': 'ns-web', 'phase': 'Succeeded'})
        checks.check('a finished pod leaves the table', wait_for(lambda: '10.244.1.3' not in pods(), 3),
                     json.dumps(pods()))

        check_pod_overrides(checks, control, rest, pods, pod_class)

        restarts = watch_of('/pods').get('watch_restarts', 0)
        post(control, '/fault/drop-watch', {'resource': 'pods'})
        post(control, '/pods', {'name': 'after-drop', 'namespace': 'ns-crit', 'node': NODE, 'ip': '10.244.1.5',
                                'phase': 'Running'})
        checks.check('a dropped watch reconnects and catches up',
                     wait_for(lambda: pod_class('10.244.1.5') == 'high', 8) and
                     watch_of('/pods').get('watch_restarts', 0) > restarts, json.dumps(watch_of('/pods')))

        # Bookmarks keep our resourceVersion fresh, so compaction alone rarely makes it too
        # old: have the server answer the next watch with "too old resource version".
        relists_before = relists()
        post(control, '/compact', {})
        post(control, '/fault/gone', {'resource': 'pods', 'op': 'watch'})
        post(control, '/fault/drop-watch', {'resource': 'pods'})
        post(control, '/pods', {'name': 'after-gone', 'namespace': 'ns-crit', 'node': NODE, 'ip': '10.244.1.6',
                                'phase': 'Running'})
        checks.check('410 Gone relists and the table stays whole',
                     wait_for(lambda: relists() > relists_before and pod_class('10.244.1.6') == 'high' and
                              pod_class('10.244.1.1') == 'high', 10), json.dumps(watch_of('/pods')))

        post(control, '/fault/stall-watch', {'resource': 'pods', 'seconds': 30})
        post(control, '/pods', {'name': 'during-stall', 'namespace': 'ns-crit', 'node': NODE,
                                'ip': '10.244.1.7', 'phase': 'Running'})
        checks.check('a silent watch is abandoned after the idle timeout',
                     wait_for(lambda: pod_class('10.244.1.7') == 'high', 12), json.dumps(watch_of('/pods')))
        post(control, '/fault/unstall', {'resource': 'pods'})

        errors = watch_of('/pods').get('errors', 0)
        post(control, '/fault/malformed', {'resource': 'pods'})
        post(control, '/pods', {'name': 'web', 'namespace': 'ns-web', 'labels': {'touched': 'yes'}})
        checks.check('a malformed event is counted and the watch resumes',
                     wait_for(lambda: watch_of('/pods').get('errors', 0) > errors, 8) and
                     wait_for(lambda: get_status(rest, '/readyz') == 200, 5), json.dumps(watch_of('/pods')))

        table_before = pods()
        post(control, '/fault/auth', {'code': 401, 'count': 3})
        post(control, '/fault/drop-watch', {'resource': 'pods'})
        time.sleep(2)
        checks.check('401 keeps the last-known table', pods() == table_before,
                     json.dumps(watch_of('/pods')))
        checks.check('and says why', '401' in watch_of('/pods').get('last_error', ''),
                     json.dumps(watch_of('/pods')))
        post(control, '/fault/clear', {})

        post(control, '/rotate-token', {})
        post(control, '/fault/drop-watch', {'resource': 'pods'})
        post(control, '/pods', {'name': 'after-rotation', 'namespace': 'ns-web', 'node': NODE,
                                'ip': '10.244.1.8', 'phase': 'Running'})
        checks.check('a rotated token file is re-read', wait_for(lambda: pod_class('10.244.1.8') == 'high', 10),
                     json.dumps(watch_of('/pods')))

        metrics = urllib.request.urlopen(rest + '/metrics', timeout=5).read().decode()
        lag_count = re.search(r'^dscp_gateway_sync_lag_seconds_count (\d+)', metrics, re.M)
        checks.check('sync lag is measured', lag_count is not None and int(lag_count.group(1)) > 0,
                     'no dscp_gateway_sync_lag_seconds_count')

        table_before = pods()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        time.sleep(3)
        checks.check('an API server outage keeps the last-known table', pods() == table_before)
        checks.check('and the datapath healthy', get_status(rest, '/healthz') == 200)
    finally:
        cleanup()
        # DPDK leaves its runtime directory behind even with --no-shconf.
        subprocess.run(['rm', '-rf', '/var/run/dpdk/dgk8s%d' % os.getpid()])
        if not args.keep and checks.failed == 0:
            subprocess.run(['rm', '-rf', work])
        else:
            print('work directory kept: ' + work)
    print('%d passed, %d failed' % (checks.passed, checks.failed))
    return 0 if checks.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
