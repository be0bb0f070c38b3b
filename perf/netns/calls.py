"""Calls made from inside a namespace without a subprocess: a thread that joined it
(setns), plus the HTTP and port helpers tests run through it."""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import socket
import threading
from typing import Any, Callable

from .common import Failure

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _enter_netns(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python >= 3.12
            os.setns(fd, CLONE_NEWNET)
        elif _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(name: str, fn: Callable[..., Any], *args, timeout: float = 15.0, **kwargs) -> Any:
    """Runs fn in a fresh thread that has joined network namespace `name` (setns affects
    only the calling thread, so the rest of the process stays where it is). Sockets fn
    creates live in that namespace. Exceptions propagate; a hang raises Failure."""
    box: dict = {}

    def run():
        try:
            _enter_netns(name)
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=run, name=f"netns-{name}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise Failure(f"call in namespace {name} did not return within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class HttpReply:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise Failure(f"not JSON ({e}): {self.text[:300]!r}") from None


def http_request(host: str, port: int, path: str, method: str = "GET", timeout: float = 5.0) -> HttpReply:
    """One request on a fresh connection; call it through in_netns for a namespace's loopback."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        body = r.read()
        return HttpReply(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (call it through in_netns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
