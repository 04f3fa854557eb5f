"""Turn what was seen of one run into measurements: results, the loop's thread, overlap.

Pure functions over a RunOutcome (runner.py). Nothing here runs code. The verdict's
inputs all come from outside the learner's process:

- results: a returned value counts only when it equals, exactly, a body the fixture
  sent for that call's URL (fresh random bodies, per request);
- the loop: kernel.LoopAccount, the loop's thread sampled from /proc by the grader,
  each sample classified by the system call it was in (kernel.classify), and its
  exact CPU time (schedstat), over the window from the moment the URLs went into
  the sandbox until the process ended;
- overlap: the fixture's own times for the requests whose bodies the results carry,
  so a throw-away request counts for nothing.

The watchdog's stack samples come through the process: they only say *which line*
was running when the kernel saw the loop held (feedback), never whether it was.
"""

from __future__ import annotations

import json
import math
import statistics
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cards.grading import kernel

from .runner import RunOutcome

# What a kind of wait is called in feedback.
KIND_WORDS = {
    kernel.COMPUTING: "computing on the CPU",
    kernel.SLEEPING: "sleeping (a call like time.sleep)",
    kernel.SOCKET: "waiting on a socket (a blocking network call)",
    kernel.LOCK: "waiting on a lock, a thread or a future (e.g. .result() or .join())",
    kernel.CHILD: "waiting for a child process",
    kernel.SELECTOR_TIMEOUT: "waiting in the event loop's own selector, called directly with a timeout",
    kernel.OTHER_EPOLL: "waiting in an epoll or selector of its own",
    kernel.OTHER_WAIT: "waiting in a blocking system call",
}


# The most one tick of the harness's timer may be credited with, whatever the calibration measured.
MAX_TICK_CPU = 0.0005


def harness_allowance(outcome: RunOutcome) -> tuple[float, float, float]:
    """(seconds, per-tick seconds, ticks): the loop's CPU spent on the harness's own timer, not charged.

    Per tick: measured before the learner's module was imported (runner: the calibration), capped at
    MAX_TICK_CPU. Ticks: the fewest of the thread's reads in the window (one per tick, and never fewer
    than the ticks that ran), the loop's idle time over the interval plus one (a tick costs that much
    only when it wakes an idle loop; a loop held by the learner's code runs none), and the ticks of a
    window as long as all the calls made one after another (RunSettings.max_harness_ticks): stretching
    the window with a long sleep buys nothing past that.
    """
    loop, calibration, settings = outcome.loop, outcome.calibration, outcome.settings
    if loop is None or calibration is None or settings is None or calibration[0] <= 0:
        return 0.0, 0.0, 0.0
    per_tick = min(max(0.0, calibration[1] / calibration[0]), MAX_TICK_CPU)
    idle = loop.by_kind.get(kernel.IDLE, 0.0)
    ticks = max(0.0, min(float(loop.reads), idle / settings.tick + 1, settings.max_harness_ticks))
    return per_tick * ticks, per_tick, ticks


@dataclass(frozen=True, slots=True)
class LineBlame:
    """Time the kernel saw the loop held while the watchdog saw the loop thread on one line (feedback only)."""

    line: int | None
    code: str
    where: str
    held: float
    kinds: dict[str, float]
    calls: int  # how many different calls (tasks) were seen on it
    cut_calls: int = 0  # of which calls that had not returned when the grader stopped the run
    cut_held: float = 0.0  # and the time held in them

    @property
    def per_call(self) -> float:
        """Held time per call, from the calls that returned when a stop cut others short."""
        whole = self.calls - self.cut_calls
        return (self.held - self.cut_held) / whole if whole > 0 else self.held / max(1, self.calls)

    @property
    def kind(self) -> str:
        return max(self.kinds.items(), key=lambda kv: kv[1])[0] if self.kinds else kernel.COMPUTING


@dataclass(frozen=True, slots=True)
class Measurements:
    """Everything the checks need."""

    imported: bool
    coroutine_function: bool
    load_error: dict[str, Any] | None
    results: list[dict[str, Any]]
    right: int
    calls: int
    answered: int  # calls that returned or raised (results of any kind)
    observed: bool
    cpu: float  # the loop thread's CPU time in the window (schedstat), less the harness's timer (charged)
    runqueue: float  # its time waiting for a CPU (the machine's load; never counted)
    holding: float  # sampled time in waits that hold the loop
    by_kind: dict[str, float]
    by_syscall: dict[str, float]
    window: float
    max_in_flight: int
    requests: int
    unmatched_requests: int
    blame: tuple[LineBlame, ...] = field(default_factory=tuple)
    startup_cpu: float = 0.0  # CPU of the children whose start-up excused the loop's reads (kernel.CHILD_STARTING)
    never_awaited: tuple[dict[str, Any], ...] = ()  # from the harness's warnings hook: feedback only
    loop_cpu: float = 0.0  # the loop thread's whole CPU time in the window (schedstat)
    harness_cpu: float = 0.0  # of which the harness's timer, not charged (harness_allowance)
    tick_cpu: float = 0.0  # one tick's cost, as calibrated before the import
    ticks: float = 0.0  # the ticks allowed for
    stopped: bool = False  # the grader ended the run early: the loop was already held past the bound
    unwatched: float = 0.0  # off-CPU time in gaps the sampler left (kernel.LoopAccount.unwatched)
    longest_gap: float = 0.0  # the longest gap between two samples of the loop's thread in the window
    yardstick: float = 0.0  # CPU seconds of one run of the harness's yardstick before the import (median); 0: unseen

    @property
    def finished(self) -> bool:
        return self.answered == self.calls


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


