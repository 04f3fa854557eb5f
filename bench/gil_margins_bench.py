"""threads-vs-processes: how far right and wrong answers sit from the grader's line, two gradings at once.

    .venv/bin/python bench/gil_margins_bench.py [--rounds 4] [--jobs-per-core N]

Grades each answer `--rounds` times, two at a time, each grading in a process of its own as the
worker does (tests/grading/parallel.py, GradingError retried like the task), with the challenge's
parameters (`--jobs-per-core` overrides its 12). Answers: the reference; a spawn pool (the dearest
correct start-up); a pool waited on job by job (its workers take turns: wrong); two processes in
turn beside a 200 ms CPU burner (wrong; the attack kept in tests/grading/test_integrity_threads_vs_processes.py).
Prints per answer how many passed and, min/median/max, the net side-by-side CPU against the
needed, and `W` (the grader's reading of the jobs' CPU) against the sandbox's CPU: for the burner,
the sandbox's jobs cost `sandbox - 200 ms`, so `W` above that is the reading's error the burner
rule must absorb (docs/challenge_graders.md, "A residual risk"). Needs bubblewrap and root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards.grading.gil_parallelism import WINDOW_SECONDS  # noqa: E402
from tests.grading.gil_answers import IN_TURN_BESIDE_A_BURNER, POOL_WAITED_ON_EACH_JOB, SPAWN_POOL  # noqa: E402
from tests.grading.parallel import grade_side_by_side  # noqa: E402

CHALLENGE = Path(__file__).resolve().parent.parent / "cards" / "challenges" / "catalog" / "threads-vs-processes"


def spread(values: list[int]) -> str:
    return f"{min(values)}/{round(statistics.median(values))}/{max(values)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--jobs-per-core", type=int, default=None)
    args = parser.parse_args()
    spec = tomllib.loads((CHALLENGE / "challenge.toml").read_text())
    params = dict(spec["grader"].get("params", {}))
    if args.jobs_per_core:
        params["jobs_per_core"] = args.jobs_per_core
    answers = {
        "reference": (CHALLENGE / "reference.py").read_text(),
        "spawn_pool": SPAWN_POOL,
        "pool_waited_on_each_job (wrong)": POOL_WAITED_ON_EACH_JOB,
        "in_turn_beside_a_burner (wrong)": IN_TURN_BESIDE_A_BURNER,
    }
    names = [name for name in answers for _ in range(args.rounds)]
    verdicts = grade_side_by_side(spec["grader"]["kind"], [answers[n] for n in names], params, 2)
    print(f"window {WINDOW_SECONDS * 1000:.0f} ms, jobs_per_core {params['jobs_per_core']}, two gradings at once")
    for name in answers:
        mine = [v for n, v in zip(names, verdicts, strict=True) if n == name]
        ms = [next(c for c in v.checks if c.name == "parallel_processes").measured for v in mine]
        print(
            f"{name:34} passed {sum(v.passed for v in mine)}/{len(mine)}"
            f"  net {spread([m['net_parallel_cpu_ms'] for m in ms])}"
            f"  needed {spread([m['needed_parallel_ms'] for m in ms])}"
            f"  W {spread([m['work_cpu_ms'] for m in ms])}"
            f"  sandbox {spread([m['sandbox_cpu_ms'] for m in ms])}  (min/median/max ms)"
        )


if __name__ == "__main__":
    main()
