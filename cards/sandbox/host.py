"""Where the sandbox's pieces live on the host, and the check that they are all there.

The layout is made by scripts/install_sandbox.sh; the app passes where it is (config.SandboxConfig,
from its SANDBOX_* settings).
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import config
from .result import SandboxUnavailable

INTERPRETER = "/usr/bin/python3.11"
INSTALL_HINT = "run scripts/install_sandbox.sh as root"
HELPER_SOURCE = Path(__file__).with_name("sandbox_exec.c")


@dataclass(frozen=True)
class HostLayout:
    """Paths and ids the sandbox uses on the host."""

    root: Path
    bwrap: str
    uid_base: int
    uid_count: int
    lock_dir: Path

    @property
    def venv(self) -> Path:
        """The world-readable venv with httpx and requests, bound read-only at the same path."""
        return self.root / "venv"

    @property
    def python(self) -> str:
        """The sandbox's interpreter, as seen inside and outside the sandbox."""
        return str(self.venv / "bin" / "python")

    @property
    def exec_helper(self) -> Path:
        """sandbox-exec, built from cards/sandbox/sandbox_exec.c by the install script."""
        return self.root / "bin" / "sandbox-exec"

    @property
    def mount_dir(self) -> Path:
        """An empty directory that each run covers with its own tmpfs, in its own mount namespace."""
        return self.root / "mnt"

    @functools.cache  # noqa: B019 - a handful of frozen layouts per process
    def read_only_binds(self) -> tuple[str, ...]:
        """Host paths bound read-only: the interpreter, its standard library and shared libraries, the venv."""
        real = os.path.realpath(self.python)
        candidates = [real, "/usr/lib/python3.11", *sorted(glob.glob("/usr/lib/*-linux-gnu")), "/usr/lib64"]
        return tuple(p for p in dict.fromkeys(candidates) if os.path.exists(p)) + (str(self.venv),)


def layout(settings: config.SandboxConfig | None = None) -> HostLayout:
    """The host layout of `settings`, by default the configured one (config.current())."""
    c = settings or config.current()
    return HostLayout(
        root=Path(c.root),
        bwrap=shutil.which("bwrap") or "",
        uid_base=c.uid_base,
        uid_count=c.uid_count,
        lock_dir=Path(c.lock_dir),
    )


def check_static(host: HostLayout) -> None:
    """Raise SandboxUnavailable naming the first missing piece (cheap checks only)."""
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the sandbox must be started as root: it switches to a dedicated uid, sets cgroups and mounts "
            "a private /tmp (run the worker as root inside its container)"
        )
    if not host.bwrap:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    if not os.access(host.python, os.X_OK) or not os.path.exists(os.path.realpath(host.python)):
        raise SandboxUnavailable(f"the sandbox interpreter {host.python} is missing: {INSTALL_HINT}")
    problem = _helper_problem(str(host.exec_helper))
    if problem:
        raise SandboxUnavailable(problem)
    if not host.mount_dir.is_dir():
        raise SandboxUnavailable(f"{host.mount_dir} is missing: {INSTALL_HINT}")
    if not os.path.exists("/proc/self/ns/user"):
        raise SandboxUnavailable("the kernel has no user namespaces (CONFIG_USER_NS)")


_helpers_ok: set[str] = set()


def _helper_problem(helper: str) -> str | None:
    """Why sandbox-exec cannot be used (missing, or built from another version of its source), or None.

    Remembered per process once fine: the install script replaces it only between deployments.
    """
    if helper in _helpers_ok:
        return None
    if not os.access(helper, os.X_OK):
        return f"{helper} is missing: {INSTALL_HINT}"
    try:
        installed = Path(f"{helper}.c").read_bytes()
    except OSError:
        installed = b""
    if installed != HELPER_SOURCE.read_bytes():
        return f"{helper} was built from another version of cards/sandbox/sandbox_exec.c: {INSTALL_HINT}"
    _helpers_ok.add(helper)
    return None


@functools.cache
def _probe(bwrap: str, uid: int) -> str | None:
    """Run bwrap once as the sandbox uid; None when it works, else why not. Cached per process when it works."""
    cmd = [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
        bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "/usr/bin/true",  # noqa: S108 - inside the sandbox
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
    return None


def check_available(host: HostLayout | None = None) -> HostLayout:
    """Return the host layout if the sandbox can run here, else raise SandboxUnavailable saying why."""
    host = host or layout()
    check_static(host)
    problem = _probe(host.bwrap, host.uid_base)
    if problem is not None:
        _probe.cache_clear()  # a later call may find namespaces allowed again
        raise SandboxUnavailable(
            "bubblewrap cannot create namespaces as the sandbox uid (unprivileged user namespaces must be "
            f"allowed; in Docker: seccomp and AppArmor unconfined, or --privileged): {problem}"
        )
    return host
