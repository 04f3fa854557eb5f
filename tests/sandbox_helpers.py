"""Helpers for the sandbox's attack suite: runs, host-side listeners and process-table checks.

Every check here looks at the host from outside the sandbox (the process table, listeners on the
host's loopback, files and mounts on the host); nothing trusts what the sandboxed code prints,
except that a secret it managed to read would show up in its output.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cards.sandbox import SandboxLimits, SandboxResult, run_python

FAST = SandboxLimits(wall_seconds=20, cpu_seconds=10)


def token() -> str:
    """A fresh random marker, also used as an argv item so the run's processes can be found."""
    return "canary" + secrets.token_hex(12)


def run(code: str, *, marker: str | None = None, files: dict[str, str] | None = None, **kwargs: Any) -> SandboxResult:
    """Run dedented ``code`` as main.py; ``marker`` goes on argv; ``limits`` keyword fields tighten FAST."""
    limit_fields = {k: kwargs.pop(k) for k in list(kwargs) if k in SandboxLimits.__dataclass_fields__}
    limits = kwargs.pop("limits", FAST)
    if limit_fields:
        limits = SandboxLimits(**{**limits.to_dict(), **limit_fields})
    all_files = {"main.py": textwrap.dedent(code), **(files or {})}
    args = [marker] if marker else []
    return run_python(all_files, entry="main.py", args=args, limits=limits, **kwargs)


def pids_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (bubblewrap's and every sandboxed process's)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status of a host process as a dict."""
    with open(f"/proc/{pid}/status") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def assert_tree_gone(marker: str) -> None:
    """No process of the run is left on the host once its result is back."""
    assert pids_with(marker) == [], "a process of the run outlived its result"


@dataclass
class HostListener:
    """TCP and UDP listeners on the host's loopback (IPv4 and IPv6) and an abstract Unix socket.

    ``hits`` records every connection or datagram that arrives.
    """

    hits: list[str] = field(default_factory=list)
    tcp_port: int = 0
    udp_port: int = 0
    abstract_name: str = ""
    unix_path: str = ""
    _socks: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, unix_dir: str) -> HostListener:
        tcp = socket.create_server(("127.0.0.1", 0))
        self.tcp_port = tcp.getsockname()[1]
        tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        tcp6.bind(("::1", self.tcp_port))
        tcp6.listen()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        self.udp_port = udp.getsockname()[1]
        self.abstract_name = "studyapp-" + secrets.token_hex(8)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind("\0" + self.abstract_name)
        abstract.listen()
        self.unix_path = os.path.join(unix_dir, "host.sock")
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(self.unix_path)
        unix.listen()
        self._socks = [tcp, tcp6, udp, abstract, unix]
        for sock in self._socks:
            sock.settimeout(0.1)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                if sock.type == socket.SOCK_DGRAM:
                    data, peer = sock.recvfrom(65536)
                    self.hits.append(f"udp {peer} {data[:40]!r}")
                else:
                    conn, peer = sock.accept()
                    self.hits.append(f"{sock.family.name} {peer}")
                    conn.close()
            except (TimeoutError, OSError):
                continue

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:  # each notices the stop within its socket's 0.1 s timeout
            thread.join(timeout=5)
            assert not thread.is_alive(), "a host listener thread did not stop"
        for sock in self._socks:
            sock.close()


@contextlib.contextmanager
def held_run(code: str, marker: str, **kwargs: Any) -> Iterator[tuple[list[int], Future[SandboxResult]]]:
    """Start a run whose code blocks reading fd RELEASE_FD; yield its host pids while it is held.

    The code must call ``wait_release()`` (defined for it) where it should pause. The run is released
    when the block ends.
    """
    release_r, release_w = os.pipe()
    prelude = f"import os\nRELEASE_FD = {release_r}\ndef wait_release():\n    os.read(RELEASE_FD, 1)\n"
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(run, prelude + textwrap.dedent(code), marker=marker, pass_fds=(release_r,), **kwargs)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not future.done():
            if any(blocked_reading(pid, release_r) for pid in python_pids(pids_with(marker))):
                break  # the code has run up to wait_release()
            time.sleep(0.01)
        yield pids_with(marker), future
    finally:
        os.write(release_w, b"x" * 64)
        os.close(release_w)
        future.result(timeout=30)
        os.close(release_r)
        pool.shutdown()


def blocked_reading(pid: int, fd: int) -> bool:
    """Whether host process ``pid`` is blocked in read(2) on descriptor ``fd`` (from /proc/PID/syscall)."""
    try:
        with open(f"/proc/{pid}/syscall") as fh:
            fields = fh.read().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == "0" and int(fields[1], 16) == fd


def _is_python(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("python")
    except OSError:
        return False


def python_pids(pids: list[int]) -> list[int]:
    """The sandboxed Python processes among ``pids`` (not bubblewrap's)."""
    return [pid for pid in pids if _is_python(pid)]
