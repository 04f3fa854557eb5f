"""Plain-words feedback for the blocking-call challenge: what went wrong, on which line, and for how long.

The verdict comes from outside measurements; this module only explains them. It
may use inside information (the watchdog's stack samples) and a static hint
(ruff's ASYNC rules, run on the code as text, never executing it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .analysis import LineBlame, Measurements

RUFF_SECONDS = 10.0


def ms(seconds: float) -> str:
    """Seconds as a rounded millisecond figure for people: 410 ms, 2,510 ms."""
    return f"{round(seconds * 1000):,} ms"


def ruff_hints(code: str) -> list[dict[str, Any]]:
    """ruff's ASYNC findings on the code, as {line, rule, message}; [] when ruff is not installed.

    ruff reads the code from stdin as text: nothing of it runs.
    """
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        return []
    try:
        done = subprocess.run(
            [ruff, "check", "--isolated", "--no-cache", "--ignore-noqa", "--select", "ASYNC"]
            + ["--output-format", "json", "--stdin-filename", "solution.py", "-"],
            input=code.encode("utf-8"),
            capture_output=True,
            timeout=RUFF_SECONDS,
        )
        findings = json.loads(done.stdout or b"[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    return [
        {"line": f["location"]["row"], "rule": f["code"], "message": f["message"]}
        for f in findings
        if isinstance(f, dict) and f.get("code")
    ]


def describe_error(error: dict[str, Any] | None) -> str:
    """`NameError at line 4 (`foo()`): name 'foo' is not defined`."""
    if not error:
        return "an unknown error"
    text = str(error.get("type", "Error"))
    frames = error.get("frames") or []
    if frames:
        last = frames[-1]
        text += f" at line {last.get('line')} (`{last.get('code', '')}`)"
    message = str(error.get("message", ""))
    return f"{text}: {message}" if message else text


def load_feedback(m: Measurements) -> str:
    """Why the module could not be graded at all."""
    error = m.load_error or {}
    match error.get("type"):
        case "NotACoroutineFunction":
            kind = error.get("message") or "something else"
            if kind == "missing":
                return "solution.py defines no `get_data`: write `async def get_data(url):` at the top level."
            return (
                f"`get_data` is a {kind}, not a coroutine function. Declare it with `async def get_data(url):` "
                "so the event loop can run ten calls at once and switch between them at each `await`."
            )
        case "SystemExit":
            return "Your module called sys.exit() while it was being imported, so get_data never ran."
        case "Ended":
            return "The process ended while solution.py was being imported (os._exit, a crash, or a limit)."
        case _:
            return f"Importing solution.py failed with {describe_error(error)}."


def results_feedback(m: Measurements) -> str:
    """What was wrong with the results, first problem of each kind."""
    if m.right == m.calls:
        return f"All {m.calls} results were exactly the JSON the server sent for each call."
    lines = [f"{m.calls - m.right} of {m.calls} results were wrong."]
    seen: set[str] = set()
    for outcome in m.results:
        if outcome["right"]:
            continue
        problem = outcome.get("problem", "")
        if problem == "raised":
            text = f"call {outcome['call'] + 1} raised {describe_error(outcome.get('error'))}"
        elif problem == "returned":
            error = outcome.get("error") or {}
            if error.get("type") == "NotACoroutine":
                text = "calling get_data did not give a coroutine to await"
            else:
                text = f"call {outcome['call'] + 1} returned something that is not JSON data ({error.get('message')})"
                if "coroutine" in str(error.get("message")):
                    text += "; a coroutine was never awaited: put `await` in front of the async call"
        else:
            text = f"call {outcome['call'] + 1} {problem}"
            if "as text" in problem:
                text += ": return `response.json()`"
        key = text.split(" ", 2)[-1]
        if key not in seen:
            seen.add(key)
            lines.append(text[:1].upper() + text[1:] + ".")
        if len(seen) >= 3:
            break
    return " ".join(lines)


def blame_sentence(blame: LineBlame, calls: int) -> str:
    """'Line 5, `requests.get(url)`, held the event loop for 251 ms per call, asleep in a blocking call.'"""
    per_call = blame.held / max(1, calls)
    what = "computing on the CPU" if blame.computing > blame.held / 2 else "asleep in a blocking call"
    if blame.line is not None:
        where = f"Line {blame.line}, `{blame.code}`,"
    else:
        where = f"Code outside solution.py ({blame.where}),"
    return f"{where} held the event loop for {ms(per_call)} per call ({ms(blame.held)} in all), {what}."


BLOCKED_ADVICE = (
    "While a call waits like that, the whole event loop waits with it: no other call, no other task can run. "
    "Await an async client (`async with httpx.AsyncClient() as client: await client.get(url)`) or move the "
    "blocking call off the loop with `await asyncio.to_thread(...)`."
)
COMPUTING_ADVICE = (
    "That is CPU-bound work on the event loop's thread: while it computes nothing else runs. Offload it with "
    "`await asyncio.to_thread(...)`, or `loop.run_in_executor(...)` with a process pool for heavy work."
)


def loop_feedback(m: Measurements, bounds: dict[str, float], passed: bool) -> str:
    """How long the loop was held, by what, and what to do about it."""
    if m.tampering:
        return "The heartbeat could not be trusted (see below), so the event loop could not be judged."
    if not m.finished and not m.stalls:
        return "The calls never finished, so the event loop could not be judged."
    if m.held < 0.01 and passed:
        return "The event loop never stalled."
    parts = [
        f"The event loop was held for {ms(m.held)} in all: {ms(m.computing)} computing and {ms(m.blocked)} "
        f"blocked in calls that wait. The bounds, from the seed's fix measured on this machine, are "
        f"{ms(bounds['computing'])} computing and {ms(bounds['blocked'])} blocked."
    ]
    if m.waiting_for_cpu >= 0.1:
        parts.append(f"(It also waited {ms(m.waiting_for_cpu)} for a CPU on this busy machine; that does not count.)")
    if not m.finished:
        parts.append("The process ended before the calls did, with the loop stalled.")
    # Name lines of solution.py; code elsewhere only when it held the loop for a noticeable time.
    top = [b for b in m.blame if b.held >= 0.02 and (b.line is not None or b.held >= 0.1)][:2]
    if top:
        parts.append(blame_sentence(top[0], m.calls))
        if len(top) > 1:
            parts.append("Next: " + blame_sentence(top[1], m.calls))
    if passed:
        parts.append("That is within the bounds: the loop kept running while the requests were in flight.")
        return " ".join(parts)
    # Advice for each bound passed, the one passed by more first.
    over = sorted(
        [
            (m.blocked / bounds["blocked"], BLOCKED_ADVICE),
            (m.computing / bounds["computing"], COMPUTING_ADVICE),
        ],
        reverse=True,
    )
    parts.extend(advice for ratio, advice in over if ratio > 1)
    return " ".join(parts)


def overlap_feedback(m: Measurements, minimum: int, loop_blocked: bool = False) -> str:
    """Whether the calls overlapped at the server, and the likely reason when they did not."""
    if m.max_in_flight >= minimum:
        return f"Up to {m.max_in_flight} requests were in flight at once at the server: the calls overlapped."
    if m.max_in_flight == 0:
        return "No request reached the server while the calls ran."
    if loop_blocked:
        return (
            f"At most {m.max_in_flight} request was in flight at once: each call held the event loop until its "
            "response came, so the next call could not even start. Ten calls ran one after another."
        )
    return (
        f"At most {m.max_in_flight} request was in flight at once: the calls ran one after another although the "
        "loop was free. A lock or a one-slot semaphore around the request serialises them; let them overlap."
    )


def hint_feedback(hints: list[dict[str, Any]], loop_passed: bool) -> str:
    """ruff's ASYNC findings as a hint (never the verdict)."""
    if not hints:
        return ""
    listed = "; ".join(f"line {h['line']}: {h['rule']} {h['message']}" for h in hints[:3])
    if loop_passed:
        return f"ruff's ASYNC rules flag {listed}; the grader measured no stall from it (perhaps it never runs)."
    return f"Hint from ruff's ASYNC rules: {listed}."
