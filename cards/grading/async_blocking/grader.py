"""The `async_blocking_call` grader: is `get_data(url)` right, does the loop keep running, do calls overlap?

Every verdict rests on what the fixture saw from outside the learner's process:
the bodies it sent (fresh and random per request), the heartbeat's arrival times
(stamped by the kernel), the scheduler's accounting of the loop thread, and the
requests in flight. The bounds on the loop come from the seed's own fix (the
challenge's reference.py), measured in the same sandbox on this machine once
per process. Because a stall is split into "computing" and "asleep" by the
scheduler's figures, and "waiting for a CPU" is excused, the bounds hold on a
loaded machine too: a blocking call sleeps just as long whatever the load.

Parameters (Challenge.grader_params), all optional:
    calls (10), delay_ms (250: how long the server holds each response),
    computing_factor (2.5) and computing_floor_ms (300),
    blocked_factor (2.0) and blocked_floor_ms (150): the loop bounds,
    bound = max(floor, factor × the reference's figure),
    min_in_flight (2): requests in flight at once for the calls to count as overlapping.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cards.grading.base import Check, GradingError, Verdict, register

from . import feedback
from .analysis import Measurements, measure
from .runner import RunSettings, run_once

KIND = "async_blocking_call"
REFERENCE = Path(__file__).resolve().parents[2] / "challenges" / "async-blocking-call" / "reference.py"
STALL_THRESHOLD = 0.03
LIMIT_WORDS = {
    "wall_seconds": "time",
    "cpu_seconds": "CPU time",
    "memory_mb": "memory",
    "output_bytes": "output (what it printed)",
}
CALIBRATION_RUNS = 2


@dataclass(frozen=True, slots=True)
class Params:
    """The grader's parameters, with defaults."""

    calls: int = 10
    delay_ms: float = 250
    computing_factor: float = 2.5
    computing_floor_ms: float = 300
    blocked_factor: float = 2.0
    blocked_floor_ms: float = 150
    min_in_flight: int = 2

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> Params:
        defaults = {f.name: f.default for f in fields(cls)}
        try:
            values = cls(**{k: type(defaults[k])(v) for k, v in params.items() if k in defaults})
        except (TypeError, ValueError) as exc:
            raise GradingError(f"bad {KIND} grader parameters {dict(params)!r}: {exc}") from None
        if not 2 <= values.calls <= 50 or not 10 <= values.delay_ms <= 5000:
            raise GradingError(f"{KIND}: calls must be 2..50 and delay_ms 10..5000")
        return values

    def settings(self) -> RunSettings:
        return RunSettings(calls=self.calls, delay=self.delay_ms / 1000)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The seed's fix measured in the sandbox: how long it holds the loop, computing and asleep."""

    computing: float
    blocked: float
    seconds: float


_calibrations: dict[tuple[int, float], Calibration] = {}
_calibration_lock = threading.Lock()


def calibrate(params: Params) -> Calibration:
    """Measure the reference solution (cached per process and per calls/delay); it must pass."""
    key = (params.calls, params.delay_ms)
    with _calibration_lock:
        if key in _calibrations:
            return _calibrations[key]
        started = time.monotonic()
        reference = REFERENCE.read_text(encoding="utf-8")
        runs = []
        for _ in range(CALIBRATION_RUNS):
            outcome = run_once(reference, params.settings())
            m = measure(outcome.report, outcome.tokens, threshold=STALL_THRESHOLD)
            _require_observed(m, outcome.report)
            if m.right != m.calls or m.max_in_flight < params.min_in_flight:
                raise GradingError(
                    f"the reference solution does not pass here ({m.right}/{m.calls} right, "
                    f"{m.max_in_flight} in flight): the sandbox or the fixture is not working"
                )
            runs.append(m)
        # The larger of the runs: a bound should not rest on one lucky measurement.
        calibration = Calibration(
            computing=max(m.computing for m in runs),
            blocked=max(m.blocked for m in runs),
            seconds=time.monotonic() - started,
        )
        _calibrations[key] = calibration
        return calibration


def _require_observed(m: Measurements, report: dict[str, Any]) -> None:
    """The loop thread must have been observed from outside, or no loop verdict can be given."""
    if m.stalls and not m.observed:
        reason = report.get("sched_error") or "no samples of the loop thread"
        raise GradingError(f"cannot observe the sandboxed loop thread from outside: {reason}")


