"""Grader `cpu_offload`: CPU-bound work inside an async handler must not freeze the event loop.

The learner writes `async def handle(seed, rounds)` returning `work.crunch(seed,
rounds)` (pure-Python CPU work the harness provides). The harness calls it for
several seeds at once while a heartbeat coroutine ticks in the same loop; the
ticks travel to the grader, which times them with its own clock. The longest
gap between ticks is the longest the loop froze.

The bound is calibrated in the same run, on the same machine, under the same
load: before the learner's module is even imported, the harness runs one call
directly on the loop (the freeze to expect from the mistake) and then offloads
every call to a process pool (the freeze to expect from the fix; those calls
also give the expected results). `asyncio.to_thread` is judged by what the
loop measurably gets: pure-Python work in threads competes with the loop for
the GIL, and on a busy machine that starves the loop past the bound.

Params (all optional): calls (number of concurrent calls, default 3), rounds
(crunch rounds per call, default 1500000, about 0.4 to 2 s here depending on load: enough that
legitimate offloading, such as starting a pool or a subprocess, costs the loop well under half of
one call), interval (heartbeat
seconds, default 0.01), timeout (seconds for all calls, default 20), limits
(sandbox limit overrides).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from .base import Check, GradingError, Verdict, register
from .measure import Recording, Run, join_lines, max_gap, ms, require_params, run_harness

PARAMS = {
    "calls": (int, 3),
    "rounds": (int, 1_500_000),
    "interval": (float, 0.01),
    "timeout": (float, 20.0),
    "limits": (dict, {}),
}
DEFAULT_LIMITS = {"cpu_seconds": 20, "wall_seconds": 40, "max_processes": 64}
ATTEMPTS = 2
RETRY_PAUSE_SECONDS = 2.0


class TooBusy(GradingError):
    """The calibration could not separate a frozen loop from a slow machine in this run."""


def stall_bound(calib_gap: float, per_call: float) -> float:
    """The longest loop freeze allowed, given the longest freeze while a process pool did the work
    and the freeze of one call run right on the loop.

    Three times the pool's freeze leaves room for load changing within the run; the 100 ms
    floor (a delay people notice) keeps an idle machine from demanding single-digit
    milliseconds; and a freeze under half of one call cannot hold that call's work, so
    offloading that costs the loop a little more than a warm pool (starting a subprocess
    per call) still passes.
    """
    return max(3 * calib_gap, calib_gap + 0.05, 0.1, per_call / 2)


@register("cpu_offload")
def grade_cpu_offload(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade a `handle(seed, rounds)` coroutine on results and on the loop's longest freeze."""
    p = require_params(params, PARAMS)
    if not 1 <= p["calls"] <= 8 or not 1_000 <= p["rounds"] <= 5_000_000:
        raise GradingError("grader params: calls must be 1..8 and rounds 1000..5000000")
    rng = random.SystemRandom()
    seeds = [rng.randrange(1, 2**31) for _ in range(p["calls"])]
    spec = {"seeds": seeds, "rounds": p["rounds"], "interval": p["interval"], "timeout": p["timeout"]}
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_SECONDS)  # the machine was too busy to tell: give the load a moment to pass
        run = run_harness("cpu_offload", {"solution.py": code}, spec, {**DEFAULT_LIMITS, **p["limits"]})
        try:
            return judge(run, seeds, p["interval"], code)
        except TooBusy:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def judge(run: Run, seeds: list[int], interval: float, code: str = "") -> Verdict:
    """Turn one recorded run into a verdict."""
    rec = run.recording
    calib = rec.phase("calib")
    expected = rec.json_payload("expected")
    if calib is None or not isinstance(expected, list):
        raise GradingError(f"the calibration phase did not complete ({run.describe_failure()})")
    direct = rec.phase("direct")
    if direct is None:
        raise GradingError(f"the calibration phase did not complete ({run.describe_failure()})")
    per_call, _ = max_gap([e.at for e in rec.between(*direct, "hb")], *direct)
    calib_gap, _ = max_gap([e.at for e in rec.between(*calib, "hb")], *calib)
    bound = stall_bound(calib_gap, per_call)
    timings = {"process_pool_gap_ms": ms(calib_gap), "work_per_call_ms": ms(per_call), "bound_ms": ms(bound)}

    learner = rec.phase("learner")
    results = rec.json_payload("result")
    if learner is None or results is None:
        failure = run.describe_failure()
        check = Check("runs", False, {"status": run.result.status}, f"Your code did not finish the calls: {failure}.")
        return Verdict(False, 0, (check,), f"Your code did not finish the calls: {failure}.", timings)

    gap, gap_at = max_gap([e.at for e in rec.between(*learner, "hb")], *learner)
    right = sum(1 for got, want in zip(results, expected, strict=False) if got == want)
    results_ok = right == len(expected) and len(results) == len(expected)
    loop_ok = gap <= bound
    if loop_ok and gap >= 0.8 * per_call:
        # Within the bound, yet as long as one call run right on the loop: on a machine this busy the two
        # cannot be told apart, so no verdict would be fair.
        raise TooBusy(
            f"the machine is too busy to tell a frozen loop from a slow one right now (one call on the loop froze "
            f"it {ms(per_call)} ms, a process pool {ms(calib_gap)} ms, this code {ms(gap)} ms); try again"
        )
    checks = (
        Check(
            "results",
            results_ok,
            {"right": right, "calls": len(expected)},
            f"{right} of {len(expected)} calls returned crunch(seed, rounds).",
        ),
        Check(
            "loop_responsive",
            loop_ok,
            {
                "longest_freeze_ms": ms(gap),
                "bound_ms": ms(bound),
                "process_pool_freeze_ms": ms(calib_gap),
                "one_call_on_the_loop_ms": ms(per_call),
            },
            f"The heartbeat (every {ms(interval)} ms) went {ms(gap)} ms without a tick; the bound is {ms(bound)} ms "
            f"(a process pool, measured in the same run, froze the loop for at most {ms(calib_gap)} ms).",
        ),
    )
    passed = results_ok and loop_ok
    timings = {**timings, "learner_phase_ms": ms(learner[1] - learner[0])}
    ticks = len(rec.between(*learner, "hb"))
    verdict_feedback = join_lines([feedback(checks, gap, per_call, calib_gap, ticks), blamed_line(rec, code, loop_ok)])
    return Verdict(passed, quality(passed, results_ok, gap, bound), checks, verdict_feedback, timings)


