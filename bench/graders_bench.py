"""Wall time and measured figures of the code-running graders but async-blocking-call, on this machine, now.

    .venv/bin/python bench/graders_bench.py [--concurrency 1] [--rounds 1] [--slug SLUG ...]

For each challenge (default: every one whose grader kind is cpu_offload,
bounded_fanout, gil_parallelism, await_interleaving or spot_blocking) grades the
reference and the starter `--rounds` times, `--concurrency` gradings at a time,
through the same `cards.grading.grade` the worker calls (real sandbox). Prints per
challenge and answer: the verdict, wall time per grading (median, max), the
figures the verdict rests on, and a final JSON line. Needs bubblewrap and root
(the sandbox's needs, see docs/sandbox.md). No Django or Redis needed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards.grading.graders import grade  # noqa: E402

KINDS = {"cpu_offload", "bounded_fanout", "gil_parallelism", "await_interleaving", "spot_blocking"}
CHALLENGES = Path(__file__).resolve().parent.parent / "cards" / "challenges" / "catalog"


def brief(value: object) -> object:
    """A figure as printed: short lists in full (an event order), long ones by their length."""
    if isinstance(value, list):
        return " ".join(map(str, value)) if len(value) <= 12 else f"<{len(value)} items>"
    return value


def load(slug: str) -> tuple[str, dict, dict[str, str]]:
    folder = CHALLENGES / slug
    data = tomllib.loads((folder / "challenge.toml").read_text())
    answers = {name: (folder / f"{name}.py").read_text() for name in ("reference", "starter")}
    return data["grader"]["kind"], dict(data["grader"].get("params", {})), answers


def timed_grade(kind: str, code: str, params: dict) -> tuple[float, dict]:
    start = time.monotonic()
    verdict = grade(kind, code, params).to_dict()
    return time.monotonic() - start, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--slug", action="append")
    args = parser.parse_args()
    slugs = args.slug or sorted(
        p.parent.name
        for p in CHALLENGES.glob("*/challenge.toml")
        if tomllib.loads(p.read_text())["grader"]["kind"] in KINDS
    )
    print(
        f"machine: {os.cpu_count()} cores, load {Path('/proc/loadavg').read_text().split()[0]}; "
        f"concurrency {args.concurrency}, rounds {args.rounds}"
    )
    summary = {}
    for slug in slugs:
        kind, params, answers = load(slug)
        jobs = [(name, code) for _ in range(args.rounds) for name, code in answers.items()]
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            futures = [(name, pool.submit(timed_grade, kind, code, params)) for name, code in jobs]
            outcomes = [(name, *future.result()) for name, future in futures]
        total = time.monotonic() - start
        for name in answers:
            mine = [(seconds, verdict) for who, seconds, verdict in outcomes if who == name]
            walls = [seconds for seconds, _ in mine]
            verdicts = [v["passed"] for _, v in mine]
            figures = {c["name"]: c["measured"] for c in mine[-1][1]["checks"]}
            print(
                f"{slug:28} {name:9} passed={verdicts} wall median {statistics.median(walls):.2f} s "
                f"max {max(walls):.2f} s"
            )
            for check, measured in figures.items():
                shown = {k: brief(v) for k, v in measured.items() if not isinstance(v, dict)}
                print(f"{'':38} {check}: {shown}")
            summary[f"{slug}/{name}"] = {"passed": verdicts, "wall_median_s": round(statistics.median(walls), 3)}
        print(f"{slug:28} {len(jobs)} gradings in {total:.2f} s")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