def bounds(params: Params, calibration: Calibration) -> dict[str, float]:
    """The loop bounds: a floor, or a multiple of the reference's figure, whichever is larger."""
    return {
        "computing": max(params.computing_floor_ms / 1000, params.computing_factor * calibration.computing),
        "blocked": max(params.blocked_floor_ms / 1000, params.blocked_factor * calibration.blocked),
    }


def _syntax_verdict(error: SyntaxError) -> Verdict:
    where = f"line {error.lineno}" if error.lineno else "the code"
    message = f"solution.py does not parse: {error.msg} ({where})."
    check = Check("runs", False, {"syntax_error": error.msg, "line": error.lineno}, message)
    return Verdict(passed=False, quality=0, checks=(check,), feedback=message)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def judge(code: str, m: Measurements, params: Params, calibration: Calibration) -> Verdict:
    """Checks, verdict, quality and feedback from the measurements of one run."""
    limit = bounds(params, calibration)
    runs = Check(
        "runs",
        m.imported and m.coroutine_function,
        {"imported": m.imported, "coroutine_function": m.coroutine_function},
        "" if m.imported and m.coroutine_function else feedback.load_feedback(m),
    )
    if not runs.passed:
        return Verdict(False, 0, (runs,), runs.message)

    results = Check(
        "results",
        m.right == m.calls,
        {"right": m.right, "calls": m.calls, "requests": m.requests},
        feedback.results_feedback(m),
    )
    loop_ok = m.finished and not m.tampering and m.computing <= limit["computing"] and m.blocked <= limit["blocked"]
    loop = Check(
        "loop",
        loop_ok,
        {
            "held_ms": _ms(m.held),
            "computing_ms": _ms(m.computing),
            "blocked_ms": _ms(m.blocked),
            "asleep_ms": _ms(m.asleep),
            "waiting_for_cpu_ms": _ms(m.waiting_for_cpu),
            "longest_stall_ms": _ms(m.longest),
            "stalls": len(m.stalls),
            "bound_computing_ms": _ms(limit["computing"]),
            "bound_blocked_ms": _ms(limit["blocked"]),
            "reference_computing_ms": _ms(calibration.computing),
            "reference_blocked_ms": _ms(calibration.blocked),
            "blocking_lines": [
                {"line": b.line, "code": b.code, "held_ms": _ms(b.held), "per_call_ms": _ms(b.held / m.calls)}
                for b in m.blame[:3]
                if b.line is not None
            ],
        },
        feedback.loop_feedback(m, limit, loop_ok),
    )
    overlap = Check(
        "overlap",
        m.max_in_flight >= params.min_in_flight,
        {"max_in_flight": m.max_in_flight, "needed": params.min_in_flight, "calls": m.calls},
        feedback.overlap_feedback(m, params.min_in_flight, loop_blocked=m.blocked > limit["blocked"]),
    )
    fair = Check(
        "fair_play",
        not m.tampering,
        {"problems": list(m.tampering)},
        "" if not m.tampering else "The grader's observer received data it did not expect: " + "; ".join(m.tampering),
    )
    checks = (runs, results, loop, overlap, fair)
    passed = all(c.passed for c in checks)
    if passed:
        margin = max(m.computing / limit["computing"], m.blocked / limit["blocked"])
        quality = 5 if margin <= 0.5 else 4
    elif not fair.passed:
        quality = 0
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
    text = [summary] + [c.message for c in (results, loop, overlap, fair) if c.message]
    hint = feedback.hint_feedback(hints, loop_ok)
    if hint:
        text.append(hint)
    return Verdict(passed, quality, checks, "\n\n".join(text))


@register(KIND)
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
    calibration = calibrate(p)
    graded = time.monotonic()
    outcome = run_once(code, p.settings())
    m = measure(outcome.report, outcome.tokens, threshold=STALL_THRESHOLD)
    _require_observed(m, outcome.report)
    verdict = judge(code, m, p, calibration)
    text = verdict.feedback
    limit_hit = outcome.sandbox.limit_hit
    if limit_hit and not verdict.passed:
        what = LIMIT_WORDS.get(limit_hit, limit_hit)
        text += f"\n\nThe sandbox stopped your code: it went past the {what} limit."
    timings = {
        "total_seconds": round(time.monotonic() - started, 3),
        "run_seconds": round(time.monotonic() - graded, 3),
        "sandbox_seconds": round(outcome.sandbox.wall_seconds, 3),
        "fixture_delay_seconds": p.delay_ms / 1000,
        "calibration_seconds": round(calibration.seconds, 3),
    }
    return Verdict(verdict.passed, verdict.quality, verdict.checks, text, timings)
