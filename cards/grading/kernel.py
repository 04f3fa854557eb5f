"""What the kernel says about a sandboxed process, read from outside the sandbox.

The learner's process can rewrite anything inside itself (globals, the harness,
clocks, descriptors), but not what the kernel keeps about it. This module reads
that, as root, from the grader's side:

- `read_thread(pid, tid)`: a thread's scheduler state (R/S/D...), the system call
  it is blocked in right now with its arguments (`/proc/PID/task/TID/syscall`),
  and its total time on a CPU (`schedstat`, nanoseconds, the scheduler's own count).
- `ThreadWatch`: samples one thread (the event loop's) every millisecond or so
  on a thread of the grader, and sums what it saw into `LoopTime`: time idle in
  the loop's own selector, time blocked in any other wait, time computing.
- `tree_threads(root)`: every thread of every process under a process (the
  sandbox's pid 1), with its CPU time, to tell CPU spent in the loop's process
  from CPU spent in child processes.

Which process and thread to watch comes from `Recorder.wait_ready()` in
measure.py: the harness announces itself *before* the learner's module is
imported, and the kernel vouches for the sender's pid (SCM_CREDENTIALS).

Django-free, like every grader. Linux only (x86_64 and aarch64 system call numbers).
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# System call numbers that mean "waiting" rather than working, per architecture.
_SYSCALLS: Mapping[str, Mapping[str, int]] = {
    "x86_64": {
        "read": 0,
        "poll": 7,
        "select": 23,
        "nanosleep": 35,
        "connect": 42,
        "accept": 43,
        "recvfrom": 45,
        "recvmsg": 47,
        "wait4": 61,
        "futex": 202,
        "clock_nanosleep": 230,
        "epoll_wait": 232,
        "pselect6": 270,
        "ppoll": 271,
        "epoll_pwait": 281,
        "accept4": 288,
        "epoll_pwait2": 441,
    },
    "aarch64": {
        "read": 63,
        "nanosleep": 101,
        "clock_nanosleep": 115,
        "connect": 203,
        "accept": 202,
        "recvfrom": 207,
        "recvmsg": 212,
        "wait4": 260,
        "futex": 98,
        "pselect6": 72,
        "ppoll": 73,
        "epoll_pwait": 22,
        "accept4": 242,
        "epoll_pwait2": 441,
    },
}
SYSCALL_NUMBERS: Mapping[str, int] = _SYSCALLS.get(platform.machine(), _SYSCALLS["x86_64"])
SYSCALL_NAMES: Mapping[int, str] = {number: name for name, number in SYSCALL_NUMBERS.items()}
EPOLL_WAITS = frozenset(
    SYSCALL_NUMBERS[n] for n in ("epoll_wait", "epoll_pwait", "epoll_pwait2") if n in SYSCALL_NUMBERS
)
RUNNING = -1  # /proc/.../syscall says "running": the thread is on a CPU, in user space or about to be


class KernelViewUnavailable(RuntimeError):
    """The kernel's view of the process cannot be read (no /proc, not root): grading must stop, not guess."""


@dataclass(frozen=True, slots=True)
class ThreadSample:
    """One reading of one thread: when (grader's monotonic clock), its state, its system call, its CPU time."""

    at: float
    state: str  # R running/runnable, S sleeping, D uninterruptible, Z/X gone, T stopped...
    syscall: int  # RUNNING (-1) when on a CPU; otherwise the number of the call it is in
    args: tuple[int, ...]
    cpu_ns: int  # schedstat: total time on a CPU, nanoseconds

    @property
    def syscall_name(self) -> str:
        if self.syscall == RUNNING:
            return "running"
        return SYSCALL_NAMES.get(self.syscall, f"syscall {self.syscall}")


