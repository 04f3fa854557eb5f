"""Grader `spot_blocking`: the learner marks the lines of an async program that block its event loop.

The program is the challenge's (`program` in the params); the learner's
submission is only line numbers, e.g. `14, 24` or one per line (`#` starts a
comment). The answer key is measured, not written: the program runs in the
sandbox (by default next to an HTTP fixture it can call at
`os.environ["FIXTURE_URL"]`, e.g. `/slow?ms=300`), a heartbeat ticks in its
event loop and a watchdog thread samples the loop thread's stack while the
heartbeat is stale. Time is charged to the program's lines on the stack, from
the coroutine the loop is running down to the sync helper it called; a line
that held the loop at least `min_block_ms` in every run is in the key. So an
author can add a program in the admin and never write a key.

Lines count by statement: any line of a multi-line statement names it. A
blocking call inside a sync helper can be marked at the helper's line or at
the coroutine's line that called it.

Params: program (required), fixture (default true), min_block_ms (default
100), runs (default 2), stale_ms (default 20), sample_ms (default 2),
timeout (default 20), limits.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import Check, GradingError, Verdict
from .measure import HttpFixture, join_lines, require_params, run_harness

PARAMS = {
    "program": (str, ...),
    "fixture": (bool, True),
    "min_block_ms": (int, 100),
    "runs": (int, 2),
    "stale_ms": (int, 20),
    "sample_ms": (int, 2),
    "timeout": (float, 20.0),
    "limits": (dict, {}),
}
DEFAULT_LIMITS = {"cpu_seconds": 20, "wall_seconds": 40}
_KEYS_LOCK = threading.Lock()
_KEYS: dict[str, Key] = {}  # per process: a program's blocking lines do not change between gradings


@dataclass(frozen=True, slots=True)
class Site:
    """Where the loop was held: statement starts from the running coroutine inwards, and for how long."""

    statements: tuple[int, ...]
    ms: int  # the smallest total over the runs


@dataclass(frozen=True, slots=True)
class Key:
    """The measured answer: blocking sites, and the sites that held the loop less than the bound."""

    blocking: tuple[Site, ...]
    minor: tuple[Site, ...]
    unattributed_ms: int


class Program:
    """The challenge's program as text, with each line mapped to the statement it belongs to."""

    def __init__(self, source: str) -> None:
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise GradingError(f"grader params: the program does not parse (line {exc.lineno}: {exc.msg})") from None
        self.lines = source.splitlines()
        self._statement: dict[int, int] = {}
        self._function: dict[int, str] = {}
        self._walk(tree.body, None)

    def _walk(self, body: list[ast.stmt], function: str | None) -> None:
        for node in body:
            children = [getattr(node, name) for name in ("body", "orelse", "finalbody") if getattr(node, name, None)]
            children += [handler.body for handler in getattr(node, "handlers", [])]
            children += [case.body for case in getattr(node, "cases", [])]
            # A compound statement owns its header lines only; its body's statements own theirs.
            first_child = min((block[0].lineno for block in children if block), default=None)
            header_end = (first_child - 1) if first_child else (node.end_lineno or node.lineno)
            for line in range(node.lineno, max(header_end, node.lineno) + 1):
                self._statement.setdefault(line, node.lineno)
                self._function.setdefault(line, function or "")
            inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else function
            for block in children:
                self._walk(block, inner)

    def statement(self, line: int) -> int | None:
        """The first line of the statement that `line` belongs to, or None (blank, comment, out of range)."""
        return self._statement.get(line)

    def function(self, line: int) -> str:
        """The name of the function whose body holds `line` ('' at module level)."""
        return self._function.get(line, "")

    def text(self, line: int) -> str:
        """The source text of `line`, stripped."""
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


def parse_answer(code: str) -> tuple[list[int], list[str]]:
    """Line numbers from the submission (commas, spaces or new lines between; `#` comments), and bad tokens."""
    numbers, bad = [], []
    for raw in code.splitlines():
        for token in re.split(r"[\s,;]+", raw.split("#", 1)[0]):
            if not token:
                continue
            if token.isdigit():
                numbers.append(int(token))
            else:
                bad.append(token)
    return numbers, bad


def measure_key(params: Mapping[str, Any]) -> Key:
    """Run the program `runs` times in the sandbox and return its blocking sites (cached per process)."""
    p = require_params(params, PARAMS)
    program = Program(p["program"])
    cache_key = hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()
    with _KEYS_LOCK:  # gradings running side by side in one worker measure a program once
        if cache_key not in _KEYS:
            _KEYS[cache_key] = _measure(p, program)
        return _KEYS[cache_key]


