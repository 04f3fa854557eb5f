"""Grading throughput: N queued submissions, W Celery worker processes, the real grader and sandbox.

    .venv/bin/python bench/grading_bench.py [--submissions 100] [--workers 2] [--slug async-blocking-call]
        [--params '{"stop_after_delays": 0}'] [--compare]

Needs Redis (REDIS_URL; database 13 of that server is flushed and used) and bubblewrap.
It migrates a fresh SQLite file, loads the challenges, sets any `--params` on the
challenge's grader parameters, queues `--submissions` submissions of the challenge
(alternately its starter and its reference, each with a unique comment so none is
deduplicated) from as many learners as the rate limit needs, then starts `--workers`
worker processes (concurrency 1 each) and times until every submission has a verdict.

Prints gradings per second, the wall time of one grading (started -> finished, as
the worker saw it) as median and p95 per kind of answer, next to the time the
fixture alone makes that answer wait (the server's delay, times the calls it has to
wait for one after another: for async-blocking-call's starter, the two delays after
which the grader stops a decided run), and a final JSON line.

`--compare` runs it twice in one go, on the same machine: first with every run left to
finish (`stop_after_delays` 0, as before early stopping), then as configured; it prints
both and the ratio of the rates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.challenges_stack import Stack, migrated_template, wait_for  # noqa: E402

QUEUE = """
import json
from pathlib import Path
from django.contrib.auth import get_user_model
from cards.challenges.loader import load_challenges
from cards.challenges.models import Challenge
from cards.challenges.submissions import in_flight_limit, submit
load_challenges()
challenge = Challenge.objects.get(slug={slug!r})
challenge.grader_params = {{**challenge.grader_params, **json.loads({overrides!r})}}
challenge.save(update_fields=["grader_params"])
ids = []
for n in range({count}):
    user, _ = get_user_model().objects.get_or_create(username=f"bench-{{n // in_flight_limit()}}")
    code = challenge.starter_code if n % 2 == 0 else challenge.reference_solution
    ids.append(submit(user, challenge, code + f"\\n# bench {{n}}\\n").submission.pk)
print("PARAMS", json.dumps(challenge.grader_params))
print("IDS", json.dumps(ids))
"""


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace(" ", "T"))


def run(slug: str, count: int, workers: int, overrides: dict, timeout: float) -> dict[str, object]:
    """Queue `count` submissions, grade them with `workers` workers, print and return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    template = migrated_template(folder)
    (folder / "run").mkdir()
    with Stack(folder / "run", template) as stack:
        out = stack.shell(QUEUE.format(slug=slug, count=count, overrides=json.dumps(overrides)))
        params = json.loads(out.split("PARAMS ", 1)[1].splitlines()[0])
        ids = json.loads(out.split("IDS ", 1)[1].splitlines()[0])
        print(f"queued {len(ids)} submissions of {slug} (grader params {params}); starting {workers} worker(s)")
        started = time.monotonic()
        for n in range(workers):
            stack.start_worker(f"bench{n}", concurrency=1)

        def finished() -> bool:
            rows = stack.query("SELECT COUNT(*) FROM cards_submission WHERE status IN ('graded', 'error')")
            return rows[0][0] >= len(ids)

        wait_for(finished, timeout, "every verdict", interval=0.5)
        elapsed = time.monotonic() - started
        rows = stack.query(
            "SELECT id, status, passed, started_at, finished_at, verdict FROM cards_submission ORDER BY id"
        )

    by_kind: dict[str, list[float]] = {"starter": [], "reference": []}
    run_seconds: dict[str, list[float]] = {"starter": [], "reference": []}
    statuses: dict[str, int] = {}
    for index, (_pk, status, passed, started_at, finished_at, verdict) in enumerate(rows):
        kind = "starter" if index % 2 == 0 else "reference"
        key = f"{kind}:{status}:{'pass' if passed else 'fail'}"
        statuses[key] = statuses.get(key, 0) + 1
        if status == "graded":
            by_kind[kind].append((parse_time(finished_at) - parse_time(started_at)).total_seconds())
            timings = json.loads(verdict).get("timings", {})
            if "sandbox_seconds" in timings:
                run_seconds[kind].append(float(timings["sandbox_seconds"]))

    delay = float(params.get("delay_ms", 0)) / 1000
    calls = int(params.get("calls", 1))
    stop = float(params.get("stop_after_delays", 2)) if slug == "async-blocking-call" else 0
    # What the fixture alone imposes: one delay when the calls overlap, one per call when they are serialised
    # (or, stopped early, the delays after which the run was decided).
    fixture_wait = {"reference": delay, "starter": delay * (min(stop, calls) if stop else calls)}
    rate = len(rows) / elapsed
    print(f"{len(rows)} gradings in {elapsed:.1f} s with {workers} workers: {rate:.2f} gradings/s")
    print(f"outcomes: {statuses}")
    summary: dict[str, object] = {
        "grader_params": params,
        "submissions": len(rows),
        "workers": workers,
        "seconds": round(elapsed, 1),
        "gradings_per_second": round(rate, 3),
        "outcomes": statuses,
    }
    for kind, times in by_kind.items():
        if not times:
            continue
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        run_ = statistics.median(run_seconds[kind]) if run_seconds[kind] else float("nan")
        print(
            f"{kind:9} one grading: median {statistics.median(times):.2f} s, p95 {p95:.2f} s "
            f"(sandbox run of the answer, median {run_:.2f} s); the fixture alone makes it wait "
            f"{fixture_wait[kind]:.2f} s"
        )
        summary[kind] = {
            "median_s": round(statistics.median(times), 3),
            "p95_s": round(p95, 3),
            "answer_run_median_s": round(run_, 3),
            "fixture_wait_s": fixture_wait[kind],
        }
    print(json.dumps(summary))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slug", default="async-blocking-call")
    parser.add_argument("--params", default="{}", help="JSON merged into the challenge's grader parameters.")
    parser.add_argument("--compare", action="store_true", help="First with every run left to finish, then as set.")
    parser.add_argument("--timeout", type=float, default=1800, help="Give up after this many seconds.")
    args = parser.parse_args()
    overrides = json.loads(args.params)
    if not args.compare:
        run(args.slug, args.submissions, args.workers, overrides, args.timeout)
        return 0
    print("== before: every run left to finish (stop_after_delays 0)")
    before = run(args.slug, args.submissions, args.workers, {**overrides, "stop_after_delays": 0}, args.timeout)
    print("== after: as configured")
    after = run(args.slug, args.submissions, args.workers, overrides, args.timeout)
    ratio = float(after["gradings_per_second"]) / float(before["gradings_per_second"])
    print(f"throughput after / before: {ratio:.2f}x")
    print(json.dumps({"before": before, "after": after, "ratio": round(ratio, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
