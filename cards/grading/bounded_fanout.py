"""Grader `bounded_fanout`: fetch many URLs concurrently, but never more than `limit` at a time.

The learner writes `async def fetch_all(urls, limit)` returning the decoded
JSON of every URL, in order. A fixture HTTP server runs in the sandbox's own
network namespace (the only thing the code can reach), outside the sandbox's
processes. It answers each `/item/<i>` after a delay with a token made fresh for
that one request, and records every request: its connection, what it asked
for, the token it answered with, and when it started and ended on its own clock.

Everything the verdict rests on comes from that record:

- results: result i must carry a token the server sent in answer to a request
  for `/item/i` (tokens are random and per request, so they cannot be guessed);
- at most `limit` in flight: the server's peak count of *all* requests in
  flight at once (any route), so extra requests can only hurt;
- enough concurrency: counted among exactly the requests whose tokens the
  results carry, on the server's clock. The time from the first of them
  starting to the last one answered is cut into `segments` equal stretches
  (default 2, halves); in every stretch at least ceil(limit * min_fraction) of them must
  have been in flight at once. Padding (idle `/slow` or `/item` requests whose
  answers are thrown away) does not count, and neither does one burst of
  prefetched requests followed by a slower fan-out. A peak per stretch, rather
  than an average, keeps the verdict steady on a loaded machine, where a
  CPU-bound client (httpx with 1,000 requests waiting on its pool) keeps only
  5-6 requests in flight on average and reaches 10+ only now and then.

Nothing the sandboxed process says (its clocks, its events, its exit status)
carries the verdict; the harness only passes the returned tokens out, and those
are checked against the server's own record.

Params (all optional): n (URLs, default 1000), limit (default 20), delay_ms
(server delay per request, default 40), min_fraction (lowest concurrency
allowed as a fraction of limit, default 0.5), segments (stretches of the run
that must each reach it, default 2), timeout (seconds, default 30), limits
(sandbox limit overrides).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Check, GradingError, Verdict, count
from .measure import (
    FixtureCall,
    FixtureReport,
    HttpFixture,
    Run,
    join_lines,
    ms,
    require_params,
    run_harness,
    with_output,
)

PARAMS = {
    "n": (int, 1000),
    "limit": (int, 20),
    "delay_ms": (int, 40),
    "min_fraction": (float, 0.5),
    "segments": (int, 2),
    "timeout": (float, 30.0),
    "limits": (dict, {}),
}
# A thousand sockets at once must be possible, or the unbounded answer dies of EMFILE before the server counts it.
DEFAULT_LIMITS = {"cpu_seconds": 30, "wall_seconds": 45, "memory_mb": 256, "open_files": 2048}


def grade_bounded_fanout(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade `fetch_all(urls, limit)` on the fixture server's counts: results right, peak in flight bounded."""
    p = require_params(params, PARAMS)
    if not 1 <= p["n"] <= 5000 or not 2 <= p["limit"] <= 500 or not 0 <= p["delay_ms"] <= 1000:
        raise GradingError("grader params: n must be 1..5000, limit 2..500, delay_ms 0..1000")
    if not 0 < p["min_fraction"] <= 1 or not 1 <= p["segments"] <= 20:
        raise GradingError("grader params: min_fraction must be in (0, 1], segments 1..20")
    from cards.sandbox import NetworkNamespace, SandboxUnavailable

    try:
        with NetworkNamespace() as ns, HttpFixture(ns, items=p["n"], delay_ms=p["delay_ms"]) as server:
            spec = {"base": server.url, "n": p["n"], "limit": p["limit"], "timeout": p["timeout"]}
            run = run_harness("bounded_fanout", {"solution.py": code}, spec, {**DEFAULT_LIMITS, **p["limits"]}, ns)
            report = server.report()
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable, so the code was not run: {exc}") from exc
    return with_output(judge(run, report, p), run)


@dataclass(frozen=True, slots=True)
class Concurrency:
    """In-flight figures from the server's record."""

    peak_all: int  # every request the server saw, any route
    peak_carried: int  # only the requests whose tokens the results carry
    segment_peaks: tuple[int, ...]  # the peak of result-carrying requests in each stretch of the run
    carried: int  # results tied to a request
    extra: int  # requests whose answers the results do not carry
    typical: int  # the median, over result-carrying requests, of the peak in flight while each was


