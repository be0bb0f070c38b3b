"""Part 1 of client_node_test.py: the fake server through a plain HTTPS client (chunked
lists, watch replay, bookmarks, 410s, auth, selectors, faults)."""

import base64
import gzip
import json
import os
import time

from protocol_client import NODE_A_PODS, NODE_B_PODS, R, WatchStream, check_step, list_all, names


def part1(srv):
    @check_step('discovery: /version, /api, /api/v1')
    def discovery():
        st1, _, v = srv.get('/version', token=None)
        st2, _, api = srv.get('/api')
        st3, _, v1 = srv.get('/api/v1')
        kinds = {r['name']: r['kind'] for r in v1.get('resources', [])}
        R.check('discovery: /version, /api, /api/v1',
                st1 == st2 == st3 == 200 and v.get('major') == '1' and api.get('versions') == ['v1']
                and kinds == {'pods': 'Pod', 'namespaces': 'Namespace', 'configmaps': 'ConfigMap'},
                (st1, st2, st3, api, kinds))
    discovery()

    @check_step('auth: bad/missing token -> 401 Status')
    def auth401():
        st, hd, body = srv.get('/api/v1/pods', token='not-the-token')
        st2, _, body2 = srv.get('/api/v1/pods', token=None)
        R.check('auth: bad token -> 401 Status',
                st == 401 and hd.get('Content-Type') == 'application/json' and body.get('kind') == 'Status'
                and body.get('code') == 401 and body.get('reason') == 'Unauthorized'
                and body.get('status') == 'Failure', (st, body))
        R.check('auth: no credentials -> 401 Status', st2 == 401 and body2.get('code') == 401, (st2, body2))
    auth401()

    @check_step('auth: token without permission -> 403 Status')
    def auth403():
        st, _, body = srv.get('/api/v1/pods', token='cm-only-token')
        st2, _, body2 = srv.get('/api/v1/namespaces/dscp-system/configmaps/priorities', token='cm-only-token')
        st3, _, body3 = srv.get('/api/v1/namespaces/team-a/configmaps/elsewhere', token='cm-only-token')
        R.check('auth: token without permission -> 403 Status',
                st == 403 and body.get('reason') == 'Forbidden' and body.get('code') == 403
                and 'cannot list resource "pods"' in body.get('message', '')
                and st2 == 200 and body2.get('kind') == 'ConfigMap'
                and st3 == 403 and 'in the namespace "team-a"' in body3.get('message', ''),
                (st, body, st2, st3, body3))
    auth403()

    @check_step('auth: client certificate')
    def authcert():
        st, _, body = srv.get('/api/v1/namespaces', token=None, cert=True)
        R.check('auth: client certificate signed by the CA is accepted',
                st == 200 and body.get('kind') == 'NamespaceList', (st, body))
    authcert()

    @check_step('404 Status for unknown path and missing object')
    def notfound():
        st, _, body = srv.get('/api/v1/services')
        st2, _, body2 = srv.get('/api/v1/namespaces/dscp-system/configmaps/nope')
        st3, _, body3 = srv.get('/api/v1/namespaces/dscp-system/configmaps/priorities')
        R.check('404 Status for unknown path and missing object; GET one configmap',
                st == 404 and body.get('kind') == 'Status' and body.get('reason') == 'NotFound'
                and st2 == 404 and body2.get('message') == 'configmaps "nope" not found'
                and body2.get('details') == {'name': 'nope', 'kind': 'configmaps'}
                and st3 == 200 and body3.get('kind') == 'ConfigMap' and body3.get('apiVersion') == 'v1'
                and body3['data']['priorities.yaml'].startswith('default: 0'), (st, body, st2, body2, st3))
    notfound()

    @check_step('list: chunked list is one consistent snapshot')
    def chunked():
        total = NODE_A_PODS + NODE_B_PODS + 1
        rv0 = srv.rv()

        def mutate(i):
            if i == 0:   # after the first page: add a pod that sorts last, delete one that sorts late
                srv.control('/pods', {'namespace': 'zzz', 'name': 'late-pod', 'node': 'node-a', 'ip': '10.9.9.9'})
                srv.control('/pods/delete', {'namespace': 'team-b', 'name': 'web-118'})
        pages, items = list_all(srv, '/api/v1/pods', {}, 7, mutate)
        rvs = {p['metadata']['resourceVersion'] for p in pages}
        rem = [p['metadata'].get('remainingItemCount') for p in pages]
        expect_rem = [max(0, total - 7 * (i + 1)) for i in range(len(pages) - 1)] + [None]
        nm = names(items)
        R.check('list: limit/continue returns all items, no duplicates, in key order',
                len(items) == total and len(set(nm)) == total and nm == sorted(nm)
                and len(pages) == -(-total // 7), (len(items), len(pages)))
        R.check('list: every chunk carries the first chunk\'s resourceVersion (snapshot)',
                rvs == {str(rv0)}, (rvs, rv0))
        R.check('list: changes made between chunks are not visible (snapshot consistency)',
                ('zzz', 'late-pod') not in nm and ('team-b', 'web-118') in nm)
        R.check('list: remainingItemCount counts the items after each chunk', rem == expect_rem, (rem, expect_rem))
        R.check('list: items carry no kind/apiVersion (like the apiserver\'s JSON lists)',
                all('kind' not in o and 'apiVersion' not in o for o in items)
                and pages[0]['kind'] == 'PodList' and pages[0]['apiVersion'] == 'v1')
        # put things back
        srv.control('/pods/delete', {'namespace': 'zzz', 'name': 'late-pod'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'web-118', 'node': 'node-a', 'ip': '10.1.0.119',
                              'labels': {'app': 'web', 'idx': '118'}})
    chunked()

    @check_step('list: selectors')
    def selectors():
        _, items = list_all(srv, '/api/v1/pods', {'fieldSelector': 'spec.nodeName=node-a'}, 13)
        _, items_ns = list_all(srv, '/api/v1/namespaces/team-a/pods', {'fieldSelector': 'spec.nodeName=node-a'}, 1000)
        st, _, pend = srv.get('/api/v1/pods', {'fieldSelector': 'spec.nodeName='})
        st2, _, lab = srv.get('/api/v1/pods', {'labelSelector': 'app=db'})
        st3, _, nsl = srv.get('/api/v1/namespaces', {'labelSelector': 'dscp.io/watched'})
        st4, _, nsl2 = srv.get('/api/v1/namespaces', {'labelSelector': 'tier in (gold,silver),!dscp.io/watched'})
        st5, _, cm = srv.get('/api/v1/configmaps', {'fieldSelector': 'metadata.name=priorities'})
        st6, _, bad = srv.get('/api/v1/pods', {'fieldSelector': 'spec.bogus=1'})
        R.check('list: fieldSelector spec.nodeName=X (chunked, all namespaces and one namespace)',
                len(items) == NODE_A_PODS and all(o['spec']['nodeName'] == 'node-a' for o in items)
                and len(items_ns) == NODE_A_PODS // 2 and all(o['metadata']['namespace'] == 'team-a' for o in items_ns),
                (len(items), len(items_ns)))
        R.check('list: fieldSelector spec.nodeName= matches unscheduled pods',
                st == 200 and names(pend['items']) == [('team-b', 'pending-1')], pend)
        R.check('list: labelSelector k=v / k / k in (...),!k',
                st2 == 200 and len(lab['items']) == NODE_B_PODS and st3 == 200
                and names(nsl['items']) == [('', 'team-a')] and names(nsl2['items']) == [('', 'team-b')],
                (len(lab['items']), names(nsl['items']), names(nsl2['items'])))
        R.check('list: configmaps fieldSelector metadata.name=X',
                st5 == 200 and names(cm['items']) == [('dscp-system', 'priorities')], cm)
        R.check('list: unsupported field selector -> 400 BadRequest Status',
                st6 == 400 and bad.get('reason') == 'BadRequest' and 'field label not supported' in bad.get('message', ''),
                (st6, bad))
    selectors()

    @check_step('list: expired continue token -> 410 Expired')
    def expired_continue():
        st, _, first = srv.get('/api/v1/pods', {'limit': '10'})
        cont = first['metadata']['continue']
        srv.control('/configmaps', {'namespace': 'dscp-system', 'name': 'unrelated', 'data': {'x': '2'}})
        srv.control('/compact', {})
        st2, _, body = srv.get('/api/v1/pods', {'limit': '10', 'continue': cont})
        st3, _, body3 = srv.get('/api/v1/pods', {'limit': '10', 'continue': cont, 'resourceVersion': '5'})
        st4, _, body4 = srv.get('/api/v1/pods', {'limit': '10', 'continue': 'garbage'})
        R.check('list: continue token older than a compaction -> 410 Expired Status (with an inconsistent-continue token)',
                st2 == 410 and body.get('reason') == 'Expired' and body.get('code') == 410
                and body.get('metadata', {}).get('continue'), (st2, body))
        R.check('list: continue with resourceVersion -> 400; malformed continue -> 400',
                st3 == 400 and st4 == 400 and body4.get('reason') == 'BadRequest', (st3, body3, st4, body4))
        st5, _, body5 = srv.get('/api/v1/pods', {'limit': '10', 'continue': body['metadata']['continue']})
        R.check('list: the inconsistent-continue token from the 410 goes on with the newest data',
                st5 == 200 and len(body5['items']) == 10
                and names(body5['items'])[0] > names(first['items'])[-1], (st5, body5.get('metadata')))
    expired_continue()

    @check_step('list: resourceVersion semantics')
    def rv_semantics():
        rv_a = srv.rv()
        srv.control('/pods', {'namespace': 'team-a', 'name': 'rv-probe', 'node': 'node-a', 'ip': '10.7.7.7'})
        st, _, exact = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a), 'resourceVersionMatch': 'Exact',
                                                'fieldSelector': 'metadata.name=rv-probe'})
        st2, _, newer = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a), 'resourceVersionMatch': 'NotOlderThan',
                                                 'fieldSelector': 'metadata.name=rv-probe'})
        st3, _, big = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a + 1000), 'resourceVersionMatch': 'NotOlderThan'})
        st4, _, old = srv.get('/api/v1/pods', {'resourceVersion': '1', 'resourceVersionMatch': 'Exact'})
        srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'rv-probe'})
        R.check('list: resourceVersionMatch=Exact serves the past, NotOlderThan the present',
                st == 200 and exact['items'] == [] and exact['metadata']['resourceVersion'] == str(rv_a)
                and st2 == 200 and len(newer['items']) == 1, (st, exact, st2))
        R.check('list: too large RV -> 504 Timeout; compacted RV -> 410 Expired',
                st3 == 504 and big.get('reason') == 'Timeout' and st4 == 410 and old.get('reason') == 'Expired',
                (st3, big, st4, old))
    rv_semantics()

    @check_step('watch: replay from list RV')
    def replay():
        _, _, lst = srv.get('/api/v1/namespaces/team-a/pods', {'fieldSelector': 'spec.nodeName=node-a'})
        rv = lst['metadata']['resourceVersion']
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-1', 'node': 'node-a', 'ip': '10.3.0.1'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'replay-other-ns', 'node': 'node-a', 'ip': '10.3.0.9'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-1', 'ip': '10.3.0.2'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-b', 'node': 'node-b', 'ip': '10.3.0.3'})
        srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'replay-1'})
        w = WatchStream(srv, '/api/v1/namespaces/team-a/pods',
                        {'resourceVersion': rv, 'fieldSelector': 'spec.nodeName=node-a', 'timeoutSeconds': '2'})
        evs = w.events(4, timeout=5)
        got = [(e['type'], e.get('object', {}).get('metadata', {}).get('name'),
                e.get('object', {}).get('status', {}).get('podIP')) for e in evs]
        rvs = [int(e['object']['metadata']['resourceVersion']) for e in evs[:3] if 'object' in e]
        R.check('watch: 200 chunked application/json stream',
                w.status == 200 and w.headers.get('Transfer-Encoding') == 'chunked'
                and w.headers.get('Content-Type') == 'application/json', (w.status, w.headers))
        R.check('watch: from the list RV replays the changes in order, filtered by namespace and fieldSelector',
                got[:3] == [('ADDED', 'replay-1', '10.3.0.1'), ('MODIFIED', 'replay-1', '10.3.0.2'),
                            ('DELETED', 'replay-1', '10.3.0.2')] and rvs == sorted(rvs) and rvs[0] > int(rv)
                and all(e['object'].get('kind') == 'Pod' and e['object'].get('apiVersion') == 'v1' for e in evs[:3]),
                got)
        R.check('watch: timeoutSeconds ends the stream cleanly', got[3][0] == '<end>' and evs[3]['detail'] == 'clean',
                evs[3:])
        w.close()
    replay()

    @check_step('watch: selector transitions')
    def transitions():
        rv = str(srv.rv())
        srv.control('/pods', {'namespace': 'team-b', 'name': 'pending-1', 'node': 'node-a', 'ip': '10.4.0.1',
                              'phase': 'Running'})
        srv.control('/namespaces', {'name': 'team-a', 'remove_labels': ['dscp.io/watched']})
        srv.control('/namespaces', {'name': 'team-a', 'labels': {'dscp.io/watched': 'yes'}})
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': rv, 'fieldSelector': 'spec.nodeName=node-a',
                                              'timeoutSeconds': '1'})
        e1 = w.events(1)
        w2 = WatchStream(srv, '/api/v1/namespaces', {'resourceVersion': rv, 'labelSelector': 'dscp.io/watched',
                                                     'timeoutSeconds': '1'})
        e2 = w2.events(2)
        R.check('watch: a pod scheduled onto the node arrives as ADDED on the nodeName watch',
                [(e['type'], e['object']['metadata']['name']) for e in e1] == [('ADDED', 'pending-1')], e1)
        R.check('watch: an object leaving / entering the label selector arrives as DELETED / ADDED',
                [(e['type'], e['object']['metadata']['name']) for e in e2] == [('DELETED', 'team-a'), ('ADDED', 'team-a')],
                e2)
        w.close()
        w2.close()
    transitions()

    @check_step('watch: BOOKMARK')
    def bookmark():
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': str(srv.rv()), 'allowWatchBookmarks': 'true',
                                              'timeoutSeconds': '5'})
        kind, ev = w.next(timeout=4)
        w2 = WatchStream(srv, '/api/v1/configmaps', {'resourceVersion': str(srv.rv()), 'timeoutSeconds': '2'})
        ev2 = w2.events(1, timeout=4, skip_bookmarks=False)
        ok = (kind == 'event' and ev.get('type') == 'BOOKMARK' and ev['object'].get('kind') == 'Pod'
              and ev['object'].get('apiVersion') == 'v1'
              and int(ev['object']['metadata']['resourceVersion']) == srv.rv()
              and set(ev['object']['metadata']) <= {'resourceVersion', 'creationTimestamp'})
        R.check('watch: BOOKMARK with the current RV arrives when allowWatchBookmarks=true', ok, (kind, ev))
        R.check('watch: no BOOKMARK without allowWatchBookmarks', ev2[0]['type'] == '<end>', ev2)
        w.close()
        w2.close()
    bookmark()

    @check_step('watch: too old RV -> ERROR 410')
    def too_old():
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': '150', 'allowWatchBookmarks': 'true'})
        evs = w.events(2, timeout=5, skip_bookmarks=False)
        ok = (w.status == 200 and evs[0]['type'] == 'ERROR' and evs[0]['object'].get('kind') == 'Status'
              and evs[0]['object'].get('code') == 410 and evs[0]['object'].get('reason') == 'Expired'
              and 'too old resource version' in evs[0]['object'].get('message', '')
              and evs[1]['type'] == '<end>' and evs[1]['detail'] == 'clean')
        R.check('watch: an RV older than the history window -> ERROR event with 410 Expired Status, then close',
                ok, evs)
        w.close()
    too_old()

    @check_step('watch: a client that goes away is noticed')
    def client_gone():
        w = WatchStream(srv, '/api/v1/namespaces/team-a/configmaps', {'resourceVersion': str(srv.rv())})
        srv.control('/fault/stall-watch', {'resource': 'configmaps'})
        before = [x for x in srv.control('/state')['watches'] if x['resource'] == 'configmaps']
        w.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = [x for x in srv.control('/state')['watches'] if x['resource'] == 'configmaps']
            if not after:
                break
            time.sleep(0.2)
        R.check('watch: an idle (even stalled) watch whose client disconnected leaves /state within ~1 s',
                len(before) == 1 and not after, (before, after))
    client_gone()

    @check_step('watch: RV 0 / sendInitialEvents')
    def initial_events():
        w = WatchStream(srv, '/api/v1/namespaces/dscp-system/configmaps', {'timeoutSeconds': '1'})
        evs = w.events(3)
        w2 = WatchStream(srv, '/api/v1/namespaces/dscp-system/configmaps',
                         {'sendInitialEvents': 'true', 'resourceVersionMatch': 'NotOlderThan',
                          'allowWatchBookmarks': 'true', 'resourceVersion': '', 'timeoutSeconds': '1'})
        evs2 = w2.events(3, skip_bookmarks=False)
        R.check('watch: without resourceVersion starts with synthetic ADDED for the current objects',
                [(e['type'], e.get('object', {}).get('metadata', {}).get('name')) for e in evs]
                == [('ADDED', 'priorities'), ('ADDED', 'unrelated'), ('<end>', None)], evs)
        R.check('watch: sendInitialEvents ends the initial ADDEDs with a k8s.io/initial-events-end BOOKMARK',
                [e['type'] for e in evs2] == ['ADDED', 'ADDED', 'BOOKMARK']
                and evs2[2]['object']['metadata'].get('annotations') == {'k8s.io/initial-events-end': 'true'}, evs2)
        w.close()
        w2.close()
    initial_events()

    @check_step('faults: drop watch after N events')
    def drop_after():
        rv = str(srv.rv())
        for i in range(4):
            srv.control('/configmaps', {'namespace': 'team-b', 'name': 'drop-%d' % i, 'data': {'i': str(i)}})
        srv.control('/fault/drop-watch', {'resource': 'configmaps', 'target': 'next', 'after_events': 2, 'mode': 'reset'})
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv})
        evs = w.events(3, timeout=5)
        R.check('faults: drop-watch after N events cuts the stream mid-body (no final chunk)',
                [e['type'] for e in evs[:2]] == ['ADDED', 'ADDED'] and evs[2]['type'] == '<end>'
                and evs[2]['detail'].startswith('error'), evs)
        w.close()
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv})
        evs = w.events(4)
        srv.control('/fault/drop-watch', {'resource': 'configmaps', 'mode': 'graceful'})
        end = w.events(1)
        R.check('faults: drop-watch now (graceful) ends an open stream cleanly',
                len([e for e in evs if e['type'] == 'ADDED']) == 4 and end[0]['type'] == '<end>'
                and end[0]['detail'] == 'clean', (evs, end))
        w.close()
    drop_after()

    @check_step('faults: stall, malformed, gone, auth')
    def other_faults():
        rv = str(srv.rv())
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps',
                        {'resourceVersion': rv, 'allowWatchBookmarks': 'true'})
        srv.control('/fault/stall-watch', {'resource': 'configmaps'})
        srv.control('/configmaps', {'namespace': 'team-b', 'name': 'stalled', 'data': {}})
        quiet = w.next(timeout=2.5)
        srv.control('/fault/unstall', {'resource': 'configmaps'})
        after = w.events(1, timeout=3)
        R.check('faults: stall-watch sends nothing (not even bookmarks) until unstalled, then resumes',
                quiet[0] == 'timeout' and after[0]['type'] == 'ADDED'
                and after[0]['object']['metadata']['name'] == 'stalled', (quiet, after))
        srv.control('/fault/malformed', {'resource': 'configmaps'})
        srv.control('/configmaps', {'namespace': 'team-b', 'name': 'after-garbage', 'data': {}})
        got = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and not any(k == 'event' and v.get('type') == 'ADDED' for k, v in got):
            k, v = w.next(timeout=1)
            if k != 'timeout' and not (k == 'event' and v.get('type') == 'BOOKMARK'):
                got.append((k, v))
        R.check('faults: malformed JSON line injected into the watch stream, stream continues',
                got and got[0][0] == 'line' and got[-1][0] == 'event'
                and got[-1][1]['object']['metadata']['name'] == 'after-garbage', got)
        w.close()

        rv = str(srv.rv())
        for i in range(3):
            srv.control('/configmaps', {'namespace': 'team-b', 'name': 'frag-%d' % i, 'data': {'i': str(i)}})
        srv.control('/fault/fragment', {'resource': 'configmaps', 'target': 'next'})
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv, 'timeoutSeconds': '1'})
        evs = w.events(4)
        R.check('faults: fragment splits event lines over several chunks; the events still parse',
                [e['type'] for e in evs] == ['ADDED'] * 3 + ['<end>'] and evs[3]['detail'] == 'clean'
                and w.chunks > 3, (w.chunks, evs))
        w.close()

        srv.control('/fault/delay', {'resource': 'configmaps', 'op': 'list', 'seconds': 1.0})
        t = time.monotonic()
        st_d, _, _ = srv.get('/api/v1/configmaps', {'limit': '1'})
        R.check('faults: delay holds the next list back', st_d == 200 and time.monotonic() - t >= 1.0)

        srv.control('/fault/gone', {'resource': 'pods', 'op': 'list'})
        st, _, body = srv.get('/api/v1/pods', {'limit': '5'})
        st2, _, _ = srv.get('/api/v1/pods', {'limit': '5'})
        srv.control('/fault/gone', {'resource': 'pods', 'op': 'watch'})
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': str(srv.rv())})
        evs = w.events(1)
        R.check('faults: gone -> the next list answers 410 Expired, the next watch an ERROR 410 event',
                st == 410 and body.get('reason') == 'Expired' and st2 == 200
                and evs[0]['type'] == 'ERROR' and evs[0]['object']['code'] == 410, (st, body, st2, evs))
        w.close()

        tok = srv.token
        srv.control('/fault/auth', {'token': tok, 'code': 403, 'count': 1})
        st3, _, b3 = srv.get('/api/v1/pods', {'limit': '1'})
        st4, _, _ = srv.get('/api/v1/pods', {'limit': '1'})
        srv.control('/fault/auth', {'token': tok, 'code': 401, 'count': 1})
        st5, _, _ = srv.get('/api/v1/pods', {'limit': '1'})
        R.check('faults: forced 403 / 401 for a token (count-limited)',
                st3 == 403 and b3.get('reason') == 'Forbidden' and st4 == 200 and st5 == 401, (st3, st4, st5))

        srv.control('/fault/error', {'resource': 'pods', 'op': 'list', 'code': 503})
        st6, hd6, b6 = srv.get('/api/v1/pods', {'limit': '1'})
        R.check('faults: injected 503 ServiceUnavailable with Retry-After',
                st6 == 503 and b6.get('reason') == 'ServiceUnavailable' and hd6.get('Retry-After') == '1', (st6, b6))
    other_faults()

    @check_step('auth: token rotation')
    def rotation():
        old = srv.token
        new = 'rotated-' + base64.urlsafe_b64encode(os.urandom(12)).decode()
        tmp = srv.token_file + '.new'
        with open(tmp, 'w') as f:
            f.write(new)
        os.replace(tmp, srv.token_file)
        st_old, _, b_old = srv.get('/api/v1/namespaces', token=old)
        st_new, _, _ = srv.get('/api/v1/namespaces', token=new)
        r = srv.control('/rotate-token', {'grace_seconds': 30})
        st_grace, _, _ = srv.get('/api/v1/namespaces', token=new)
        st_newest, _, _ = srv.get('/api/v1/namespaces', token=r['token'])
        R.check('auth: rewriting the token file rotates the token (old -> 401, new -> 200)',
                st_old == 401 and b_old.get('reason') == 'Unauthorized' and st_new == 200, (st_old, st_new))
        R.check('auth: /rotate-token with grace keeps the previous token valid for a while',
                st_grace == 200 and st_newest == 200 and srv.token == r['token'], (st_grace, st_newest))
        # restore the token the kubeconfig carries, for part 2
        srv.control('/rotate-token', {'token': old})
        st_back, _, _ = srv.get('/api/v1/namespaces', token=old)
        R.check('auth: token restored', st_back == 200, st_back)
    rotation()

    @check_step('http: keep-alive and gzip')
    def http_details():
        srv.control('/generate-pods', {'count': 400, 'node': 'node-c', 'namespace': 'bulk'})
        c = srv.conn()
        try:
            statuses = []
            for _ in range(3):
                c.request('GET', '/api/v1/namespaces', headers={'Authorization': 'Bearer ' + srv.token})
                r = c.getresponse()
                r.read()
                statuses.append(r.status)
            c.request('GET', '/api/v1/namespaces/bulk/pods', headers={'Authorization': 'Bearer ' + srv.token,
                                                                      'Accept-Encoding': 'gzip'})
            r = c.getresponse()
            raw = r.read()
            gz = r.getheader('Content-Encoding')
            body = json.loads(gzip.decompress(raw)) if gz == 'gzip' else None
            c.request('GET', '/api/v1/namespaces/bulk/pods', headers={'Authorization': 'Bearer ' + srv.token})
            r = c.getresponse()
            plain = json.loads(r.read())
            te_big = r.getheader('Transfer-Encoding')
            c.request('GET', '/api/v1/namespaces/dscp-system/configmaps/priorities',
                      headers={'Authorization': 'Bearer ' + srv.token})
            r = c.getresponse()
            r.read()
            cl_small = r.getheader('Content-Length')
        finally:
            c.close()
        R.check('http: several requests on one keep-alive connection; large lists gzip when asked',
                statuses == [200, 200, 200] and body is not None and len(body['items']) == 400, (statuses, gz))
        R.check('http: bodies over 2 KiB are sent chunked like Go\'s net/http, small ones with Content-Length',
                te_big == 'chunked' and len(plain['items']) == 400 and cl_small is not None, (te_big, cl_small))
    http_details()
