"""The `async_blocking_call` grader: is `get_data(url)` right, does the loop keep running, do calls overlap?

Every verdict rests on evidence the learner's code cannot write (see runner.py and
docs/challenge_graders.md):

- results: each returned value must equal the body the fixture sent for that call's URL;
- the loop: the kernel's view of the loop's thread, sampled from /proc by the grader from
  the harness's handshake on (before the learner's module is imported): time blocked in a
  wait other than the loop's own selector (a sleep, a socket, a lock, a child, another epoll,
  or the loop's selector called with a longer timeout than the loop uses), and its exact CPU
  time (schedstat), over the window from the moment the URLs went in until the process ended;
  a read on a pipe or unix socket while a child it started is still starting up (a forkserver
  pool's fork server) is excused once per grading, capped (kernel.CHILD_STARTING);
- overlap: the fixture's own times for the requests whose bodies the results carry.

A pass needs the loop's thread watched closely: if the sampler fell behind (a busy machine) for
long enough that an unseen wait could have held the loop past the bound, the grading raises
GradingError (the worker grades it again) instead of passing on what was not seen.

The bounds are absolute, per call (the kernel counts what the loop's thread did, which a
loaded machine does not inflate the way wall time is), so there is no calibration run. A slow
host does make every call dearer on the CPU, though: the harness runs a fixed piece of Python
(the yardstick) before the learner's module is imported, the grader reads its CPU time from
outside, and the CPU bound grows by how much slower than nominal it ran (never shrinks, at
most `max_slowdown` times). Waits are wall time, which a slow CPU does not lengthen: the
blocked bound stays as it is. The
CPU of the harness's own timer on the loop is not charged: its cost per tick is measured
before the learner's module is imported and credited for the ticks the window held, capped
(analysis.harness_allowance).

Parameters (Challenge.grader_params), all optional:
    calls (10), delay_ms (250: how long the server holds each response),
    blocked_ms_per_call (1.5) with blocked_floor_ms (10): the bound on blocking waits,
    computing_ms_per_call (15): the bound on the loop thread's CPU time, on a machine of nominal speed,
    max_slowdown (3): the most the CPU bound grows on a machine slower than nominal (the yardstick),
    min_in_flight (2): requests in flight at once for the calls to count as overlapping,
    stop_after_delays (2): once the loop's thread has been held that many of the server's delays (and
    twice the blocked bound), and two calls have returned, the run is decided (the loop check fails
    whatever follows) and stopped; the results are judged on the calls that returned. 0 runs every call.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from cards.grading.base import Check, GradingError, Verdict
from cards.grading.measure import program_output

from . import feedback
from .analysis import Measurements, measure
from .runner import RunSettings, run_once

KIND = "async_blocking_call"
# CPU seconds of one run of the harness's yardstick on this kind of machine at its usual speed (sandbox
# Python 3.11, 2 cores: 1.2-2.5 ms, median 1.8, while the seed's fix computed 60-100 ms over ten calls).
NOMINAL_YARDSTICK = 0.002
LIMIT_WORDS = {
    "wall_seconds": "time",
    "cpu_seconds": "CPU time",
    "memory_mb": "memory",
    "output_bytes": "output (what it printed)",
}


@dataclass(frozen=True, slots=True)
class Params:
    """The grader's parameters, with defaults."""

    calls: int = 10
    delay_ms: float = 250
    blocked_ms_per_call: float = 1.5
    blocked_floor_ms: float = 10
    computing_ms_per_call: float = 15
    max_slowdown: float = 3.0
    min_in_flight: int = 2
    stop_after_delays: float = 2.0  # stop a decided run once the loop was held this many delays; 0: never

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> Params:
        defaults = {f.name: f.default for f in fields(cls)}
        try:
            values = cls(**{k: type(defaults[k])(v) for k, v in params.items() if k in defaults})
        except (TypeError, ValueError) as exc:
            raise GradingError(f"bad {KIND} grader parameters {dict(params)!r}: {exc}") from None
        if not 2 <= values.calls <= 50 or not 10 <= values.delay_ms <= 5000:
            raise GradingError(f"{KIND}: calls must be 2..50 and delay_ms 10..5000")
        if not 1 <= values.max_slowdown <= 5:
            raise GradingError(f"{KIND}: max_slowdown must be 1..5")
        if values.stop_after_delays != 0 and not 1 <= values.stop_after_delays <= values.calls:
            raise GradingError(f"{KIND}: stop_after_delays must be 0 (never stop early) or 1..calls")
        return values

    def settings(self) -> RunSettings:
        # A run whose loop is held for two of the server's delays (and past the bound) is decided: it fails
        # the loop check whatever the other calls do, so it stops there instead of waiting out every call.
        delay = self.delay_ms / 1000
        stop = max(self.stop_after_delays * delay, 2 * self.bounds()["blocked"]) if self.stop_after_delays else None
        return RunSettings(calls=self.calls, delay=delay, stop_held=stop)

    def slowdown(self, yardstick: float) -> float:
        """How much slower than nominal this machine computed, from the yardstick's CPU seconds: 1..max_slowdown."""
        return min(max(1.0, yardstick / NOMINAL_YARDSTICK), self.max_slowdown) if yardstick > 0 else 1.0

    def bounds(self, slowdown: float = 1.0) -> dict[str, float]:
        return {
            "blocked": max(self.blocked_floor_ms, self.blocked_ms_per_call * self.calls) / 1000,
            "computing": self.computing_ms_per_call * self.calls * slowdown / 1000,
            "slowdown": slowdown,
        }


