"""Files around the server: a CA with server and client certificates (openssl),
kubeconfigs, and seed files of initial objects."""

from __future__ import annotations

import json
import os
import subprocess

from .control import run_control_op


def generate_certs(cert_dir, hosts=('127.0.0.1', '::1', 'localhost')):
    """A self-signed CA, a server certificate (SANs for the loopback names) and a client
    certificate, all signed by the CA, made with the openssl CLI. Reuses existing files."""
    os.makedirs(cert_dir, exist_ok=True)
    p = lambda n: os.path.join(cert_dir, n)  # noqa: E731
    files = {'ca_file': p('ca.crt'), 'ca_key': p('ca.key'), 'cert_file': p('server.crt'),
             'key_file': p('server.key'), 'client_cert_file': p('client.crt'),
             'client_key_file': p('client.key')}
    if all(os.path.exists(f) for f in files.values()):
        return files

    def run(*args):
        subprocess.run(['openssl'] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    run('req', '-x509', *ec, '-keyout', files['ca_key'], '-out', files['ca_file'], '-days', '3650',
        '-subj', '/CN=fake-apiserver-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash')
    sans = ','.join(('DNS:%s' % h) if not h[0].isdigit() and ':' not in h else ('IP:%s' % h) for h in hosts)
    for name, cn, eku, extra in (('server', 'kube-apiserver', 'serverAuth', 'subjectAltName=' + sans),
                                 ('client', 'dscp-gateway-client', 'clientAuth', None)):
        csr = p(name + '.csr')
        ext = p(name + '.ext')
        with open(ext, 'w') as f:
            f.write('basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                    'extendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n' % eku)
            if extra:
                f.write(extra + '\n')
        subj = '/CN=%s' % cn if name == 'server' else '/O=system:masters/CN=%s' % cn
        run('req', *ec, '-keyout', files['%s_file' % ('key' if name == 'server' else 'client_key')],
            '-out', csr, '-subj', subj)
        run('x509', '-req', '-in', csr, '-CA', files['ca_file'], '-CAkey', files['ca_key'], '-CAcreateserial',
            '-days', '3650', '-out', files['cert_file' if name == 'server' else 'client_cert_file'],
            '-extfile', ext)
    for f in (files['key_file'], files['client_key_file'], files['ca_key']):
        os.chmod(f, 0o600)
    return files


def kubeconfig_text(url, ca_file, token=None, token_file=None, client_cert=None, client_key=None,
                    name='fake-apiserver', namespace='default'):
    """A kubeconfig (YAML) for the fake server. With token_file, client-go's tokenFile is set too
    (kubectl re-reads it); client-node only reads the inline token."""
    def q(s):
        return json.dumps(s)
    user = []
    if token:
        user.append('    token: %s' % q(token))
    if token_file:
        user.append('    tokenFile: %s' % q(token_file))
    if client_cert:
        user.append('    client-certificate: %s' % q(client_cert))
        user.append('    client-key: %s' % q(client_key))
    return '\n'.join([
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: %s' % name,
        '  cluster:',
        '    server: %s' % q(url),
        '    certificate-authority: %s' % q(ca_file),
        'users:',
        '- name: %s-user' % name,
        '  user:',
    ] + (user or ['    {}']) + [
        'contexts:',
        '- name: %s' % name,
        '  context:',
        '    cluster: %s' % name,
        '    user: %s-user' % name,
        '    namespace: %s' % namespace,
        'current-context: %s' % name,
        'preferences: {}',
        '',
    ])


def load_seed(cluster, path):
    """Seed file: JSON. A list of objects, {"items": [...]} (a v1 List), or
    {"objects": [...], "ops": [...], "tokens": [{"token","user","allow"}]}; objects are full
    Kubernetes objects with kind; ops are control operations (see run_control_op)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        data = {'objects': data}
    objs = list(data.get('objects') or []) + list(data.get('items') or [])
    for o in objs:
        cluster.apply(o)
    for op in data.get('ops') or []:
        run_control_op(cluster, op)
    for t in data.get('tokens') or []:
        cluster.add_token(t['token'], t.get('user', 'test-user'), t.get('allow', ['*']), t.get('groups', []))
    return len(objs)