def _payloads(outcome: RunOutcome, kind: str) -> list[tuple[float, dict[str, Any]]]:
    out = []
    for event in outcome.recording.of_kind(kind):
        try:
            value = json.loads(event.payload)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append((event.at, value))
    return out


def check_results(outcome: RunOutcome) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per call, whether its result is exactly a body the fixture sent for its URL; and the requests it carries."""
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in outcome.report["requests"]:
        if request.get("token") is not None and request.get("method") == "GET" and "released" in request:
            sent[request["token"]].append(request)
    got: dict[int, dict[str, Any]] = {}
    for _, message in _payloads(outcome, "result"):
        index = message.get("i")
        if isinstance(index, int) and not isinstance(index, bool) and index not in got:
            got[index] = message
    outcomes, carried = [], []
    for index, token in enumerate(outcome.tokens):
        message = got.get(index)
        outcome_: dict[str, Any] = {"call": index, "requests": len(sent[token]), "right": False}
        if message is None:
            outcome_["problem"] = "no result: the call had not finished when the run ended"
        elif not message.get("ok"):
            error = message.get("error") or {}
            outcome_["answered"] = True
            outcome_["problem"] = "raised" if error.get("type") not in ("NotJSON", "NotACoroutine") else "returned"
            outcome_["error"] = error
        else:
            outcome_["answered"] = True
            try:
                value = json.loads(message.get("json", ""))
            except (ValueError, TypeError):
                value = None
                outcome_["problem"] = "returned something that is not JSON"
            else:
                match = next((r for r in sent[token] if same_json(value, json.loads(r["body"]))), None)
                if match is None and isinstance(value, str):
                    # The body as text: wrong, but it was fetched, so its request counts for overlap.
                    text = next((r for r in sent[token] if r["body"] == value), None)
                    if text is not None:
                        carried.append(text)
                if match is not None:
                    outcome_["right"] = True
                    carried.append(match)
                elif not sent[token]:
                    outcome_["problem"] = "returned a value without ever requesting its URL"
                elif isinstance(value, str):
                    outcome_["problem"] = "returned the body as text (a str), not the decoded JSON"
                else:
                    outcome_["problem"] = "returned a value that is not the JSON the server sent for that URL"
        outcomes.append(outcome_)
    return outcomes, carried


def max_overlap(requests: list[dict[str, Any]]) -> int:
    """The most of these requests in flight at the fixture at once (its own arrival and release times)."""
    edges = sorted([(r["arrived"], 1) for r in requests] + [(r["released"], -1) for r in requests])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def _line_key(sample: dict[str, Any]) -> tuple[Any, str, str] | None:
    frames = sample.get("frames") or []
    if frames and isinstance(frames[-1], dict):
        return (frames[-1].get("line"), str(frames[-1].get("code", ""))[:200], "solution.py")
    inner = sample.get("innermost") or {}
    if not isinstance(inner, dict) or not inner.get("file"):
        return None  # not a sample the watchdog would send
    return (None, "", f"{inner.get('file', '?')}:{inner.get('line', '?')} ({inner.get('func', '?')})"[:200])


def blame_lines(outcome: RunOutcome, near: float, unfinished: frozenset[str] = frozenset()) -> list[LineBlame]:
    """Share the kernel's held time (computing or a holding wait) among the lines the watchdog saw then.

    Each stack sample is first given the kind the kernel saw at that instant; each held span of
    the kernel's goes to the nearest sample of its own kind (a line seen sleeping takes the
    sleeping spans), or failing that the nearest sample at all, within `near` seconds.
    """
    loop = outcome.loop
    if loop is None:
        return []
    spans = sorted(loop.spans, key=lambda sp: sp.at)
    starts = [sp.at for sp in spans]
    stacks = []
    for at, sample in sorted(_payloads(outcome, "stack"), key=lambda s: s[0]):
        key = _line_key(sample)
        if key is None:
            continue
        i = bisect_left(starts, at) - 1
        kind = spans[i].kind if 0 <= i < len(spans) and at <= spans[i].at + spans[i].span + 0.002 else None
        stacks.append((at, key, kind, str(sample.get("task", ""))[:50]))
    times = [s[0] for s in stacks]
    totals: dict[tuple[Any, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tasks: dict[tuple[Any, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for span in spans:
        if span.kind not in kernel.HOLDING and span.kind != kernel.COMPUTING:
            continue
        middle = span.at + span.span / 2
        reach = near + span.span / 2
        # A sample of the same kind may be a little further away (the watchdog is late on a loaded machine).
        lo, hi = bisect_left(times, middle - 3 * reach), bisect_left(times, middle + 3 * reach)
        same = [j for j in range(lo, hi) if stacks[j][2] == span.kind]
        lo, hi = bisect_left(times, middle - reach), bisect_left(times, middle + reach)
        pool = same or list(range(lo, hi))
        if not pool:
            continue
        best = min(pool, key=lambda j: abs(times[j] - middle))
        _, key, _, task = stacks[best]
        totals[key][span.kind] += span.span
        tasks[key][task] += span.span
    blame = []
    for k, v in totals.items():
        cut = [held for task, held in tasks[k].items() if task in unfinished]
        blame.append(
            LineBlame(
                k[0] if isinstance(k[0], int) else None,
                k[1],
                k[2],
                sum(v.values()),
                dict(v),
                len(tasks[k]),
                len(cut),
                sum(cut),
            )
        )
    return sorted(blame, key=lambda b: b.held, reverse=True)


def measure(outcome: RunOutcome, near: float = 0.015) -> Measurements:
    """All the measurements of one run."""
    load = _payloads(outcome, "load")
    load_error = None
    imported = coroutine_function = outcome.urls_at is not None
    if load:
        message = load[0][1]
        if "not_coroutine_function" in message:
            imported, coroutine_function = True, False
            load_error = {"type": "NotACoroutineFunction", "message": str(message["not_coroutine_function"])}
        elif not coroutine_function:
            load_error = message.get("error") or {"type": "Error", "message": ""}
    elif not coroutine_function:
        load_error = {"type": "Ended", "message": "the process ended while importing solution.py"}

    results, carried = check_results(outcome)
    loop = outcome.loop
    # Tasks are named "call N" by the harness (feedback only): those cut short by a stop are not averaged in.
    unfinished = (
        frozenset(f"call {r['call']}" for r in results if not r.get("answered")) if outcome.stopped else frozenset()
    )
    blame = blame_lines(outcome, near, unfinished)
    sampled = loop.by_kind.get(kernel.COMPUTING, 0.0) if loop else 0.0
    if loop and sampled > loop.cpu > 0:
        # Sampled "on a CPU or runnable" includes waiting for a CPU on a loaded machine: scale each line's
        # share to the thread's exact CPU time, so a line is not blamed for the machine's load.
        share = loop.cpu / sampled
        blame = [
            LineBlame(
                b.line,
                b.code,
                b.where,
                b.held - b.kinds.get(kernel.COMPUTING, 0.0) * (1 - share),
                {k: v * share if k == kernel.COMPUTING else v for k, v in b.kinds.items()},
                b.calls,
                b.cut_calls,
                b.cut_held,
            )
            for b in blame
        ]
        blame.sort(key=lambda b: b.held, reverse=True)
    carried_ids = {id(r) for r in carried}
    harness_cpu, tick_cpu, ticks = harness_allowance(outcome)
    loop_cpu = loop.cpu if loop else 0.0
    token_requests = [r for r in outcome.report["requests"] if r.get("token") is not None]
    return Measurements(
        imported=imported,
        coroutine_function=coroutine_function,
        load_error=load_error,
        results=results,
        right=sum(r["right"] for r in results),
        calls=len(outcome.tokens),
        answered=sum(1 for r in results if r.get("answered")),
        observed=loop is not None and loop.samples >= 1,
        cpu=max(0.0, loop_cpu - harness_cpu),
        runqueue=loop.runqueue if loop else 0.0,
        holding=loop.holding if loop else 0.0,
        by_kind=dict(loop.by_kind) if loop else {},
        by_syscall=dict(loop.by_syscall) if loop else {},
        window=loop.window if loop else 0.0,
        max_in_flight=max_overlap(carried),
        requests=len(token_requests),
        unmatched_requests=sum(1 for r in token_requests if id(r) not in carried_ids),
        blame=tuple(blame),
        startup_cpu=loop.startup_cpu if loop else 0.0,
        unwatched=loop.unwatched if loop else 0.0,
        longest_gap=loop.longest_gap if loop else 0.0,
        never_awaited=tuple(w for _, w in _payloads(outcome, "warning")[:5] if "never_awaited" in w),
        loop_cpu=loop_cpu,
        harness_cpu=min(harness_cpu, loop_cpu),
        tick_cpu=tick_cpu,
        ticks=ticks,
        stopped=outcome.stopped,
        yardstick=statistics.median(outcome.yardstick) if outcome.yardstick else 0.0,
    )
