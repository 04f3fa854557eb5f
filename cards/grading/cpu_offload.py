"""Grader `cpu_offload`: CPU-bound work inside an async handler must leave the event loop's process.

The learner writes `async def handle(seed, rounds)` returning `work.crunch(seed,
rounds)` (pure-Python CPU work the harness provides). The harness creates its
event loop, announces itself (`_events.ready()`, the kernel vouches for its pid),
and only then imports the learner's module and calls `handle` for several seeds
at once. Nothing the sandboxed process says carries the verdict; it rests on:

- the expected results, computed by the grader outside the sandbox (same
  interpreter, same `work.py`), which also measures what one call costs in CPU
  time (`per_call`);
- the kernel's CPU accounting of every process in the sandbox, polled from the
  grader's side from the handshake until the run is over (`TreeTimeline`): CPU in
  the loop's process (its loop thread and every other thread, exited ones
  included) against CPU in other processes;
- what the loop's own thread was doing, sampled from /proc every few ms
  (`kernel.ThreadWatch`): idle in its loop's epoll, computing, or blocked in
  some other wait, and how much work other processes did while it was blocked.

It passes when every result is right, the loop's process spent less CPU than
half of one call (the work ran in other processes, not on the loop and not in
its threads, which share the GIL with the loop), the loop's thread did not sit
in a blocking wait while half a call's work or more was done elsewhere (a
`.result()` on a pool's future), and the CPU time the results need was in fact
spent somewhere. All of it is CPU time, which load does not inflate the way it
inflates wall time, so a verdict does not change with the machine's load.

Params (all optional): calls (number of concurrent calls, default 3), rounds
(crunch rounds per call, default 2000000, about 0.25 s of CPU here), interval
(seconds between the in-process watchdog's looks at the loop thread's line, which
only feed the feedback; default 0.05), timeout (seconds for all calls, default 20), limits (sandbox limit
overrides).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import kernel
from .base import Check, GradingError, Verdict
from .measure import HARNESS_DIR, Handshake, Run, join_lines, ms, require_params, run_harness, with_output

PARAMS = {
    "calls": (int, 3),
    "rounds": (int, 2_000_000),
    "interval": (float, 0.05),
    "timeout": (float, 20.0),
    "limits": (dict, {}),
}
DEFAULT_LIMITS = {"cpu_seconds": 20, "wall_seconds": 30, "max_processes": 64}
# Shares of one call's CPU time (measured by the grader): what the loop's process may spend itself, and
# how much work other processes may do while the loop's thread sits in a blocking wait.
OWN_CPU_SHARE = 0.6
BLOCKED_WORK_SHARE = 0.6
# The CPU the results need must show up somewhere: less than this share of it means a shortcut.
MIN_WORK_SHARE = 0.5
EXPECTED_TIMEOUT = 120.0
# The loop thread's samples must come at least this often on average, or blocking waits could slip between.
MAX_MEAN_SAMPLE_GAP = 0.1
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------
# Trusted evidence shared with gil_parallelism: expected results, and CPU time per process over time.


@dataclass(frozen=True, slots=True)
class Expected:
    """crunch() results computed outside the sandbox, and the CPU time each call took there."""

    results: list[int]
    cpu_seconds: list[float]

    @property
    def per_call(self) -> float:
        return sum(self.cpu_seconds) / len(self.cpu_seconds)

    @property
    def total(self) -> float:
        return sum(self.cpu_seconds)


_EXPECTED_SCRIPT = """
import json, sys, time
namespace = {}
exec(compile(open(sys.argv[1]).read(), "work.py", "exec"), namespace)
crunch = namespace["crunch"]
out = []
for seed, rounds in json.loads(sys.stdin.read()):
    start = time.thread_time()
    value = crunch(seed, rounds)
    out.append([value, time.thread_time() - start])
