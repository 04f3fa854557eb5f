"""What the forked child does, as root, before it execs bubblewrap as the run's unprivileged uid.

Runs between fork and exec (subprocess's preexec_fn), so it only makes system calls: no imports, no
locks, no logging. Steps: join the run's cgroups, join the grader's network namespace, take a private
mount namespace holding a fresh size- and inode-capped tmpfs for /tmp, set rlimits, drop to the run's
uid and gid with no supplementary groups, and ask to be killed if the worker dies.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)
_unshare = _libc.unshare
_unshare.argtypes = [ctypes.c_int]
_setns = _libc.setns
_setns.argtypes = [ctypes.c_int, ctypes.c_int]
_mount = _libc.mount
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildPlan:
    """Everything the child needs, computed in the parent so the child only makes system calls."""

    procs_files: tuple[str, ...]
    netns_fd: int | None
    mount_dir: bytes
    tmpfs_options: bytes
    rlimits: tuple[tuple[int, int, int], ...]
    uid: int
    gid: int
    parent_pid: int
    error_fd: int


def _check(step: str, result: int, error_fd: int) -> None:
    if result != 0:
        err = ctypes.get_errno()
        os.write(error_fd, f"{step}: {os.strerror(err)}".encode())
        raise OSError(err, step)


def make_setup(plan: ChildPlan) -> Callable[[], None]:
    """The preexec_fn for one run."""

    def setup() -> None:
        pid = str(os.getpid()).encode()
        try:
            for path in plan.procs_files:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
        except OSError as exc:
            os.write(plan.error_fd, f"joining the run's cgroup: {exc}".encode())
            raise
        if plan.netns_fd is not None:
            _check("joining the network namespace", _setns(plan.netns_fd, CLONE_NEWNET), plan.error_fd)
        _check("unsharing the mount namespace", _unshare(CLONE_NEWNS), plan.error_fd)
        _check("making mounts private", _mount(None, b"/", None, MS_REC | MS_PRIVATE, None), plan.error_fd)
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        _check("mounting /tmp", _mount(b"tmpfs", plan.mount_dir, b"tmpfs", flags, plan.tmpfs_options), plan.error_fd)
        for which, soft, hard in plan.rlimits:
            resource.setrlimit(which, (soft, hard))
        os.setgroups([])
        os.setresgid(plan.gid, plan.gid, plan.gid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
        # After the uid change, which clears it: the worker dying takes bubblewrap (and so the run) with it.
        _check("setting the parent-death signal", _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), plan.error_fd)
        if os.getppid() != plan.parent_pid:
            os._exit(1)

    return setup