def overlap_peaks(intervals: Sequence[tuple[float, float]]) -> list[int]:
    """For each interval, the highest number of the intervals in flight at once while it was (itself included).

    Half-open intervals [start, end): one that ends as another starts does not overlap it.
    """
    if not intervals:
        return []
    events = sorted([(e, 0) for _, e in intervals] + [(s, 1) for s, _ in intervals])
    starts, levels, level = [], [], 0
    for t, is_start in events:
        level += 1 if is_start else -1
        if is_start:
            starts.append(t)
            levels.append(level)
    # The count only rises at a start, so the peak inside [s, e) is the highest level at a start in [s, e).
    table = [levels]
    span = 1
    while span * 2 <= len(levels):
        prev = table[-1]
        table.append([max(prev[i], prev[i + span]) for i in range(len(prev) - span)])
        span *= 2
    out = []
    for s, e in intervals:
        lo = bisect_left(starts, s)
        hi = max(lo, bisect_left(starts, e) - 1)
        k = (hi - lo + 1).bit_length() - 1
        out.append(max(table[k][lo], table[k][hi - (1 << k) + 1]))
    return out


def segment_peaks(intervals: Sequence[tuple[float, float]], segments: int) -> list[int]:
    """Split [first start, last end) into `segments` equal stretches of time; the peak in flight in each."""
    if not intervals:
        return [0] * segments
    events = sorted([(e, -1) for _, e in intervals] + [(s, 1) for s, _ in intervals])
    first, last = events[0][0], events[-1][0]
    width = (last - first) / segments or 1.0
    peaks = [0] * segments
    level = 0
    for i, (t, step) in enumerate(events):
        level += step
        # The level holds from t until the next event: it counts in every stretch that span touches.
        until = events[i + 1][0] if i + 1 < len(events) else t
        if until <= t and step < 0:
            continue
        lo = min(segments - 1, int((t - first) / width))
        hi = min(segments - 1, int((until - first) / width)) if until > t else lo
        for k in range(lo, hi + 1):
            peaks[k] = max(peaks[k], level)
    return peaks


