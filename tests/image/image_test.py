#!/usr/bin/env python3
"""The container image (image/build) running the gateway on the virtual node under podman.

  image_test.py build-and-run   builds the image, checks that its binaries start, and runs the
                                congestion test (priority vs FIFO, tests/integration) with the
                                gateway in a container (host network) holding only the
                                capabilities the DaemonSet grants it.
  image_test.py capabilities    drops each of those capabilities in turn: the gateway must fail
                                to start on the virtual node without any one of them.

Both build the image first (podman's layer cache makes a second build quick). Needs root and
podman; exits 77 (meson's "skipped") otherwise. Last line: "N passed, M failed".
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_BUILD = os.path.join(REPO_ROOT, "image", "build")
DAEMONSET = os.path.join(REPO_ROOT, "configs", "kubernetes", "daemonset.yaml")
PODMAN_GATEWAY = os.path.join(REPO_ROOT, "tests", "image", "podman_gateway")
CONGESTION_TEST = os.path.join(REPO_ROOT, "tests", "integration", "congestion_test.py")
VIRTUAL_NODE = os.path.join(REPO_ROOT, "perf", "virtual_node.py")
PODMAN = ["podman", "--runtime", "runc"]


def gateway_capabilities() -> list[str]:
    """The capabilities the DaemonSet adds to the gateway container: the test proves exactly those."""
    with open(DAEMONSET) as f:
        for document in yaml.safe_load_all(f):
            if document and document.get("kind") == "DaemonSet":
                for container in document["spec"]["template"]["spec"]["containers"]:
                    if container["name"] == "gateway":
                        return container["securityContext"]["capabilities"]["add"]
    raise RuntimeError(f"no gateway container in a DaemonSet of {DAEMONSET}")


def build_image(tag: str) -> None:
    started = time.monotonic()
    subprocess.run([IMAGE_BUILD, "--tag", tag], check=True, stdin=subprocess.DEVNULL)
    print(f"image built in {time.monotonic() - started:.0f} s", flush=True)


def container_env(tag: str, capabilities: list[str], label: str) -> dict:
    return dict(os.environ, DSCP_GATEWAY_IMAGE=tag, DSCP_GATEWAY_CAPABILITIES=",".join(capabilities),
                DSCP_GATEWAY_CONTAINER_LABEL=label)


def remove_containers(label: str) -> None:
    """Containers whose podman process was SIGKILLed outlive it; none may keep the uplink."""
    r = subprocess.run(PODMAN + ["ps", "-aq", "--filter", f"label={label}"], capture_output=True, text=True)
    ids = r.stdout.split()
    if ids:
        subprocess.run(PODMAN + ["rm", "-f"] + ids, capture_output=True)


def check_binaries_start(tag: str) -> list[str]:
    """Every installed binary starts: a runtime library the image lacks fails here by name."""
    failures = []
    for entrypoint, argument in (("dscp-gateway", "--version"), ("dscpctl", "--help")):
        env = dict(container_env(tag, [], "dscp-gateway-image-test"), DSCP_GATEWAY_ENTRYPOINT=entrypoint)
        r = subprocess.run([PODMAN_GATEWAY, argument], env=env, capture_output=True, text=True, timeout=60)
        print(f"check: {entrypoint} {argument} in the image exits {r.returncode}", flush=True)
        if r.returncode != 0:
            failures.append(f"{entrypoint} {argument} exited {r.returncode} in the image: {r.stderr.strip()[-500:]}")
    return failures


def build_and_run(args) -> list[str]:
    build_image(args.tag)
    failures = check_binaries_start(args.tag)
    if failures:
        return failures
    label = f"dscp-gateway-image-test-{os.getpid()}"
    try:
        # The container runs `run` only: `node attach` writes /proc/sys, which a container
        # without privileges sees read-only (docs/kubernetes.md, "Capabilities").
        r = subprocess.run([sys.executable, CONGESTION_TEST, "--gateway-binary", PODMAN_GATEWAY,
                            "--plumbing", "legacy"],
                           env=container_env(args.tag, gateway_capabilities(), label), stdin=subprocess.DEVNULL)
    finally:
        remove_containers(label)
    return [] if r.returncode == 0 else [f"the congestion test failed with the gateway in the image (exit {r.returncode})"]


def gateway_starts(tag: str, capabilities: list[str], label: str) -> tuple[bool, str]:
    """(whether the gateway came up on the virtual node, the virtual node's error output)."""
    workdir = tempfile.mkdtemp(prefix="dscp-gw-image-caps-")
    try:
        r = subprocess.run([sys.executable, VIRTUAL_NODE, "--gateway-binary", PODMAN_GATEWAY, "--modes", "priority",
                            "--plumbing", "legacy",
                            "--duration", "1", "--no-flood", "--json-out", os.path.join(workdir, "result.json")],
                           env=container_env(tag, capabilities, label), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=180)
    finally:
        remove_containers(label)
        shutil.rmtree(workdir, ignore_errors=True)
    return r.returncode == 0, r.stderr


def capabilities(args) -> list[str]:
    build_image(args.tag)
    granted = gateway_capabilities()
    label = f"dscp-gateway-image-test-{os.getpid()}"
    failures = []
    started, output = gateway_starts(args.tag, granted, label)
    print(f"check: with {','.join(granted)} the gateway starts: {started}", flush=True)
    if not started:
        return [f"the gateway does not start with all of {granted}:\n{output[-2000:]}"]
    for dropped in granted:
        kept = [c for c in granted if c != dropped]
        started, output = gateway_starts(args.tag, kept, label)
        print(f"check: without {dropped} the gateway fails to start: {not started}", flush=True)
        # How it fails (the first lines naming the refusal), as docs/kubernetes.md's table says.
        reason = [line for line in output.splitlines()
                  if any(k in line for k in ("not permitted", "Failed", "exited with"))]
        print("    " + "\n    ".join(reason[:4]), flush=True)
        if started:
            failures.append(f"the gateway runs without {dropped}: drop it from the DaemonSet")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["build-and-run", "capabilities"])
    ap.add_argument("--tag", default="localhost/dscp-gateway:test", help="image tag to build and run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the image test needs root (podman, network namespaces, AF_XDP, hugepages)")
        return 77
    missing = [t for t in ("podman", "mmdebstrap", "runc") if shutil.which(t) is None]
    if missing:
        print(f"SKIP: missing {', '.join(missing)} (.ci/setup installs them)")
        return 77
    try:
        failures = build_and_run(args) if args.what == "build-and-run" else capabilities(args)
    except Exception as e:  # a failure with a message, not a traceback
        failures = [f"{type(e).__name__}: {e}"]
    for f in failures:
        print(f"FAIL: {f}")
    print("0 passed, 1 failed" if failures else "1 passed, 0 failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
