"""A network namespace of its own, for a grader's fixture and the sandboxed code, and nothing else.

The namespace has only a loopback interface: a fixture server started in it with ``spawn`` is
reachable from code run with ``run_python(..., netns=ns)``, and neither can reach the host's network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from types import TracebackType
from typing import Any

from .result import SandboxUnavailable


class NetworkNamespace:
    """``with NetworkNamespace() as ns``: a fresh named netns (``ip netns add``), lo up, deleted on exit."""

    def __init__(self) -> None:
        self.name = f"studyapp-sb-{uuid.uuid4().hex[:12]}"
        self.path = f"/run/netns/{self.name}"
        self._fd: int | None = None
        self._procs: list[subprocess.Popen[Any]] = []

    @property
    def fd(self) -> int:
        """An open descriptor of the namespace, used to join it (setns) before the sandbox starts."""
        if self._fd is None:
            raise RuntimeError("the network namespace is not open; use it as a context manager")
        return self._fd

    def __enter__(self) -> NetworkNamespace:
        if os.geteuid() != 0:
            raise SandboxUnavailable("creating a network namespace needs root")
        if shutil.which("ip") is None:
            raise SandboxUnavailable("ip (iproute2) is not installed: apt-get install iproute2")
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self._ip("netns", "delete", self.name, check=False)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def spawn(self, args: list[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start a trusted helper (e.g. a grader's fixture server, never learner code) inside the namespace.

        Returns the Popen; the helper is killed when the namespace is closed if it is still running.
        """
        cmd = ["nsenter", f"--net={self.path}", "--", *args]
        proc = subprocess.Popen(cmd, **popen_kwargs)
        self._procs.append(proc)
        return proc

    def close(self) -> None:
        """Kill helpers still running, then delete the namespace."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._ip("netns", "delete", self.name, check=False)

    def _ip(self, *args: str, check: bool = True) -> None:
        done = subprocess.run(["ip", *args], capture_output=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        if check and done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise SandboxUnavailable(f"ip {' '.join(args)} failed: {message}")
