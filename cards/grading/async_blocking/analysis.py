"""Turn the fixture's record of one run into measurements: results, stalls, overlap, tampering.

Pure functions over the report that fixture_server.py prints (plain dicts and
lists, times in seconds on the fixture's clock). Nothing here runs code.

A *stall* is a gap in the heartbeat longer than `threshold`. For each stall the
scheduler's accounting of the loop thread (sampled from outside) splits the
wall time into:

- computing: the loop thread was on a CPU (the learner's code busy);
- waiting for a CPU: runnable but not running (the machine is loaded; not the
  learner's fault, so it is excused);
- asleep: neither, i.e. blocked in a system call (a blocking socket read,
  `time.sleep`, a lock, joining a thread, waiting for a child process).

Not all sleep is a blocking call: a loop thread waiting for the GIL while the
learner's worker threads hold it (to_thread, run_in_executor) sleeps too. The
fixture tells the two apart from outside at each sample: a GIL wait is a futex
wait whose deadline is at most one switch interval (5 ms) away (read from
/proc/<pid>/task/<pid>/syscall and the process's memory); anything else (a
socket read, `time.sleep`, `Thread.join`, `Future.result`, `Queue.get`,
`subprocess.run`) is not. The GIL's share of a stall's sleep is excused, plus a
small flat allowance; what is left is *blocked*. Where no sample classified the
wait (a stall too short, or no probe on this machine), sleep is excused up to
GIL_STRETCH per wake-up of the loop thread, no more than the CPU time the other
threads used meanwhile.

"Held" = computing + blocked: how long the learner's code kept the loop from
running, whatever the load on the machine.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

NS = 1e9
GIL_ALLOWANCE = 0.03  # seconds of sleep per stall excused outright (hand-offs, sampling error)
ONCE = ("hello", "ready", "not_coroutine_function", "import_error", "start", "end")
GIL_STRETCH = 0.01  # longest GIL wait between two wake-ups: twice CPython's 5 ms switch interval
GIL_WAIT, OTHER_WAIT = 1, 2  # the fixture's reading of /proc/<pid>/task/<pid>/syscall at a sample


@dataclass(frozen=True, slots=True)
class Stall:
    """One heartbeat gap, split by the scheduler's accounting of the loop thread."""

    start: float
    end: float
    computing: float
    waiting_for_cpu: float
    asleep: float
    blocked: float

    @property
    def wall(self) -> float:
        return self.end - self.start

    @property
    def held(self) -> float:
        return self.computing + self.blocked


@dataclass(frozen=True, slots=True)
class LineBlame:
    """Time the loop was held while the watchdog saw the loop thread on one line of solution.py."""

    line: int | None
    code: str
    where: str
    held: float
    computing: float
    samples: int


@dataclass(frozen=True, slots=True)
class Measurements:
    """Everything the checks need, measured from outside the learner's process."""

    imported: bool
    coroutine_function: bool
    load_error: dict[str, Any] | None
    results: list[dict[str, Any]]
    right: int
    calls: int
    stalls: tuple[Stall, ...]
    held: float
    computing: float
    asleep: float
    blocked: float
    waiting_for_cpu: float
    longest: float
    max_in_flight: int
    requests: int
    finished: bool
    tampering: tuple[str, ...]
    blame: tuple[LineBlame, ...] = field(default_factory=tuple)
    sched_samples: int = 0
    observed: bool = False


def same_json(a: Any, b: Any) -> bool:
    """Exact JSON equality: types must match too (1 is not 1.0 is not True), dict order aside."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def check_results(report: dict[str, Any], tokens: list[str]) -> list[dict[str, Any]]:
    """For each call, whether its result is exactly a body the server sent for that call's token."""
    sent: dict[str, list[Any]] = defaultdict(list)
    for request in report["requests"]:
        if request.get("token") is not None:
            sent[request["token"]].append(json.loads(request["body"]))
    got: dict[int, dict[str, Any]] = {}
    for message in report["messages"]:
        if message.get("t") == "result" and isinstance(message.get("i"), int) and message["i"] not in got:
            got[message["i"]] = message
    outcomes = []
    for index, token in enumerate(tokens):
        message = got.get(index)
        outcome: dict[str, Any] = {"call": index, "requests": len(sent[token]), "right": False}
        if message is None:
            outcome["problem"] = "no result: the call had not finished when time ran out"
        elif not message.get("ok"):
            error = message.get("error") or {}
            outcome["problem"] = "raised" if error.get("type") not in ("NotJSON", "NotACoroutine") else "returned"
            outcome["error"] = error
        else:
            try:
                value = json.loads(message.get("json", ""))
            except ValueError:
                value = None
                outcome["problem"] = "returned something that is not JSON"
            else:
                if any(same_json(value, body) for body in sent[token]):
                    outcome["right"] = True
                elif not sent[token]:
                    outcome["problem"] = "returned a value without ever requesting its URL"
                elif isinstance(value, str):
                    outcome["problem"] = "returned the body as text (a str), not the decoded JSON"
                else:
                    outcome["problem"] = "returned a value that is not the JSON the server sent for that URL"
            outcome["returned_type"] = type(value).__name__ if "problem" in outcome else "dict"
        outcomes.append(outcome)
    return outcomes


