"""Grader `bounded_fanout`: fetch many URLs concurrently, but never more than `limit` at a time.

The learner writes `async def fetch_all(urls, limit)` returning the decoded
JSON of every URL, in order. A fixture HTTP server runs in the sandbox's own
network namespace (the only thing the code can reach); it answers each
`/item/<i>` after a delay with a secret random token and counts the requests
in flight. Everything the verdict rests on is counted by that server: the
highest number in flight (at most `limit`, and at least half of it, so the
calls really overlap) and whether each result carries the token the server
sent for that URL.

Params (all optional): n (URLs, default 1000), limit (default 20), delay_ms
(server delay per request, default 40), min_fraction (lowest peak allowed as a
fraction of limit, default 0.5), timeout (seconds, default 30), limits
(sandbox limit overrides).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .base import Check, GradingError, Verdict, register
from .measure import FixtureReport, HttpFixture, Run, join_lines, ms, require_params, run_harness

PARAMS = {
    "n": (int, 1000),
    "limit": (int, 20),
    "delay_ms": (int, 40),
    "min_fraction": (float, 0.5),
    "timeout": (float, 30.0),
    "limits": (dict, {}),
}
# A thousand sockets at once must be possible, or the unbounded answer dies of EMFILE before the server counts it.
DEFAULT_LIMITS = {"cpu_seconds": 30, "wall_seconds": 45, "memory_mb": 256, "open_files": 2048}


@register("bounded_fanout")
def grade_bounded_fanout(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade `fetch_all(urls, limit)` on the fixture server's counts: results right, peak in flight bounded."""
    p = require_params(params, PARAMS)
    if not 1 <= p["n"] <= 5000 or not 2 <= p["limit"] <= 500 or not 0 <= p["delay_ms"] <= 1000:
        raise GradingError("grader params: n must be 1..5000, limit 2..500, delay_ms 0..1000")
    from cards.sandbox import NetworkNamespace, SandboxUnavailable

    try:
        with NetworkNamespace() as ns, HttpFixture(ns, items=p["n"], delay_ms=p["delay_ms"]) as server:
            spec = {"base": server.url, "n": p["n"], "limit": p["limit"], "timeout": p["timeout"]}
            run = run_harness("bounded_fanout", {"solution.py": code}, spec, {**DEFAULT_LIMITS, **p["limits"]}, ns)
            report = server.report()
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable, so the code was not run: {exc}") from exc
    return judge(run, report, p)


def judge(run: Run, report: FixtureReport, p: Mapping[str, Any]) -> Verdict:
    """Turn the server's counts and the returned tokens into a verdict."""
    limit, n = p["limit"], p["n"]
    floor = max(2, math.ceil(limit * p["min_fraction"]))
    phase = run.recording.phase("learner")
    elapsed = phase[1] - phase[0] if phase else run.result.wall_seconds
    timings = {"fetch_all_ms": ms(elapsed), "server_delay_ms": p["delay_ms"]}
    tokens = run.recording.json_payload("result")
    if not isinstance(tokens, list):
        failure = run.describe_failure()
        checks = (
            Check("runs", False, {"status": run.result.status}, f"fetch_all() did not return: {failure}."),
            in_flight_check(report, limit, floor),
        )
        return Verdict(False, 0, checks, join_lines([f"fetch_all() did not return: {failure}.", hint(report, limit)]))

    right = sum(1 for i, token in enumerate(tokens[:n]) if token == report.tokens.get(i))
    results_ok = right == n and len(tokens) == n
    missing = sum(1 for i in range(n) if i not in report.item_requests)
    results = Check(
        "results",
        results_ok,
        {"right": right, "urls": n, "returned": len(tokens), "never_requested": missing},
        f"{right} of {n} results carry the token the server sent for that URL, in order.",
    )
    in_flight = in_flight_check(report, limit, floor)
    passed = results_ok and in_flight.passed
    quality = 5 if passed else (2 if results_ok or in_flight.passed else 1)
    parts = []
    if not results_ok:
        parts.append(
            f"{results.message} Return one decoded JSON object per URL, in the same order as `urls`"
            + (f"; {missing} URLs were never requested" if missing else "")
            + "."
        )
    parts.append(hint(report, limit))
    if passed:
        ideal = math.ceil(n / limit) * p["delay_ms"] / 1000
        parts.append(
            f"fetch_all() took {ms(elapsed)} ms; with {limit} at a time and {p['delay_ms']} ms per request "
            f"the server alone needs at least {ms(ideal)} ms."
        )
    return Verdict(passed, quality, (results, in_flight), join_lines(parts), timings)


def in_flight_check(report: FixtureReport, limit: int, floor: int) -> Check:
    """The server's peak count of requests in flight against the bound and the floor."""
    peak = report.max_in_flight
    return Check(
        "bounded_concurrency",
        floor <= peak <= limit,
        {"max_in_flight": peak, "limit": limit, "at_least": floor, "requests": report.requests},
        f"The server saw at most {peak} requests in flight at once (allowed: {floor} to {limit}).",
    )


def hint(report: FixtureReport, limit: int) -> str:
    """What the peak in flight says about the code."""
    peak = report.max_in_flight
    if peak > limit:
        return (
            f"The server saw {peak} requests in flight at once, more than the limit of {limit}: every request "
            "was started at once (a bare gather() starts them all; an HTTP client's own pool limit is not yours). "
            f"Bound it yourself: an asyncio.Semaphore({limit}) held around each request, or {limit} worker tasks "
            "taking URLs from a queue."
        )
    if peak <= 1 and report.requests:
        return (
            "The server never saw two requests in flight at once: they ran one after another. Start them as "
            "tasks (asyncio.gather, a TaskGroup) and let a semaphore bound how many run together."
        )
    if peak < limit / 2:
        return (
            f"The server saw at most {peak} requests in flight; the limit is {limit}, so most of the allowed "
            "concurrency went unused."
        )
    return f"The server saw at most {peak} requests in flight at once: within the limit of {limit}."