def measure_concurrency(
    report: FixtureReport, carried: Sequence[FixtureCall], floor: int, segments: int
) -> Concurrency:
    intervals = [(c.start, c.end) for c in carried if c.end is not None]
    peaks = overlap_peaks(intervals)
    return Concurrency(
        peak_all=report.max_in_flight,
        peak_carried=max(peaks, default=0),
        segment_peaks=tuple(segment_peaks(intervals, segments)),
        carried=len(carried),
        extra=report.requests - len(carried),
        typical=sorted(peaks)[len(peaks) // 2] if peaks else 0,
    )


def judge(run: Run, report: FixtureReport, p: Mapping[str, Any]) -> Verdict:
    """Turn the server's record and the returned tokens into a verdict."""
    limit, n = p["limit"], p["n"]
    floor = max(2, math.ceil(limit * p["min_fraction"]))
    by_token = {call.token: call for call in report.calls}
    span = [c.start for c in report.calls] + [c.end for c in report.calls if c.end is not None]
    elapsed = max(span) - min(span) if span else 0.0  # the server's view: first request to last answer
    timings = {"server_busy_ms": ms(elapsed), "server_delay_ms": p["delay_ms"]}
    tokens = run.recording.json_payload("result")
    if not isinstance(tokens, list):
        tokens = []
    carried = []
    for i, token in enumerate(tokens[:n]):
        call = by_token.get(token) if isinstance(token, str) else None
        if call is not None and call.item == i:
            carried.append(call)
    conc = measure_concurrency(report, carried, floor, p["segments"])
    in_flight = in_flight_check(conc, limit, floor)
    missing = sum(1 for i in range(n) if i not in report.item_requests)
    if not run.recording.of_kind("result"):
        failure = run.describe_failure()
        checks = (
            Check("runs", False, {"status": run.result.status}, f"fetch_all() did not return: {failure}."),
            in_flight,
        )
        return Verdict(
            False,
            0,
            checks,
            join_lines([f"fetch_all() did not return: {failure}.", hint(conc, limit, floor, n)]),
            timings,
        )
    right = len(carried)
    results_ok = right == n and len(tokens) == n
    results = Check(
        "results",
        results_ok,
        {"right": right, "urls": n, "returned": len(tokens), "never_requested": missing},
        f"{right} of {n} results carry the token the server sent in answer to that URL, in order.",
    )
    passed = results_ok and in_flight.passed
    quality = 5 if passed else (2 if results_ok or in_flight.passed else 1)
    parts = []
    if not results_ok:
        parts.append(
            f"{results.message} Return one decoded JSON object per URL, in the same order as `urls`"
            + (f"; {missing} URLs were never requested" if missing else "")
            + "."
        )
    parts.append(hint(conc, limit, floor, n))
    if passed:
        ideal = math.ceil(n / limit) * p["delay_ms"] / 1000
        parts.append(
            f"The server was busy with your requests for {ms(elapsed)} ms; with {limit} at a time and "
            f"{p['delay_ms']} ms per request it needs at least {ms(ideal)} ms."
        )
    return Verdict(passed, quality, (results, in_flight), join_lines(parts), timings)


def in_flight_check(conc: Concurrency, limit: int, floor: int) -> Check:
    """The server's peak in flight against the limit, and the result-carrying requests' peak in every stretch."""
    reached = sum(1 for peak in conc.segment_peaks if peak >= floor)
    ok = conc.peak_all <= limit and reached == len(conc.segment_peaks)
    return Check(
        "bounded_concurrency",
        ok,
        {
            "max_in_flight": conc.peak_all,
            "max_in_flight_of_results": conc.peak_carried,
            "limit": limit,
            "at_least": floor,
            "peak_of_results_per_stretch": list(conc.segment_peaks),
            "typical_in_flight_of_results": conc.typical,
            "extra_requests": conc.extra,
        },
        f"The server saw at most {conc.peak_all} request{'s' if conc.peak_all != 1 else ''} in flight at once "
        f"(limit {limit}); the requests behind your results reached {floor} in flight in {reached} of "
        f"{len(conc.segment_peaks)} {stretches(len(conc.segment_peaks))} of the run (needed: all).",
    )


def stretches(count: int) -> str:
    """What the run's stretches are called in messages."""
    return {1: "stretch", 2: "halves", 3: "thirds", 4: "quarters"}.get(count, "stretches")


def hint(conc: Concurrency, limit: int, floor: int, n: int) -> str:
    """What the server's record says about the code."""
    peak = conc.peak_all
    if peak == 0:
        return "The server got no requests for the URLs at all."
    if peak > limit:
        if conc.peak_carried <= limit and conc.extra > 0:
            return (
                f"The server saw {peak} requests in flight at once, more than the limit of {limit}, counting "
                f"{count(conc.extra, 'request')} whose answers your results do not use. Every request counts "
                "against the limit, not only the ones you return: make only the requests you need."
            )
        if peak >= min(n, 2 * limit) or peak >= 0.9 * n:
            return (
                f"The server saw {peak} requests in flight at once, more than the limit of {limit}: nothing held "
                "them back, so they were all started together (a bare gather() starts them all; an HTTP client's "
                f"own pool limit is not yours). Bound it yourself: an asyncio.Semaphore({limit}) held around each "
                f"request, or {limit} worker tasks taking URLs from a queue."
            )
        return (
            f"The server saw {peak} requests in flight at once, {peak - limit} more than the limit of {limit}: "
            "your code bounds them, but the bound is too loose. Look for an off-by-one (a Semaphore or a count "
            f"of workers above {limit}, a check like `<= limit`, or a request started before a slot is taken)."
        )
    if conc.carried and conc.peak_carried <= 1:
        return (
            "The server never saw two of the requests behind your results in flight at once: they ran one after "
            "another. Start them as tasks (asyncio.gather, a TaskGroup) and let a semaphore bound how many run "
            "together."
        )
    low = [peak for peak in conc.segment_peaks if peak < floor]
    if conc.carried and low:
        return (
            f"The requests behind your results were in flight {conc.typical} at a time as a rule, and in "
            f"{len(low)} of {len(conc.segment_peaks)} {stretches(len(conc.segment_peaks))} of the run never "
            f"reached {floor} at once (the "
            f"limit is {limit}): most of the allowed concurrency went unused. Only the requests whose answers "
            "you return count; requests thrown away, or one early burst, do not."
        )
    return f"The server saw at most {count(peak, 'request')} in flight at once: within the limit of {limit}."