def _syntax_verdict(error: SyntaxError) -> Verdict:
    # Some messages name the line already ("unterminated string literal (detected at line 4)"): say it once.
    mentions_line = error.lineno is not None and f"line {error.lineno}" in (error.msg or "")
    where = f" (line {error.lineno})" if error.lineno and not mentions_line else ""
    message = f"solution.py does not parse: {error.msg}{where}."
    # The page shows the feedback and each check's message: the check's own words do not repeat it.
    check = Check(
        "runs", False, {"syntax_error": error.msg, "line": error.lineno}, "The code did not parse, so it never ran."
    )
    return Verdict(passed=False, quality=0, checks=(check,), feedback=message)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def judge(code: str, m: Measurements, params: Params) -> Verdict:
    """Checks, verdict, quality and feedback from the measurements of one run."""
    limit = params.bounds(params.slowdown(m.yardstick))
    runs = Check(
        "runs",
        m.imported and m.coroutine_function,
        {"imported": m.imported, "coroutine_function": m.coroutine_function},
        "" if m.imported and m.coroutine_function else feedback.load_feedback(m),
    )
    if not runs.passed:
        return Verdict(False, 0, (runs,), runs.message)

    # A stopped run is judged on the calls that had returned: the rest never got the chance.
    results_ok = m.right == m.answered > 0 if m.stopped else m.right == m.calls
    results = Check(
        "results",
        results_ok,
        {"right": m.right, "calls": m.calls, "returned": m.answered, "stopped": m.stopped, "requests": m.requests},
        feedback.results_feedback(m),
    )
    loop_ok = m.finished and not m.stopped and m.holding <= limit["blocked"] and m.cpu <= limit["computing"]
    loop = Check(
        "loop",
        loop_ok,
        {
            "window_ms": _ms(m.window),
            "computing_ms": _ms(m.cpu),
            "loop_cpu_ms": _ms(m.loop_cpu),
            "harness_timer_cpu_ms": _ms(m.harness_cpu),
            "harness_tick_cpu_us": round(m.tick_cpu * 1e6),
            "harness_ticks": round(m.ticks),
            "blocked_ms": _ms(m.holding),
            "waiting_for_cpu_ms": _ms(m.runqueue),
            "child_startup_cpu_ms": _ms(m.startup_cpu),
            "unwatched_ms": _ms(m.unwatched),
            "longest_gap_ms": round(m.longest_gap * 1000, 1),
            "blocked_by_kind_ms": {k: _ms(v) for k, v in sorted(m.by_kind.items())},
            "blocked_by_syscall_ms": {k: _ms(v) for k, v in sorted(m.by_syscall.items())},
            "bound_computing_ms": _ms(limit["computing"]),
            "yardstick_us": round(m.yardstick * 1e6),
            "slowdown": round(limit["slowdown"], 2),
            "bound_blocked_ms": _ms(limit["blocked"]),
            "answered": m.answered,
            "blocking_lines": [
                {
                    "line": b.line,
                    "code": b.code,
                    "held_ms": _ms(b.held),
                    "calls": b.calls,
                    "per_call_ms": _ms(b.per_call),
                    "kind": b.kind,
                }
                for b in m.blame[:3]
                if b.line is not None
            ],
        },
        feedback.loop_feedback(m, limit, loop_ok),
    )
    overlap = Check(
        "overlap",
        m.max_in_flight >= params.min_in_flight,
        {
            "max_in_flight": m.max_in_flight,
            "needed": params.min_in_flight,
            "calls": m.calls,
            "unmatched_requests": m.unmatched_requests,
        },
        feedback.overlap_feedback(m, params.min_in_flight, loop_blocked=m.holding > limit["blocked"]),
    )
    checks = (runs, results, loop, overlap)
    passed = all(c.passed for c in checks)
    if passed:
        margin = max(m.cpu / limit["computing"], m.holding / limit["blocked"])
        quality = 5 if margin <= feedback.TOP_MARGIN else 4
    elif results.passed:
        quality = 2
    else:
        quality = 1

    hints = feedback.ruff_hints(code)
    if passed:
        summary = "Passed: right results, the event loop kept running, and the calls overlapped."
    else:
        failed = [c.name for c in checks if not c.passed]
        summary = "Not yet: " + ", ".join(failed) + (" check failed." if len(failed) == 1 else " checks failed.")
    text = [summary] + [c.message for c in (results, loop, overlap) if c.message]
    unawaited = feedback.never_awaited_feedback(m)
    if unawaited:
        text.append(unawaited)
    hint = feedback.hint_feedback(hints, loop_ok)
    if hint:
        text.append(hint)
    if passed and quality < 5:
        text.append(feedback.below_five(m.cpu, m.holding, limit["computing"], limit["blocked"]))
    return Verdict(passed, quality, checks, "\n\n".join(text))