print(json.dumps(out))
"""


class ExpectedJob:
    """Computes crunch() for the jobs in a process of the grader's own, outside the sandbox.

    It uses the sandbox's interpreter (so one call costs the same CPU time as in the
    sandbox) and the very work.py the sandbox gets. Started before the sandbox run and
    collected after it, so the two overlap in time.
    """

    def __init__(self, jobs: Sequence[tuple[int, int]]) -> None:
        from cards.sandbox import layout

        python = layout().python
        if not os.path.exists(python):
            python = "/usr/bin/python3.11"
        try:
            self._proc = subprocess.Popen(
                [python, "-I", "-S", "-c", _EXPECTED_SCRIPT, str(HARNESS_DIR / "work.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        except OSError as exc:
            raise GradingError(f"could not start the computation of the expected results: {exc}") from exc
        self._jobs = json.dumps([list(job) for job in jobs]).encode()

    def result(self) -> Expected:
        try:
            out, err = self._proc.communicate(self._jobs, timeout=EXPECTED_TIMEOUT)
            if self._proc.returncode != 0:
                tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {self._proc.returncode}"]
                raise GradingError(f"computing the expected results failed: {tail[0]}")
            pairs = json.loads(out)
            return Expected([int(v) for v, _ in pairs], [max(float(s), 1e-6) for _, s in pairs])
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise GradingError("computing the expected results took too long; try again") from None
        except (ValueError, TypeError) as exc:
            raise GradingError(f"computing the expected results failed: {exc}") from exc

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(OSError, ValueError):
            self._proc.communicate()


def _process_cpu_ns(pid: int, threads: dict[tuple[int, int], int] | None = None) -> tuple[int, int] | None:
    """(start time, CPU time in ns) of process `pid`, every thread it ever had included; None if gone.

    /proc/PID/stat's utime+stime count exited threads too (in clock ticks); the live
    threads' schedstat is exact: the larger of the two is kept.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except PermissionError as exc:
        raise kernel.KernelViewUnavailable(f"cannot read /proc/{pid}/stat: {exc} (grading needs root)") from exc
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        start = int(fields[19])  # starttime (field 22): tells a reused pid from the old process
    except (IndexError, ValueError):
        return None
    live = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        tids = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        live += ns
        if threads is not None:
            key = (pid, int(tid))
            if ns > threads.get(key, -1):
                threads[key] = ns
    return start, max(live, ticks * 1_000_000_000 // _CLK_TCK)


@dataclass
class TreeTimeline:
    """CPU time of every process under the sandbox's pid 1, polled from outside every `interval` seconds.

    `snaps` holds (grader's monotonic time, {process: CPU ns so far}); a process is
    keyed by (pid, start time), so a reused pid is a new process. The first poll is
    the baseline: CPU spent before it (the interpreter starting, the harness's
    imports) is not counted. Threads of `watch_pid` are also kept one by one.
    """

    root: int
    watch_pid: int
    interval: float = 0.01
    snaps: list[tuple[float, dict[tuple[int, int], int]]] = field(default_factory=list)
    threads: dict[tuple[int, int], int] = field(default_factory=dict)
    first_threads: dict[tuple[int, int], int] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._best: dict[tuple[int, int], int] = {}
        self._thread = threading.Thread(target=self._run, name="grading-tree-timeline", daemon=True)

    def poll(self) -> None:
        at = time.monotonic()
        snap: dict[tuple[int, int], int] = {}
        for pid in kernel.tree_pids(self.root):
            if pid == self.root:
                continue  # the sandbox's init: it only waits (and reaps, which would count children twice)
            got = _process_cpu_ns(pid, self.threads if pid == self.watch_pid else None)
            if got is None:
                continue
            key = (pid, got[0])
            best = max(got[1], self._best.get(key, 0))
            self._best[key] = best
            snap[key] = best
        # A process that exited since the last poll keeps the CPU it had then.
        for key, best in self._best.items():
            snap.setdefault(key, best)
        self.snaps.append((at, snap))

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.poll()
        except Exception as exc:  # noqa: BLE001  (judged as "no trusted evidence")
            self.error = f"{type(exc).__name__}: {exc}"

    def start(self) -> TreeTimeline:
        self.poll()
        self.first_threads = dict(self.threads)
        if not any(pid == self.watch_pid for pid, _ in self.snaps[0][1]):
            raise kernel.KernelViewUnavailable(f"process {self.watch_pid} is not under {self.root} in /proc")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        _final_poll(self)

    # What the polls say ----------------------------------------------------------------------------

    def gained(self) -> dict[tuple[int, int], float]:
        """Seconds of CPU each process spent after the first poll."""
        if not self.snaps:
            return {}
        first, last = self.snaps[0][1], self.snaps[-1][1]
        return {key: (ns - first.get(key, 0)) / 1e9 for key, ns in last.items()}

    def own_and_others(self) -> tuple[float, float]:
        """(seconds in the watched process, seconds in every other process of the tree)."""
        own = others = 0.0
        for (pid, _), seconds in self.gained().items():
            if pid == self.watch_pid:
                own += seconds
            else:
                others += seconds
        return own, others

    def others_curve(self) -> tuple[list[float], list[float]]:
        """(times, cumulative CPU seconds of every process but the watched one), for interpolation."""
        times, values = [], []
        base = self.snaps[0][1] if self.snaps else {}
        for at, snap in self.snaps:
            times.append(at)
            values.append(sum(ns - base.get(k, 0) for k, ns in snap.items() if k[0] != self.watch_pid) / 1e9)
        return times, values

    def busy_threads(self, min_seconds: float = 0.02) -> int:
        """Threads of the watched process, other than its main thread, that spent `min_seconds` of CPU or more."""
        return sum(
            1
            for (pid, tid), ns in self.threads.items()
            if tid != pid and (ns - self.first_threads.get((pid, tid), 0)) / 1e9 >= min_seconds
        )

    def parallel_seconds(self, window: float = 0.05) -> tuple[float, float]:
        """(CPU seconds that ran alongside another process's, in windows of `window` s; the largest process's).

        In each window, the CPU every process gained, minus the largest process's share:
        what ran while another process ran too. A process counts only in windows it was
        busy on both sides of, so processes that take turns (one stops, the next starts
        in the same window, once or at every job) add nothing. Threads of one process
        (which share one GIL) count as that one process.
        """
        if len(self.snaps) < 2:
            return 0.0, 0.0
        edges = [self.snaps[0]]
        for snap in self.snaps[1:]:
            if snap[0] - edges[-1][0] >= window:
                edges.append(snap)
        if edges[-1] is not self.snaps[-1]:
            edges.append(self.snaps[-1])
        gains: list[dict[tuple[int, int], float]] = []
        for (_, before), (_, after) in zip(edges, edges[1:], strict=False):
            gains.append({k: (ns - before.get(k, 0)) / 1e9 for k, ns in after.items() if ns > before.get(k, 0)})
        parallel = 0.0
        for index, gained in enumerate(gains[1:-1], start=1):
            # Busy in the windows on both sides too: a hand-over (one process stops, another starts, in turn)
            # is no window's interior, whether it ends a process's run or only one of its jobs.
            inside = [g for k, g in gained.items() if k in gains[index - 1] and k in gains[index + 1]]
            if len(inside) > 1:
                parallel += sum(inside) - max(inside)
        largest = max(self.gained().values(), default=0.0)
        return parallel, largest


def _final_poll(timeline: TreeTimeline) -> None:
    """One last poll after stopping (the tree may already be gone: then it changes nothing)."""
    try:
        timeline.poll()
    except Exception as exc:  # noqa: BLE001
        timeline.error = timeline.error or f"{type(exc).__name__}: {exc}"


def interpolate(times: list[float], values: list[float], at: float) -> float:
    """The cumulative curve (times, values) at `at`, linear between polls."""
    if not times:
        return 0.0
    i = bisect.bisect_right(times, at)
    if i == 0:
        return values[0]
    if i >= len(times):
        return values[-1]
    t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
    return v0 + (v1 - v0) * (at - t0) / (t1 - t0) if t1 > t0 else v1


# ---------------------------------------------------------------------------------------------------
# The grader.


class Watch:
    """Started by the handshake (before any learner code runs): the loop's thread and the whole tree."""

    def __init__(self, thread_interval: float = 0.002, limits: Mapping[str, Any] | None = None) -> None:
        self.thread_interval = thread_interval
        self.limits = dict(limits or {})
        self.pid: int | None = None
        self.loop_fd: int | None = None
        self.thread: kernel.ThreadWatch | None = None
        self.tree: TreeTimeline | None = None
        self.started_at: float | None = None

    def on_ready(self, handshake: Handshake) -> None:
        pid = handshake.pid
        root = kernel.parent_of(pid)
        if root is None:
            raise kernel.KernelViewUnavailable(f"the harness (pid {pid}) is gone from /proc")
        loop_fd = kernel.loop_epoll_fd(pid)
        said = handshake.info.get("loop_fd")
        if loop_fd is None or (said is not None and said != loop_fd):
            raise GradingError(f"the loop's epoll descriptor of pid {pid} is not what the harness made ({said})")
        self.pid, self.loop_fd = pid, loop_fd
        self.tree = TreeTimeline(root, pid).start()
        self.thread = kernel.ThreadWatch(pid, interval=self.thread_interval).start()
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
        if self.tree is not None:
            self.tree.stop()


def grade_cpu_offload(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade a `handle(seed, rounds)` coroutine on its results and on where the kernel saw the CPU time go."""
    p = require_params(params, PARAMS)
    if not 1 <= p["calls"] <= 8 or not 1_000_000 <= p["rounds"] <= 5_000_000:
        raise GradingError(
            "grader params: calls must be 1..8 and rounds 1000000..5000000 "
            "(less work per call cannot be told from the cost of starting a pool)"
        )
    rng = random.SystemRandom()
    seeds = [rng.randrange(1, 2**31) for _ in range(p["calls"])]
    spec = {"seeds": seeds, "rounds": p["rounds"], "interval": p["interval"], "timeout": p["timeout"]}
    expected_job = ExpectedJob([(seed, p["rounds"]) for seed in seeds])
    limits = {**DEFAULT_LIMITS, **p["limits"]}
    watch = Watch(limits=limits)
    run, expected = run_watched("cpu_offload", code, spec, limits, watch, expected_job)
    return with_output(judge(run, watch, expected, p["interval"], code), run)


def run_watched(
    harness: str, code: str, spec: Mapping[str, Any], limits: Mapping[str, Any], watch: Any, expected_job: ExpectedJob
) -> tuple[Run, Expected | None]:
    """Run `harness` on the learner's code under `watch` (stopped when the run ends), while `expected_job`
    computes the right values outside the sandbox; those are waited for only if the run returned results."""
    try:
        try:
            run = run_harness(harness, {"solution.py": code}, spec, limits, on_ready=watch.on_ready)
        finally:
            watch.stop()
    except BaseException:
        expected_job.cancel()
        raise
    if results_from(run, watch.pid) is None:
        expected_job.cancel()  # no results to check: the verdict needs no expected values
        return run, None
    return run, expected_job.result()


@dataclass(frozen=True, slots=True)
class LoopEvidence:
    """What the kernel showed, in seconds of CPU (or of the loop thread's time, for `blocked`)."""

    own: float  # CPU of the loop's process, every thread
    loop_thread: float  # of which its main thread (the loop's)
    others: float  # CPU of every other process in the sandbox
    blocked: float  # the loop's thread in a wait other than its own selector
    blocked_work: float  # CPU other processes spent while the loop's thread was so blocked
    blocked_by: Mapping[str, float]
    busy_threads: int


def loop_evidence(watch: Watch) -> LoopEvidence:
    """Sum what the watchers saw; GradingError if they saw nothing to trust."""
    tree, thread = watch.tree, watch.thread
    if tree is None or thread is None or watch.pid is None:
        raise GradingError("the run was not watched from outside (no handshake from the harness)")
    if tree.error:
        raise GradingError(f"reading the sandbox's CPU accounting from /proc failed: {tree.error}")
    samples = thread.samples
    if len(samples) < 2 or len(tree.snaps) < 2:
        raise GradingError("the kernel's view of the run is too thin to judge (the grader's watchers did not run)")
    span = samples[-1].at - samples[0].at
    if span / (len(samples) - 1) > MAX_MEAN_SAMPLE_GAP:
        raise GradingError(
            f"the grader's watch on the loop's thread fell behind ({len(samples)} looks in {ms(span)} ms): "
            "the machine is too busy to judge this run; try again"
        )
    own, others = tree.own_and_others()
    loop_thread = (samples[-1].cpu_ns - samples[0].cpu_ns) / 1e9
    times, values = tree.others_curve()
    blocked = blocked_work = 0.0
    blocked_by: dict[str, float] = {}
    for sample, after in zip(samples, samples[1:], strict=False):
        # Only a span between two samples that both found the thread in a blocking wait counts: a short wait
        # (for the GIL, say) caught by one sample must not stand for the whole gap to the next one, which is
        # long when the grader's machine is busy.
        if kernel.is_blocking_wait(sample, watch.loop_fd) and kernel.is_blocking_wait(after, watch.loop_fd):
            span = after.at - sample.at
            blocked += span
            blocked_by[sample.syscall_name] = blocked_by.get(sample.syscall_name, 0.0) + span
            blocked_work += interpolate(times, values, after.at) - interpolate(times, values, sample.at)
    return LoopEvidence(
        own=own,
        loop_thread=min(loop_thread, own),
        others=others,
        blocked=blocked,
        blocked_work=blocked_work,
        blocked_by=blocked_by,
        busy_threads=tree.busy_threads(),
    )


def results_from(run: Run, pid: int | None) -> list | None:
    """The harness's `result` event, from the loop's process only (the kernel names each sender).

    Other processes' events are ignored; of several, the last counts (the harness sends its own last). Any
    of them could be forged by the learner's code, but right values cost the CPU time the kernel accounts for.
    """
    payloads = [e.payload for e in run.recording.of_kind("result") if pid is not None and e.pid == pid]
    if not payloads:
        return None
    try:
        value = json.loads(payloads[-1])
    except ValueError:
        return None
    return value if isinstance(value, list) else None


LIMIT_WORDS = {"wall_seconds": "wall-clock limit of {} s", "cpu_seconds": "CPU-time limit of {} s"}


def stopped_by(run: Run, limits: Mapping[str, Any]) -> str | None:
    """'the sandbox's wall-clock limit of 4 s'-style words when a time limit ended the run, else None."""
    result = run.result
    if result.status != "timeout" or result.limit_hit not in LIMIT_WORDS:
        return None
    value = limits.get(result.limit_hit)
    words = LIMIT_WORDS[result.limit_hit].format(f"{value:g}" if isinstance(value, int | float) else "?")
    return f"the run was stopped by the sandbox's {words}"


def did_not_finish(
    run: Run, pid: int | None, limits: Mapping[str, Any] | None = None, what: str = "handle() returned"
) -> str:
    """Why no results came, in plain words; the harness's own error only if its process sent it."""
    errors = [e.payload for e in run.recording.of_kind("error") if pid is not None and e.pid == pid]
    if errors:
        return errors[0]
    result = run.result
    if result.status == "ok" and result.exit_code == 0 and not result.signal_name:
        return f"the process ended (exit code 0) before {what}: something in your code ended it early"
    limit = stopped_by(run, limits or {})
    if limit:
        return f"{limit} before {what} (an endless loop?)"
    return run.describe_failure()


def judge(run: Run, watch: Watch, expected: Expected | None, interval: float, code: str = "") -> Verdict:
    """Turn one watched run into a verdict (trusted evidence only: expected values and the kernel's view)."""
    results = results_from(run, watch.pid)
    if results is None or expected is None:
        # A fail needs no evidence beyond the missing results (the process may be gone before any sample).
        failure = did_not_finish(run, watch.pid, watch.limits, "handle() had returned for every call")
        check = Check("runs", False, {"status": run.result.status}, f"Your code did not finish the calls: {failure}.")
        return Verdict(False, 0, (check,), f"Your code did not finish the calls: {failure}.", {})
    evidence = loop_evidence(watch)
    per_call = expected.per_call
    allowed_own = OWN_CPU_SHARE * per_call
    allowed_blocked_work = BLOCKED_WORK_SHARE * per_call
    timings = {
        "per_call_cpu_ms": ms(per_call),
        "loop_process_cpu_ms": ms(evidence.own),
        "other_processes_cpu_ms": ms(evidence.others),
    }

    right = sum(1 for got, want in zip(results, expected.results, strict=False) if got == want)
    results_ok = right == len(expected.results) and len(results) == len(expected.results)
    own_ok = evidence.own <= allowed_own
    wait_ok = evidence.blocked_work <= allowed_blocked_work
    work_seen = evidence.own + evidence.others >= MIN_WORK_SHARE * expected.total
    checks = (
        Check(
            "results",
            results_ok,
            {"right": right, "calls": len(expected.results)},
            f"{right} of {len(expected.results)} calls returned crunch(seed, rounds).",
        ),
        Check(
            "cpu_left_the_loop_process",
            own_ok and (work_seen or not results_ok),
            {
                "loop_thread_cpu_ms": ms(evidence.loop_thread),
                "other_threads_cpu_ms": ms(evidence.own - evidence.loop_thread),
                "other_processes_cpu_ms": ms(evidence.others),
                "allowed_ms": ms(allowed_own),
                "one_call_cpu_ms": ms(per_call),
                "busy_threads": evidence.busy_threads,
            },
            f"The loop's process spent {ms(evidence.own)} ms of CPU ({ms(evidence.loop_thread)} ms on the loop's "
            f"thread), other processes {ms(evidence.others)} ms; one call costs {ms(per_call)} ms and the loop's "
            f"process may spend at most {ms(allowed_own)} ms.",
        ),
        Check(
            "loop_not_waiting",
            wait_ok,
            {
                "blocked_ms": ms(evidence.blocked),
                "work_done_meanwhile_ms": ms(evidence.blocked_work),
                "allowed_ms": ms(allowed_blocked_work),
                "waits": {name: ms(seconds) for name, seconds in evidence.blocked_by.items()},
            },
            f"The loop's thread sat {ms(evidence.blocked)} ms in blocking waits, while other processes did "
            f"{ms(evidence.blocked_work)} ms of CPU work (at most {ms(allowed_blocked_work)} ms allowed).",
        ),
    )
    passed = results_ok and own_ok and wait_ok and work_seen
    if passed:
        quality = 5 if evidence.own <= allowed_own / 2 and evidence.blocked_work <= allowed_blocked_work / 2 else 4
    else:
        quality = 2 if results_ok else 1
    text = join_lines(
        [
            feedback(checks, evidence, expected, work_seen),
            blamed_line(run, watch.pid, code, passed),
            below_five(evidence.own, allowed_own, evidence.blocked_work, allowed_blocked_work) if quality == 4 else "",
        ]
    )
    return Verdict(passed, quality, checks, text, timings)


def below_five(own: float, allowed_own: float, blocked_work: float, allowed_blocked_work: float) -> str:
    """Why a pass scored 4, not 5: a 5 needs at most half of each allowance (seconds in, words out)."""
    parts = []
    if own > allowed_own / 2:
        parts.append(f"the loop's process spent {ms(own)} ms of CPU (a 5 needs at most {ms(allowed_own / 2)} ms)")
    if blocked_work > allowed_blocked_work / 2:
        parts.append(
            f"the loop's thread sat waiting while {ms(blocked_work)} ms of the work ran "
            f"(a 5 needs at most {ms(allowed_blocked_work / 2)} ms)"
        )
    if not parts:
        return ""
    return (
        "Quality 4, not 5: " + " and ".join(parts) + ". Make the pool once and reuse it (starting worker "
        "processes costs the loop's process CPU), and `await` each result instead of waiting for it."
    )


def feedback(checks: tuple[Check, ...], ev: LoopEvidence, expected: Expected, work_seen: bool) -> str:
    """Plain words on where the kernel saw the CPU time go, and what it means."""
    results, cpu, wait = checks
    per_call = expected.per_call
    calls = len(expected.results)
    parts = []
    if not results.passed:
        parts.append(f"{results.message} Each call must return exactly what crunch(seed, rounds) returns.")
    if results.passed and not work_seen:
        parts.append(
            f"Your results are right, but the whole sandbox spent only {ms(ev.own + ev.others)} ms of CPU, where "
            f"the {calls} crunch() calls need about {ms(expected.total)} ms: the grader cannot see where the work "
            "ran, so it cannot pass it. Call crunch() itself, in another process."
        )
    threads_cpu = ev.own - ev.loop_thread
    if not cpu.measured["allowed_ms"] >= ms(ev.own):
        if threads_cpu >= ev.loop_thread and threads_cpu >= OWN_CPU_SHARE * per_call:
            parts.append(
                f"The CPU work left the loop's thread but not its process: {ms(threads_cpu)} ms of CPU ran in "
                f"{ev.busy_threads or 'other'} other thread{'s' if ev.busy_threads != 1 else ''} of the loop's "
                f"process (one call costs {ms(per_call)} ms), and only {ms(ev.others)} ms in other processes. "
                "Threads (asyncio.to_thread, run_in_executor(None, ...), a ThreadPoolExecutor) share one GIL: "
                "while a thread runs pure-Python crunch(), the loop's thread must win the GIL back before every "
                "step, so the loop stalls in bursts however the work is split. Processes each have their own GIL: "
                "`await loop.run_in_executor(pool, crunch, seed, rounds)` with a ProcessPoolExecutor."
            )
        else:
            parts.append(
                f"The loop's own thread computed for {ms(ev.loop_thread)} ms of CPU (one crunch() call costs "
                f"{ms(per_call)} ms; {calls} calls {ms(expected.total)} ms): the CPU work ran on the event loop's "
                "thread, so no other coroutine (no other request) could run meanwhile. `await` only pauses at "
                "awaitables; a plain function call runs to the end. Hand the work to another process and await "
                "it: `await loop.run_in_executor(pool, crunch, seed, rounds)` with a ProcessPoolExecutor."
            )
    if not wait.passed:
        waits = "; ".join(kernel.describe_waits(ev.blocked_by))
        parts.append(
            f"The work did run in other processes, but the loop's thread waited for it in a blocking call: it sat "
            f"{ms(ev.blocked)} ms outside its own selector ({waits}) while other processes did {ms(ev.blocked_work)} "
            "ms of the work. A blocking wait on the loop freezes it as surely as computing on it: "
            "`future.result()`, `pool.map(...)`, `pool.apply(...)` or `time.sleep` polling all stop every other "
            "coroutine. Await the work instead: `await loop.run_in_executor(pool, crunch, seed, rounds)` (or "
            "`await asyncio.wrap_future(future)`)."
        )
    if cpu.passed and wait.passed and work_seen:
        parts.append(
            f"The CPU work ran in other processes ({ms(ev.others)} ms of CPU there), and the loop's process spent "
            f"only {ms(ev.own)} ms: the event loop stayed free to serve other requests while each call "
            f"(about {ms(per_call)} ms of CPU) ran elsewhere."
        )
    return join_lines(parts)


def blamed_line(run: Run, pid: int | None, code: str, passed: bool) -> str:
    """Name the line of the learner's code where a watchdog in the sandbox found the stuck loop.

    The watchdog runs inside the learner's process, so it only informs the feedback, never the verdict.
    """
    events = [e for e in run.recording.of_kind("blame") if pid is not None and e.pid == pid]
    if passed or not events:
        return ""
    try:
        blame = json.loads(events[-1].payload)
    except ValueError:
        return ""
    if not isinstance(blame, dict) or not blame:
        return ""
    line_text, held = max(blame.items(), key=lambda item: item[1] if isinstance(item[1], int) else 0)
    try:
        line, held = int(line_text), int(held)
    except (TypeError, ValueError):
        return ""
    lines = code.splitlines()
    source = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
    return (
        f"Line {line}"
        + (f", `{source}`," if source else "")
        + f" held the event loop for about {held} ms in all (wall time, as seen inside your process)."
    )