def quality(passed: bool, results_ok: bool, gap: float, bound: float) -> int:
    """5 for a pass with a loop as free as the calibration's, 4 for a pass; 2 or less for a fail."""
    if passed:
        return 5 if gap <= bound / 2 else 4
    return 2 if results_ok or gap <= bound else 1


def blamed_line(rec: Recording, code: str, loop_ok: bool) -> str:
    """Name the line of the learner's code where a watchdog in the sandbox found the stuck loop.

    The watchdog samples the loop thread's stack while the heartbeat is stale; it runs inside the learner's
    process, so it only informs the feedback, never the verdict.
    """
    blame = rec.json_payload("blame")
    if loop_ok or not isinstance(blame, dict) or not blame:
        return ""
    line_text, held = max(blame.items(), key=lambda item: item[1])
    try:
        line = int(line_text)
    except ValueError:
        return ""
    lines = code.splitlines()
    source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"Line {line}" + (f", `{source}`," if source else "") + f" held the event loop for about {held} ms in all."


def feedback(checks: tuple[Check, ...], gap: float, per_call: float, pool_gap: float, ticks: int) -> str:
    """Plain words on what was measured and what it means."""
    results, loop = checks
    parts = []
    if not results.passed:
        parts.append(f"{results.message} Each call must return exactly what crunch(seed, rounds) returns.")
    if loop.passed:
        parts.append(
            f"The event loop stayed responsive: its longest freeze was {ms(gap)} ms while the CPU work "
            f"(about {ms(per_call)} ms a call) ran elsewhere."
        )
    elif ticks <= 2:
        calls_blocked = gap / per_call if per_call else 0
        parts.append(
            f"The event loop froze for {ms(gap)} ms at a stretch, about {calls_blocked:.1f}x the time one "
            f"crunch() call holds the loop when run on it directly ({ms(per_call)} ms): the CPU work ran on the "
            "loop's own thread, so no other coroutine (no other request) could run meanwhile. `await` only "
            "pauses at awaitables; a plain function call runs to the end. Hand the work to another process "
            "and await it: `await loop.run_in_executor(pool, crunch, seed, rounds)` with a ProcessPoolExecutor."
        )
    else:
        parts.append(
            f"The work left the loop's thread, but the loop still froze for {ms(gap)} ms at a stretch, against "
            f"{ms(pool_gap)} ms with a process pool in the same run. If you used threads (asyncio.to_thread, a "
            "ThreadPoolExecutor): pure-Python CPU work holds the GIL, and the loop's thread has to win it back "
            "from every busy worker thread before each tick. Processes each have their own GIL."
        )
    return join_lines(parts)
