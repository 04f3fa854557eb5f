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

from cards.grading.kernel import COMPUTING, HOLDING

from .analysis import KIND_WORDS, LineBlame, Measurements

RUFF_SECONDS = 10.0


def ms(seconds: float) -> str:
    """Seconds as a rounded millisecond figure for people: 410 ms, 2,510 ms."""
    return f"{round(seconds * 1000):,} ms"


def ms_fine(seconds: float) -> str:
    """Like ms(), with a tenth under 10 ms, where rounding would misstate a bound: 1.5 ms, not 2 ms."""
    value = seconds * 1000
    return f"{value:.1f} ms".replace(".0 ms", " ms") if value < 10 else ms(seconds)


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
        case "SyntaxError":
            return f"solution.py does not parse: {error.get('message', '')}."
        case _:
            return f"Importing solution.py failed with {describe_error(error)}."


def results_feedback(m: Measurements) -> str:
    """What was wrong with the results, first problem of each kind."""
    if m.right == m.calls:
        return f"All {m.calls} results were exactly the JSON the server sent for each call."
    if m.stopped and m.right == m.answered > 0:
        if m.answered == 1:
            return "The one call that returned before the grader stopped the run gave exactly the JSON the server sent."
        return (
            f"The {m.answered} calls that returned before the grader stopped the run each gave exactly the JSON "
            "the server sent for its URL."
        )
    if m.stopped:
        wrong = m.answered - m.right
        lines = [
            f"{wrong} of the {m.answered} {'call' if m.answered == 1 else 'calls'} that returned before the "
            f"grader stopped the run {'was' if wrong == 1 else 'were'} wrong."
            if m.answered
            else "No call had returned when the grader stopped the run."
        ]
    else:
        lines = [f"{m.calls - m.right} of {m.calls} results were wrong."]
    seen: set[str] = set()
    for outcome in m.results:
        if outcome["right"] or (m.stopped and not outcome.get("answered")):
            continue
        problem = outcome.get("problem", "")
        if problem == "raised":
            text = f"call {outcome['call'] + 1} raised {describe_error(outcome.get('error'))}"
        elif problem == "returned":
            error = outcome.get("error") or {}
            if error.get("type") == "NotACoroutine":
                text = "calling get_data did not give a coroutine to await"
            elif "never awaited" in str(error.get("message")):
                text = (
                    f"call {outcome['call'] + 1} returned a coroutine that was never awaited: put `await` in "
                    "front of the async call"
                )
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


def blame_sentence(blame: LineBlame) -> str:
    """'Line 5, `requests.get(url)`, held the event loop for 251 ms per call (10 calls, 2,510 ms in all), ...'.

    The kind of hold is this line's own (from the kernel's view of the loop thread while the line ran);
    "per call" only when more than one call was seen on the line.
    """
    if blame.line is not None:
        where = f"Line {blame.line}, `{blame.code}`,"
    else:
        where = f"Code outside solution.py ({blame.where}),"
    what = KIND_WORDS.get(blame.kind, blame.kind)
    whole = blame.calls - blame.cut_calls
    if blame.cut_calls and whole > 0:
        how_long = (
            f"for {ms(blame.per_call)} per call ({whole} {'call' if whole == 1 else 'calls'} that returned, "
            f"{ms(blame.held)} in all with {'the one' if blame.cut_calls == 1 else 'those'} the grader cut short)"
        )
    elif blame.calls > 1:
        how_long = f"for {ms(blame.held / blame.calls)} per call ({blame.calls} calls, {ms(blame.held)} in all)"
    else:
        how_long = f"once, for {ms(blame.held)}"
    return f"{where} held the event loop {how_long}, {what}."


BLOCKED_ADVICE = (
    "While a call waits like that, the whole event loop waits with it: no other call, no other task can run. "
    "Await an async client (`async with httpx.AsyncClient() as client: await client.get(url)`), "
    "`await asyncio.sleep(...)` instead of `time.sleep(...)`, or move the blocking call off the loop with "
    "`await asyncio.to_thread(...)`."
)
COMPUTING_ADVICE = (
    "That is CPU-bound work on the event loop's thread: while it computes nothing else runs. Offload it with "
    "`await asyncio.to_thread(...)`, or `loop.run_in_executor(...)` with a process pool for heavy work."
)


def _waits(m: Measurements) -> str:
    """'sleeping (a call like time.sleep) 52 ms, waiting on a socket 3 ms'."""
    kinds = sorted(((k, v) for k, v in m.by_kind.items() if k in HOLDING and v >= 0.0005), key=lambda kv: -kv[1])
    return ", ".join(f"{KIND_WORDS.get(k, k)} {ms(v)}" for k, v in kinds)


def _timer_note(m: Measurements) -> str:
    if m.harness_cpu < 0.001:
        return ""
    return f", not counting {ms(m.harness_cpu)} the grader's own timer on the loop cost"


