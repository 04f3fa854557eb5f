"""Harness for the gil_parallelism grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"jobs": [[seed, rounds], ...], "repeats": int}.

Trusted phases first, before the learner's module is imported: `serial` (every
job one after another: the baseline, and the expected results) and
`reference0` (the same jobs on a process pool with one worker per core: the
speed-up this machine offers right now). Then the learner's `run_all(jobs)`
(`learner0`), the process pool again (`reference1`) and the learner's again
(`learner1`). The grader times every phase from outside.
"""

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from _events import describe, emit, load_solution
from work import crunch

SPEC = json.loads(sys.argv[2])
JOBS = [tuple(job) for job in SPEC["jobs"]]


def serial():
    emit("begin", "serial")
    results = [crunch(seed, rounds) for seed, rounds in JOBS]
    emit("end", "serial")
    emit("expected", json.dumps(results))


def reference(cores, name):
    with ProcessPoolExecutor(max_workers=cores) as pool:
        list(pool.map(crunch, [0] * cores, [1] * cores))  # workers started before the clock, as a long-lived pool's
        emit("begin", name)
        list(pool.map(crunch, *zip(*JOBS, strict=True)))
        emit("end", name)


def portable(value):
    if isinstance(value, list | tuple):
        return [v if isinstance(v, int) and not isinstance(v, bool) else repr(v)[:40] for v in value]
    return repr(value)[:80]


def main():
    cores = len(os.sched_getaffinity(0))
    emit("cores", str(cores))
    serial()
    reference(cores, "reference0")
    solution = load_solution()
    run_all = getattr(solution, "run_all", None)
    if not callable(run_all):
        emit("error", "your module must define `def run_all(jobs)`")
        return
    for attempt in range(SPEC["repeats"]):
        emit("begin", f"learner{attempt}")
        try:
            results = run_all([list(job) for job in JOBS])
        except Exception as exc:  # noqa: BLE001
            emit("error", f"run_all() raised {describe(exc)}")
            return
        finally:
            emit("end", f"learner{attempt}")
        if hasattr(results, "__await__"):
            emit("error", "run_all() returned a coroutine: define it with `def`, not `async def`")
            return
        emit("result", json.dumps(portable(results)))
        if attempt == 0:
            # Measured again between the learner's runs, because load changes within a run. After the import
            # the learner's code could slow this one down; the grader counts the faster reference, so that
            # cannot lower the bar.
            reference(cores, "reference1")


if __name__ == "__main__":
    main()
