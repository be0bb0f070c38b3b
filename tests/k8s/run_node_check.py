#!/usr/bin/env python3
"""Runs a Node.js check script from tests/k8s with the pinned packages installed.

Usage: run_node_check.py SCRIPT.mjs [ARGS...]. Runs `npm ci` first when
tests/k8s/node_modules lacks a package the lock file pins; exits 77 (skip) when there is
no node/npm at all.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def packages_missing():
    with open(os.path.join(HERE, 'package.json')) as package_file:
        wanted = json.load(package_file).get('dependencies', {})
    return [name for name in wanted
            if not os.path.exists(os.path.join(HERE, 'node_modules', name, 'package.json'))]


def main():
    if shutil.which('node') is None:
        print('skip: node is not installed')
        return 77
    missing = packages_missing()
    if missing:
        if shutil.which('npm') is None:
            print('skip: npm is not installed and node_modules lacks ' + ', '.join(missing))
            return 77
        print('npm ci (missing: %s)' % ', '.join(missing), flush=True)
        subprocess.run(['npm', 'ci', '--no-audit', '--no-fund'], cwd=HERE, check=True)
    return subprocess.run(['node'] + sys.argv[1:], cwd=HERE).returncode


if __name__ == '__main__':
    sys.exit(main())