def read_thread(pid: int, tid: int) -> ThreadSample | None:
    """One reading of thread `tid` of process `pid`, or None when it is gone."""
    base = f"/proc/{pid}/task/{tid}"
    at = time.monotonic()
    try:
        with open(f"{base}/stat", "rb") as f:
            stat = f.read()
        with open(f"{base}/syscall", "rb") as f:
            syscall = f.read().split()
        with open(f"{base}/schedstat", "rb") as f:
            cpu_ns = int(f.read().split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    except PermissionError as exc:
        raise KernelViewUnavailable(f"cannot read {base}: {exc} (grading needs root to watch the sandbox)") from exc
    # The command name (field 2) may hold spaces and parentheses: the state follows the last ")".
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3].decode() or "?"
    if not syscall or syscall[0] == b"running":
        number, args = RUNNING, ()
    else:
        try:
            number = int(syscall[0])
            args = tuple(int(a, 16) for a in syscall[1:7])
        except ValueError:  # "-1 sp pc": blocked, but not in a system call (e.g. a page fault)
            number, args = int(syscall[0]) if syscall[0].lstrip(b"-").isdigit() else RUNNING, ()
    return ThreadSample(at, state, number, args, cpu_ns)


def loop_epoll_fd(pid: int) -> int | None:
    """The lowest-numbered epoll descriptor of `pid` (asyncio makes its selector's first, before user code)."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return None
    found = []
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == "anon_inode:[eventpoll]":
                found.append(int(name))
        except OSError:
            continue
    return min(found) if found else None


@dataclass(frozen=True, slots=True)
class LoopTime:
    """How the loop's thread spent a window, from the kernel's view.

    `computing` is exact (the scheduler's own count of time on a CPU); `idle` and
    `blocked` are sampled (each sample stands for the time until the next), so
    they are as fine as the sampling. `blocked_by` names the system calls the
    thread waited in outside its selector, with the time spent in each;
    `longest_blocked` is the longest unbroken run of such samples.
    """

    window: float
    computing: float
    idle: float
    blocked: float
    blocked_by: Mapping[str, float] = field(default_factory=dict)
    longest_blocked: float = 0.0
    samples: int = 0
    exited: bool = False


def is_blocking_wait(sample: ThreadSample, loop_epfd: int | None) -> bool:
    """Does this sample show the thread waiting somewhere other than its own event loop's selector?

    A wait in the loop's epoll is the loop being idle. A zero-timeout poll returns at
    once and is not a wait. Anything else that sleeps (a sleep, a socket read, a lock,
    another epoll) holds the loop.
    """
    if sample.syscall == RUNNING or sample.state == "R":
        return False
    if sample.syscall in EPOLL_WAITS and sample.args and loop_epfd is not None and sample.args[0] == loop_epfd:
        return False
    name = SYSCALL_NAMES.get(sample.syscall)
    if name == "poll" and len(sample.args) > 2 and sample.args[2] == 0:
        return False  # poll(fds, n, 0): returns at once
    if name in ("epoll_wait", "epoll_pwait") and len(sample.args) > 3 and sample.args[3] == 0:
        return False
    return sample.state in ("S", "D")


def summarise(samples: list[ThreadSample], loop_epfd: int | None, start: float, end: float) -> LoopTime:
    """Sum the samples taken in [start, end] into a LoopTime."""
    inside = [s for s in samples if start <= s.at <= end]
    if not inside:
        return LoopTime(window=max(0.0, end - start), computing=0.0, idle=0.0, blocked=0.0)
    idle = blocked = longest = run = 0.0
    by: dict[str, float] = {}
    for sample, after in zip(inside, [*inside[1:], None], strict=True):
        span = (after.at if after else end) - sample.at
        if is_blocking_wait(sample, loop_epfd):
            blocked += span
            run += span
            longest = max(longest, run)
            by[sample.syscall_name] = by.get(sample.syscall_name, 0.0) + span
        else:
            run = 0.0
            if sample.syscall != RUNNING and sample.state != "R":
                idle += span
    computing = (inside[-1].cpu_ns - inside[0].cpu_ns) / 1e9
    return LoopTime(
        window=end - start,
        computing=computing,
        idle=idle,
        blocked=blocked,
        blocked_by=by,
        longest_blocked=longest,
        samples=len(inside),
    )


class ThreadWatch:
    """Samples one thread of a sandboxed process from a thread of the grader until stopped.

    Use as a context manager, or `start()` / `stop()`; `samples` holds the readings in order.
    The first reading is taken in `start()`, so a thread that cannot be read fails at once.
    """

    def __init__(self, pid: int, tid: int | None = None, interval: float = 0.001) -> None:
        self.pid = pid
        self.tid = tid if tid is not None else pid
        self.interval = interval
        self.samples: list[ThreadSample] = []
        self.exited = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grading-thread-watch", daemon=True)

    def start(self) -> ThreadWatch:
        first = read_thread(self.pid, self.tid)
        if first is None:
            self.exited = True
        else:
            self.samples.append(first)
            self._thread.start()
        return self

    def _run(self) -> None:
        wait = self._stop.wait
        while not wait(self.interval):
            sample = read_thread(self.pid, self.tid)
            if sample is None:
                self.exited = True
                return
            self.samples.append(sample)

    def stop(self) -> list[ThreadSample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        return self.samples

    def loop_time(self, loop_epfd: int | None, start: float, end: float) -> LoopTime:
        """What the watched thread did in [start, end] (grader's monotonic clock)."""
        summary = summarise(self.samples, loop_epfd, start, end)
        if self.exited:
            return LoopTime(**{**_as_dict(summary), "exited": True})
        return summary

    def __enter__(self) -> ThreadWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_dict(value: LoopTime) -> dict:
    return {name: getattr(value, name) for name in LoopTime.__slots__}


@dataclass(frozen=True, slots=True)
class ThreadCpu:
    """One thread of a process in the sandbox's tree, and its time on a CPU so far."""

    pid: int
    tid: int
    cpu_ns: int


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return out


def tree_pids(root: int) -> list[int]:
    """`root` and every process below it, parents before children."""
    seen, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.append(pid)
        queue += _children(pid)
    return seen


def tree_threads(root: int) -> list[ThreadCpu]:
    """Every thread of every process in the tree under `root`, with its CPU time (schedstat)."""
    out = []
    for pid in tree_pids(root):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    out.append(ThreadCpu(pid, int(tid), int(f.read().split()[0])))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    return out


class TreeCpuWatch:
    """Polls the tree under a process and keeps, per (pid, tid), the most CPU time seen.

    Processes that exit between polls lose what they did since the last poll, so the
    poll is frequent (10 ms) and a pool's workers, which live for the whole phase, are
    counted in full. `by_process(pid)` splits the total into the loop's process and the rest.
    """

    def __init__(self, root: int, interval: float = 0.01) -> None:
        self.root = root
        self.interval = interval
        self.cpu: dict[tuple[int, int], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grading-tree-watch", daemon=True)

    def poll(self) -> None:
        for t in tree_threads(self.root):
            key = (t.pid, t.tid)
            if t.cpu_ns > self.cpu.get(key, -1):
                self.cpu[key] = t.cpu_ns

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def start(self) -> TreeCpuWatch:
        self.poll()
        self._thread.start()
        return self

    def stop(self) -> Mapping[tuple[int, int], int]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.poll()
        return dict(self.cpu)

    def split(self, loop_pid: int, since: Mapping[tuple[int, int], int] | None = None) -> tuple[float, float]:
        """(seconds in threads of `loop_pid`, seconds in other processes), counted after `since`."""
        base = since or {}
        own = other = 0
        for (pid, tid), ns in self.cpu.items():
            spent = ns - base.get((pid, tid), 0)
            if pid == loop_pid:
                own += spent
            elif pid != self.root:
                other += spent
        return own / 1e9, other / 1e9

    def __enter__(self) -> TreeCpuWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parent_of(pid: int) -> int | None:
    """The parent pid of `pid` (field 4 of stat), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


def threads_of(pid: int) -> list[int]:
    """The thread ids of `pid` right now."""
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return []


def describe_waits(blocked_by: Mapping[str, float]) -> Iterable[str]:
    """'time.sleep (clock_nanosleep) 120 ms'-style words for feedback, longest first."""
    words = {
        "clock_nanosleep": "sleeping (time.sleep)",
        "nanosleep": "sleeping (time.sleep)",
        "poll": "waiting on a socket (a blocking read, as requests does)",
        "ppoll": "waiting on a socket",
        "select": "waiting in select()",
        "pselect6": "waiting in select()",
        "read": "a blocking read",
        "recvfrom": "a blocking socket read",
        "recvmsg": "a blocking socket read",
        "connect": "a blocking connect",
        "futex": "waiting on a lock, a thread or a future (e.g. .result() or join())",
        "wait4": "waiting for a child process",
        "epoll_wait": "waiting in an epoll other than the loop's",
        "epoll_pwait": "waiting in an epoll other than the loop's",
    }
    for name, seconds in sorted(blocked_by.items(), key=lambda kv: -kv[1]):
        yield f"{words.get(name, name)}: {round(seconds * 1000)} ms"