def cumulative(samples: list[list[float]], at: float) -> tuple[float, ...]:
    """The scheduler's running totals at time `at` (seconds), interpolated between samples.

    A sample is [time, loop cpu ns, loop run-queue ns, others' cpu ns, others' run-queue ns, loop
    wake-ups]; the result is (loop cpu s, loop run-queue s, others' cpu s, others' run-queue s, wake-ups).
    """
    if not samples:
        return (0.0, 0.0, 0.0, 0.0, 0.0)
    scale = (NS, NS, NS, NS, 1.0)
    times = [s[0] for s in samples]
    i = bisect_left(times, at)
    if i == 0 or i >= len(samples):
        row = samples[0] if i == 0 else samples[-1]
        return tuple(value / k for value, k in zip(row[1:6], scale, strict=True))
    before, after = samples[i - 1], samples[i]
    share = (at - before[0]) / (after[0] - before[0]) if after[0] > before[0] else 1.0
    return tuple((b + (a - b) * share) / k for b, a, k in zip(before[1:6], after[1:6], scale, strict=True))


def column_at(samples: list[list[float]], at: float, column: int) -> float:
    """One running figure of the samples at time `at`, interpolated (0 where samples lack it)."""
    rows = [row for row in samples if len(row) > column]
    if not rows:
        return 0.0
    times = [row[0] for row in rows]
    i = bisect_left(times, at)
    if i == 0 or i >= len(rows):
        return float(rows[0][column] if i == 0 else rows[-1][column])
    before, after = rows[i - 1], rows[i]
    share = (at - before[0]) / (after[0] - before[0]) if after[0] > before[0] else 1.0
    return before[column] + (after[column] - before[column]) * share


def wait_states(samples: list[list[float]], start: float, end: float) -> tuple[int, int]:
    """(samples waiting for the GIL, samples waiting on anything else) of the loop thread in (start, end)."""
    gil = other = 0
    for row in samples:
        if start < row[0] < end and len(row) > 6:
            gil += row[6] == GIL_WAIT
            other += row[6] == OTHER_WAIT
    return gil, other


def find_stalls(
    beats: list[float], start: float, end: float, threshold: float, samples: list[list[float]]
) -> list[Stall]:
    """Heartbeat gaps longer than `threshold` between `start` and `end`, each split by the scheduler's figures."""
    points = [start, *sorted(b for b in beats if start < b < end), end]
    stalls = []
    for a, b in zip(points, points[1:], strict=False):
        wall = b - a
        if wall <= threshold:
            continue
        at_a, at_b = cumulative(samples, a), cumulative(samples, b)
        computing = max(0.0, min(at_b[0] - at_a[0], wall))
        waiting = max(0.0, min(at_b[1] - at_a[1], wall - computing))
        asleep = max(0.0, wall - computing - waiting)
        gil_waits, other_waits = wait_states(samples, a, b)
        if gil_waits + other_waits:
            # The observer saw what the thread was waiting on: the GIL's share of the sleep is excused.
            gil = asleep * gil_waits / (gil_waits + other_waits)
        else:
            # No telling waits apart (too short to sample, or no probe): excuse GIL-like wake-ups.
            others_busy = max(0.0, at_b[2] - at_a[2])
            wakeups = max(0.0, at_b[4] - at_a[4])
            gil = min(others_busy, wakeups * GIL_STRETCH)
        # Waiting on one of the process's own threads while it waited for a CPU: the machine's load.
        load = max(0.0, column_at(samples, b, 7) - column_at(samples, a, 7)) / NS
        blocked = max(0.0, asleep - GIL_ALLOWANCE - gil - load)
        stalls.append(Stall(a, b, computing, waiting, asleep, blocked))
    return stalls