def _measure(p: Mapping[str, Any], program: Program) -> Key:
    if not 1 <= p["runs"] <= 5 or not 1 <= p["sample_ms"] <= p["stale_ms"] <= 1000:
        raise GradingError("grader params: runs must be 1..5 and 1 <= sample_ms <= stale_ms <= 1000")
    totals: list[dict[tuple[int, ...], int]] = []
    unattributed = 0
    for _ in range(p["runs"]):
        data = _run_program(p)
        per_site: dict[tuple[int, ...], int] = {}
        for site in data["sites"]:
            statements = tuple(dict.fromkeys(s for line in site["chain"] if (s := program.statement(line))))
            if statements:
                per_site[statements] = per_site.get(statements, 0) + int(site["ms"])
        totals.append(per_site)
        unattributed = max(unattributed, int(data["unattributed_ms"]))
    every = set().union(*totals)
    sites = [Site(s, min(run.get(s, 0) for run in totals)) for s in sorted(every)]
    blocking = tuple(site for site in sites if site.ms >= p["min_block_ms"])
    minor = tuple(site for site in sites if site.ms < p["min_block_ms"])
    if not blocking:
        raise GradingError("the program never held its event loop for min_block_ms: there is nothing to spot")
    return Key(blocking, minor, unattributed)


def _run_program(p: Mapping[str, Any]) -> dict[str, Any]:
    from cards.sandbox import NetworkNamespace, SandboxUnavailable

    spec = {"stale": p["stale_ms"] / 1000, "sample": p["sample_ms"] / 1000, "timeout": p["timeout"], "base": None}
    limits = {**DEFAULT_LIMITS, **p["limits"]}
    files = {"program.py": p["program"]}
    try:
        if p["fixture"]:
            with NetworkNamespace() as ns, HttpFixture(ns) as server:
                run = run_harness("spot_blocking", files, {**spec, "base": server.url}, limits, ns)
        else:
            run = run_harness("spot_blocking", files, spec, limits)
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable, so the program was not run: {exc}") from exc
    data = run.recording.json_payload("sites")
    if run.error or not isinstance(data, dict) or not run.result.ok:
        raise GradingError(f"the challenge's program did not run cleanly: {run.describe_failure()}")
    return data


def grade_spot_blocking(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade the marked line numbers against the program's measured blocking lines."""
    key = measure_key(params)
    program = Program(params["program"])
    numbers, bad = parse_answer(code)
    if bad:
        message = f"Could not read {', '.join(repr(t) for t in bad[:5])}: write line numbers only, e.g. `14, 24`."
        return Verdict(False, 0, (Check("answer", False, {"unreadable": bad[:20]}, message),), message)

    marked: dict[int, int] = {}  # statement -> the line the learner wrote
    not_code = []
    for line in numbers:
        statement = program.statement(line)
        if statement is None:
            not_code.append(line)
        else:
            marked.setdefault(statement, line)
    found = [site for site in key.blocking if any(s in marked for s in site.statements)]
    missed = [site for site in key.blocking if site not in found]
    covered = {s for site in key.blocking for s in site.statements}
    wrong = [statement for statement in marked if statement not in covered]

    passed = not missed and not wrong and not not_code
    errors = len(missed) + len(wrong) + len(not_code)
    quality = 5 if passed else (2 if errors == 1 else (1 if found else 0))
    check = Check(
        "blocking_lines",
        passed,
        {
            "blocking_lines": len(key.blocking),
            "found": len(found),
            "missed": len(missed),
            "wrongly_marked": sorted(marked[s] for s in wrong),
            "not_code": not_code,
        },
        f"You found {len(found)} of the {len(key.blocking)} lines that block the loop"
        + (f" and marked {len(wrong)} that do not" if wrong else "")
        + ".",
    )
    answer_key = {
        "blocking_lines": [
            {
                "line": site.statements[-1],
                "code": program.text(site.statements[-1]),
                "held_ms": site.ms,
                # The coroutine lines that called it (marking one of them counts too), outermost first.
                "called_from": [{"line": s, "code": program.text(s)} for s in site.statements[:-1]],
            }
            for site in key.blocking
        ]
    }
    return Verdict(
        passed, quality, (check,), feedback(program, key, found, missed, wrong, not_code, marked), answer_key=answer_key
    )


def feedback(
    program: Program,
    key: Key,
    found: list[Site],
    missed: list[Site],
    wrong: list[int],
    not_code: list[int],
    marked: dict[int, int],
) -> str:
    """Say what each marked line measured; for misses, hint at where without giving the line away."""
    minor = {s: site.ms for site in key.minor for s in site.statements}
    parts = []
    for site in found:
        line = next(s for s in site.statements if s in marked)
        parts.append(f"Line {marked[line]}, `{program.text(line)}`: held the event loop {site.ms} ms in total. Right.")
    for statement in wrong:
        line = marked[statement]
        held = minor.get(statement, 0)
        parts.append(
            f"Line {line}, `{program.text(statement)}`: measured holding the loop {held} ms, so it does not block it"
            + (
                ": an `await` there pauses this coroutine and the loop runs others meanwhile."
                if "await" in program.text(statement)
                else "."
            )
        )
    for line in not_code:
        parts.append(f"Line {line} is not a statement of the program (blank, a comment, or past the end).")
    if missed:
        where = sorted({f"`{program.function(site.statements[0]) or 'module level'}()`" for site in missed})
        parts.append(
            f"{len(missed)} blocking line{'s' if len(missed) > 1 else ''} not marked yet, in {', '.join(where)}. "
            "Look for calls that wait or compute without `await`: time.sleep, a synchronous HTTP client, "
            "heavy work done right in the coroutine."
        )
    if not missed and not wrong and not not_code:
        parts.append("All of them, and nothing else: each of these runs on the loop's thread without an `await`.")
    return join_lines(parts)
