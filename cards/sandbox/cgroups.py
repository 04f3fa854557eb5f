"""A cgroup of its own for each run: memory and pids limits, CPU and memory accounting, emptiness.

cgroup v1 (memory, pids, cpuacct hierarchies, as on this machine) and v2 (one unified hierarchy) are
both handled. Each run's group is made under the cgroup the worker itself is in (or SANDBOX_CGROUP_PARENT
on v2, which must be a delegated group with the memory and pids controllers enabled). Where no usable
hierarchy exists, runs go on with rlimits only and the result says cgroups=False.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import config

V1_CONTROLLERS = ("memory", "pids", "cpuacct")
PREFIX = "studyapp-sandbox-"


@functools.cache
def _discover(pid: int) -> tuple[dict[str, Path], Path | None, dict[str, str]]:
    """Mount points and this process's cgroup paths, once per process (``pid`` keys forked workers)."""
    v1, v2 = _mounts()
    return v1, v2, _own_paths()


def _mounts() -> tuple[dict[str, Path], Path | None]:
    """(v1 controller -> mount point, v2 mount point) from /proc/self/mountinfo."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fstype, _source, options = (right.split() + ["", "", ""])[:3]
            mount_point = Path(left.split()[4])
            if fstype == "cgroup":
                for option in options.split(","):
                    if option in V1_CONTROLLERS:
                        v1.setdefault(option, mount_point)
            elif fstype == "cgroup2" and v2 is None:
                v2 = mount_point
    return v1, v2


def _own_paths() -> dict[str, str]:
    """Controller (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _write(path: str | Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: str, key: str) -> int | None:
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
        for line in lines:
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


@dataclass
class RunCgroup:
    """The cgroup(s) of one run. ``procs_files`` are written with the child's pid before it execs."""

    version: int
    dirs: dict[str, str] = field(default_factory=dict)
    _cpu_fd: int | None = None
    _emptied: bool = False  # nothing can join a group once its run's tree is gone

    @property
    def procs_files(self) -> tuple[str, ...]:
        return tuple(f"{d}/cgroup.procs" for d in self.dirs.values())

    def _dir(self, controller: str) -> str | None:
        return self.dirs.get("" if self.version == 2 else controller)

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process that was ever in the group (polled often: one pread)."""
        d = self._dir("cpuacct" if self.version == 1 else "")
        if d is None:
            return None
        try:
            if self._cpu_fd is None:
                self._cpu_fd = os.open(f"{d}/{'cpuacct.usage' if self.version == 1 else 'cpu.stat'}", os.O_RDONLY)
            text = os.pread(self._cpu_fd, 4096, 0).decode()
        except OSError:
            return None
        if self.version == 1:
            return int(text.split()[0]) / 1e9
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "usage_usec":
                return int(value) / 1e6
        return None

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this group."""
        d = self._dir("memory")
        if d is None:
            return False
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return (_read_keyed(f"{d}/{name}", "oom_kill") or 0) > 0

    def memory_peak(self) -> int | None:
        """Peak memory of the group in bytes, where the kernel reports it."""
        d = self._dir("memory")
        if d is None:
            return None
        return _read_int(f"{d}/{'memory.max_usage_in_bytes' if self.version == 1 else 'memory.peak'}")

    def pids_limit_hit(self) -> bool:
        """Whether a fork or thread creation was refused by the pids limit."""
        d = self._dir("pids")
        return d is not None and (_read_keyed(f"{d}/pids.events", "max") or 0) > 0

    def is_empty(self) -> bool:
        """True when no process is left in the group (the run is really over)."""
        for procs in self.procs_files:
            try:
                with open(procs) as fh:
                    if fh.read(1):
                        return False
            except FileNotFoundError:
                continue
        return True

    def kill_all(self) -> None:
        """SIGKILL every process of the group (v2: cgroup.kill; v1: each pid listed)."""
        if self.version == 2 and os.path.exists(f"{self.dirs['']}/cgroup.kill"):
            with contextlib.suppress(OSError):
                _write(f"{self.dirs['']}/cgroup.kill", "1")
            return
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                for pid in Path(procs).read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the group has no process left; kill what remains halfway through."""
        if self._emptied:
            return True
        deadline = time.monotonic() + timeout
        delay = 0.0005
        killed = False
        while not self.is_empty():
            now = time.monotonic()
            if now > deadline:
                return False
            if not killed and now > deadline - timeout / 2:
                self.kill_all()
                killed = True
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        self._emptied = True
        return True

    def remove(self) -> None:
        """Remove the group's directories (they must be empty of processes)."""
        if self._cpu_fd is not None:
            os.close(self._cpu_fd)
            self._cpu_fd = None
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task is being torn down
                    time.sleep(0.002)


def create(memory_bytes: int, max_processes: int) -> RunCgroup | None:
    """Make a run's cgroup with its limits set, or None where no cgroup can be made."""
    try:
        v1, v2, own = _discover(os.getpid())
        _sweep_once(os.getpid())
        # The creator's pid in the name lets a later worker remove groups left by one that died.
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        if "memory" in v1 and "pids" in v1:
            return _create_v1(v1, own, name, memory_bytes, max_processes)
        if v2 is not None:
            return _create_v2(v2, own, name, memory_bytes, max_processes)
    except OSError:
        return None
    return None


def _create_v1(
    mounts: dict[str, Path], own: dict[str, str], name: str, memory_bytes: int, max_processes: int
) -> RunCgroup:
    group = RunCgroup(version=1)
    try:
        for controller in V1_CONTROLLERS:
            if controller not in mounts:
                continue
            d = mounts[controller] / own.get(controller, "/").lstrip("/") / name
            d.mkdir()
            group.dirs[controller] = str(d)
        memory = group.dirs["memory"]
        _write(f"{memory}/memory.limit_in_bytes", str(memory_bytes))
        if os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"):  # no swapping out of the limit
            _write(f"{memory}/memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(f"{group.dirs['pids']}/pids.max", str(max_processes))
    except OSError:
        group.remove()
        raise
    return group


def _create_v2(mount: Path, own: dict[str, str], name: str, memory_bytes: int, max_processes: int) -> RunCgroup:
    parent = Path(config.current().cgroup_parent or mount / own.get("", "/").lstrip("/"))
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    if "memory" not in enabled or "pids" not in enabled:
        raise OSError("memory and pids controllers are not enabled for child cgroups")
    d = parent / name
    d.mkdir()
    group = RunCgroup(version=2, dirs={"": str(d)})
    try:
        _write(d / "memory.max", str(memory_bytes))
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", "0")
        _write(d / "pids.max", str(max_processes))
    except OSError:
        group.remove()
        raise
    return group


def _parents() -> list[str]:
    """The directories under which this process makes its runs' groups."""
    v1, v2, own = _discover(os.getpid())
    if "memory" in v1 and "pids" in v1:
        return [str(v1[c] / own.get(c, "/").lstrip("/")) for c in V1_CONTROLLERS if c in v1]
    if v2 is not None:
        return [config.current().cgroup_parent or str(v2 / own.get("", "/").lstrip("/"))]
    return []


def sweep_stale() -> list[str]:
    """Remove empty run groups whose creating worker is dead (it was killed mid-run); return them."""
    removed = []
    for parent in _parents():
        try:
            names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
        except OSError:
            continue
        for name in names:
            creator = name[len(PREFIX) :].split("-", 1)[0]
            if not creator.isdigit() or _alive(int(creator)):
                continue
            with contextlib.suppress(OSError):  # busy (processes left) or already gone
                os.rmdir(f"{parent}/{name}")
                removed.append(f"{parent}/{name}")
    return removed


@functools.cache
def _sweep_once(pid: int) -> None:
    sweep_stale()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