def blame_lines(stalls: list[Stall], stacks: list[dict[str, Any]], slack: float) -> list[LineBlame]:
    """Share each stall's held time among the lines the watchdog saw during it (feedback only)."""
    totals: dict[tuple[Any, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for stall in stalls:
        seen = [s for s in stacks if stall.start <= s.get("at", -1) <= stall.end + slack]
        if not seen:
            continue
        for sample in seen:
            frames = sample.get("frames") or []
            if frames:
                key = (frames[-1].get("line"), str(frames[-1].get("code", "")), "solution.py")
            else:
                inner = (sample.get("innermost") or [{}])[-1]
                key = (None, "", f"{inner.get('file', '?')}:{inner.get('line', '?')} ({inner.get('func', '?')})")
            entry = totals[key]
            entry[0] += stall.held / len(seen)
            entry[1] += stall.computing / len(seen)
            entry[2] += 1
    blame = [LineBlame(k[0], k[1], k[2], v[0], v[1], int(v[2])) for k, v in totals.items()]
    return sorted(blame, key=lambda b: b.held, reverse=True)


def measure(report: dict[str, Any], tokens: list[str], *, threshold: float, slack: float = 0.05) -> Measurements:
    """All the measurements of one run, from the fixture's report."""
    messages = report["messages"]
    kinds = {m.get("t"): m for m in reversed(messages)}
    load_error = None
    # Both need a positive word from the harness: a process killed while importing says neither.
    coroutine_function = "ready" in kinds
    imported = coroutine_function or "not_coroutine_function" in kinds
    if "import_error" in kinds:
        load_error = kinds["import_error"].get("error")
    elif "not_coroutine_function" in kinds:
        load_error = {"type": "NotACoroutineFunction", "message": kinds["not_coroutine_function"].get("kind", "")}
    elif not imported:
        load_error = {"type": "Ended", "message": "the process ended while importing solution.py"}
    if "hello" not in kinds:
        load_error = {"type": "NoHarness", "message": "the harness never reported in"}

    results = check_results(report, tokens)
    start = kinds["start"]["at"] if "start" in kinds else None
    finished = "end" in kinds
    # The window ends when the harness's process closed its connection (it exits right after "end"),
    # seen from outside: an "end" message written early by the learner's code cannot cut it short.
    end = report.get("control_closed") or report["ended"]
    samples = report.get("sched") or []
    stalls = find_stalls(report["beats"], start, end, threshold, samples) if start is not None else []
    stacks = [m for m in messages if m.get("t") == "stack"]

    tampering = []
    intrusions = report.get("intrusion_count", len(report.get("intrusions", [])))
    if intrusions:
        tampering.append(f"{intrusions} connection(s) or datagram(s) to the grader's observer")
    if not report.get("beat_numbers_ok", True):
        tampering.append("heartbeat ticks out of sequence")
    if report.get("control_garbage"):
        tampering.append("unreadable data on the harness's control connection")
    # The harness sends each of these once; a second one was written by someone else.
    repeated = sorted(kind for kind in ONCE if sum(1 for m in messages if m.get("t") == kind) > 1)
    results_seen = [m.get("i") for m in messages if m.get("t") == "result"]
    if repeated or len(results_seen) != len(set(results_seen)):
        tampering.append("messages in the harness's name written by other code: " + ", ".join(repeated or ["result"]))

    return Measurements(
        imported=imported,
        coroutine_function=coroutine_function,
        load_error=load_error,
        results=results,
        right=sum(r["right"] for r in results),
        calls=len(tokens),
        stalls=tuple(stalls),
        held=sum(s.held for s in stalls),
        computing=sum(s.computing for s in stalls),
        asleep=sum(s.asleep for s in stalls),
        blocked=sum(s.blocked for s in stalls),
        waiting_for_cpu=sum(s.waiting_for_cpu for s in stalls),
        longest=max((s.wall for s in stalls), default=0.0),
        max_in_flight=int(report.get("max_in_flight", 0)),
        requests=sum(1 for r in report["requests"] if r.get("token") is not None),
        finished=finished,
        tampering=tuple(tampering),
        blame=tuple(blame_lines(stalls, stacks, slack)),
        sched_samples=len(samples),
        observed=len(samples) >= 2 and start is not None and samples[0][0] <= start,
    )