def grade_async_blocking_call(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade a learner's `async def get_data(url)` in the sandbox against the fixture server."""
    started = time.monotonic()
    p = Params.from_mapping(params)
    try:
        ast.parse(code, filename="solution.py")
    except SyntaxError as exc:
        return _syntax_verdict(exc)
    except (ValueError, RecursionError, MemoryError) as exc:
        return _syntax_verdict(SyntaxError(str(exc)))
    outcome = run_once(code, p.settings())
    m = measure(outcome)
    if m.coroutine_function and not m.observed:
        raise GradingError("the event loop's thread could not be observed from outside while the calls ran")
    verdict = judge(code, m, p)
    loop = next((c for c in verdict.checks if c.name == "loop"), None)
    blocked_bound = p.bounds()["blocked"]
    if loop is not None and loop.passed and m.holding + m.unwatched > blocked_bound:
        # The sampler fell behind (a busy machine) long enough that an unseen wait could have held the loop
        # past the bound: a pass would rest on what was not watched. Not the learner's doing: grade again.
        raise GradingError(
            f"the event loop's thread went unwatched for {_ms(m.unwatched)} ms off the CPU (the machine was busy), "
            f"too long to rule out a blocking wait past the {_ms(blocked_bound)} ms bound"
        )
    text = verdict.feedback
    limit_hit = outcome.sandbox.limit_hit
    if limit_hit and not verdict.passed:
        what = LIMIT_WORDS.get(limit_hit, limit_hit)
        text += f"\n\nThe sandbox stopped your code: it went past the {what} limit."
    timings = {
        "total_seconds": round(time.monotonic() - started, 3),
        "sandbox_seconds": round(outcome.sandbox.wall_seconds, 3),
        "fixture_delay_seconds": p.delay_ms / 1000,
    }
    return Verdict(
        verdict.passed, verdict.quality, verdict.checks, text, timings, output=program_output(outcome.sandbox)
    )