def loop_feedback(m: Measurements, bounds: dict[str, float], passed: bool) -> str:
    """How long the loop was held, by what (the kernel's view), on which line, and what to do about it."""
    if not m.finished and not m.stopped:
        return (
            f"Only {m.answered} of {m.calls} calls returned before the run ended, so the event loop could not "
            "be judged."
        )
    blocked_over = m.holding > bounds["blocked"]
    computing_over = m.cpu > bounds["computing"]
    parts = []
    if blocked_over:
        parts.append(
            f"While the calls ran, the event loop's thread was blocked for {ms(m.holding)} outside the loop's "
            f"own wait ({_waits(m)}); the bound is {ms(bounds['blocked'])} "
            f"({ms_fine(bounds['blocked'] / m.calls)} per call)."
        )
    if m.stopped:
        returned = "no call" if not m.answered else f"{m.answered} of {m.calls} calls"
        parts.append(
            f"The grader stopped the run there, when {returned} had returned: the loop was already held past the "
            "bound, and the remaining calls would only have repeated it."
        )
    if computing_over:
        parts.append(
            f"The event loop's thread computed for {ms(m.cpu)} of CPU time while the calls ran "
            f"({ms(m.cpu / m.calls)} per call{_timer_note(m)}); the bound is {ms(bounds['computing'])} "
            f"({ms_fine(bounds['computing'] / m.calls)} per call{_slowdown_note(bounds)})."
        )
    # Lines of solution.py; code elsewhere only when it held the loop for a noticeable time. The lines
    # behind the bound that was passed come first (a line that slept, when the loop was blocked too long).
    shown = [b for b in m.blame if b.held >= 0.004 and (b.line is not None or b.held >= 0.05)]
    wanted = (HOLDING if blocked_over else set()) | ({COMPUTING} if computing_over else set())
    top = sorted(shown, key=lambda b: (b.kind not in wanted, -b.held))[:2]
    if not passed:
        for index, blame in enumerate(top):
            parts.append(("Next: " if index else "") + blame_sentence(blame))
        if blocked_over:
            parts.append(BLOCKED_ADVICE)
        if computing_over:
            parts.append(COMPUTING_ADVICE)
        return " ".join(parts)
    if m.holding >= 0.001 or m.cpu >= 0.001:
        parts.append(
            f"The event loop kept running: its thread computed for {ms(m.cpu)} and was blocked for "
            f"{ms(m.holding)} while the calls ran, within the bounds ({ms(bounds['computing'])} computing, "
            f"{ms(bounds['blocked'])} blocked)."
        )
    else:
        parts.append("The event loop kept running: its thread never blocked while the calls ran.")
    return " ".join(parts)


def overlap_feedback(m: Measurements, minimum: int, loop_blocked: bool = False) -> str:
    """Whether the calls overlapped at the server, and the likely reason when they did not."""
    if m.max_in_flight >= minimum:
        return (
            f"Up to {m.max_in_flight} of the requests whose bodies your calls returned were in flight at once "
            "at the server: the calls overlapped."
        )
    if m.max_in_flight == 0:
        if m.requests:
            return (
                f"The server answered {m.requests} request(s), but no call returned a body it sent, so no "
                "overlap could be counted (only requests whose bodies the results carry count)."
            )
        return "No request reached the server while the calls ran."
    if loop_blocked:
        return (
            f"At most {m.max_in_flight} request was in flight at once: each call held the event loop until its "
            "response came, so the next call could not even start: the calls ran one after another."
        )
    return (
        f"At most {m.max_in_flight} request was in flight at once: the calls ran one after another although the "
        "loop was free. A lock or a one-slot semaphore around the request serialises them; let them overlap."
    )


def never_awaited_feedback(m: Measurements) -> str:
    """Coroutines created in solution.py and never awaited: they did nothing (an `await` is missing)."""
    lines = []
    for warning in m.never_awaited:
        line, code = warning.get("line"), str(warning.get("code") or "")
        if not isinstance(line, int):
            continue
        what = f"`{code}`" if code else "a coroutine"
        lines.append(
            f"Line {line}: {what} makes a coroutine that was never awaited, so it did nothing: "
            "put `await` in front of it."
        )
    return " ".join(dict.fromkeys(lines))


def hint_feedback(hints: list[dict[str, Any]], loop_passed: bool) -> str:
    """ruff's ASYNC findings as a hint (never the verdict)."""
    if not hints:
        return ""
    listed = "; ".join(f"line {h['line']}: {h['rule']} {h['message']}" for h in hints[:3])
    if loop_passed:
        return (
            f"ruff's ASYNC rules flag {listed}. The grader saw no blocking from it while the calls ran "
            "(perhaps that line never runs, or it runs off the loop)."
        )
    return f"Hint from ruff's ASYNC rules: {listed}."


# A pass scores 5 when the loop's thread stays within this share of each bound, 4 above it.
TOP_MARGIN = 0.6


def _slowdown_note(bounds: dict[str, float]) -> str:
    slowdown = bounds.get("slowdown", 1.0)
    if slowdown < 1.05:
        return ""
    return (
        f", raised {slowdown:.1f} times because this machine ran the grader's own yardstick that much slower than usual"
    )


def below_five(cpu: float, holding: float, bound_computing: float, bound_blocked: float) -> str:
    """Why a pass scored 4, not 5, and what would make it 5 (seconds in, words out)."""
    parts = []
    if cpu > TOP_MARGIN * bound_computing:
        parts.append(f"computed for {ms_fine(cpu)} (a 5 needs at most {ms_fine(TOP_MARGIN * bound_computing)})")
    if holding > TOP_MARGIN * bound_blocked:
        parts.append(f"was held for {ms_fine(holding)} (a 5 needs at most {ms_fine(TOP_MARGIN * bound_blocked)})")
    if not parts:
        return ""
    return (
        "Quality 4, not 5: the loop's thread "
        + " and ".join(parts)
        + ". The usual cost is set-up repeated for every call: "
        "make one `httpx.AsyncClient` and share it across the calls, and keep other work off the loop."
    )
