"""Time to grade the blocking-call challenge's reference and starter, through the real sandbox.

    .venv/bin/python bench/async_blocking_bench.py [--runs 5] [--parallel 1]

Calls the grader exactly as the worker does (cards.grading.grade), `--runs` times
each for the reference (the seed's fix) and the starter (requests.get in async
def), `--parallel` gradings at a time. The first grading in the process (a trivial
answer: imports) is reported apart.

Prints, per answer: median and max wall time of one grading, the sandbox run's
own wall time, the time the fixture alone makes the answer wait (its delay per
request, times the rounds of requests that must wait one after another among the
calls that returned: 1 for ten overlapping calls; 2 for the starter, whose run the
grader stops once its loop has been held for two delays), the loop figures
measured, and a final JSON line. The machine's load average is printed first:
figures from a busy machine are not comparable with figures from an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards.grading.async_blocking.grader import KIND  # noqa: E402
from cards.grading.graders import grade  # noqa: E402

CHALLENGE = Path(__file__).resolve().parent.parent / "cards" / "challenges" / "catalog" / "async-blocking-call"
PARAMS = {"calls": 10, "delay_ms": 250}


def one(code: str) -> dict:
    started = time.monotonic()
    verdict = grade(KIND, code, PARAMS)
    wall = time.monotonic() - started
    checks = {c.name: dict(c.measured) for c in verdict.checks}
    in_flight = max(1, checks["overlap"]["max_in_flight"])
    returned = checks["results"].get("returned", PARAMS["calls"])
    serial_waits = -(-returned // in_flight)  # ceil: rounds of requests the fixture made wait
    return {
        "passed": verdict.passed,
        "wall": wall,
        "sandbox": verdict.timings["sandbox_seconds"],
        "fixture_wait": serial_waits * PARAMS["delay_ms"] / 1000,
        "computing_ms": checks["loop"]["computing_ms"],
        "blocked_ms": checks["loop"]["blocked_ms"],
        "in_flight": checks["overlap"]["max_in_flight"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args()

    answers = {name: (CHALLENGE / f"{name}.py").read_text(encoding="utf-8") for name in ("reference", "starter")}
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    started = time.monotonic()
    grade(KIND, "async def get_data(url):\n    return {}\n", PARAMS)  # the imports
    first = time.monotonic() - started
    print(f"first grading in this process (a trivial answer): {first:.2f} s")

    jobs = [name for name in answers for _ in range(args.runs)]
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda name: (name, one(answers[name])), jobs))
    summary = {"parallel": args.parallel, "runs": args.runs, "first_grading_seconds": round(first, 3)}
    for name in answers:
        rows = [r for n, r in results if n == name]
        walls = [r["wall"] for r in rows]
        figures = {
            "passed": sorted({r["passed"] for r in rows}),
            "grading_median_s": round(statistics.median(walls), 3),
            "grading_max_s": round(max(walls), 3),
            "sandbox_median_s": round(statistics.median(r["sandbox"] for r in rows), 3),
            "fixture_wait_s": statistics.median(r["fixture_wait"] for r in rows),
            "computing_ms_median": statistics.median(r["computing_ms"] for r in rows),
            "blocked_ms_median": statistics.median(r["blocked_ms"] for r in rows),
            "in_flight_median": statistics.median(r["in_flight"] for r in rows),
        }
        summary[name] = figures
        print(
            f"{name:9}  passed={figures['passed']}  grading median {figures['grading_median_s']:.2f} s "
            f"(max {figures['grading_max_s']:.2f})  sandbox {figures['sandbox_median_s']:.2f} s  "
            f"fixture wait {figures['fixture_wait_s']:.2f} s  loop computing {figures['computing_ms_median']} ms, "
            f"blocked {figures['blocked_ms_median']} ms  in flight {figures['in_flight_median']}"
        )
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
