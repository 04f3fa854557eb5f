"""Harness for the gil_parallelism grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"jobs": [[seed, rounds], ...]}.

It announces itself first (`ready`): the grader, told by the kernel which process
this is, starts polling the CPU time of every process in the sandbox from outside.
Then it imports the learner's module, calls `run_all(jobs)` once and reports what
came back. Nothing this process sends decides the verdict (the learner's code runs
here and could rewrite any of it): the grader checks the results against values it
computed itself, and reads from the kernel which processes spent CPU, and when.
The time run_all() took, as measured here, only illustrates the feedback.
"""

import json
import sys
import time

from _events import describe, emit, load_solution, ready

SPEC = json.loads(sys.argv[2])
JOBS = [tuple(job) for job in SPEC["jobs"]]


def portable(value):
    return [v if isinstance(v, int) and not isinstance(v, bool) else repr(v)[:40] for v in value]


def kind_of(value):
    """None for a list or tuple; otherwise words for what came back instead."""
    if isinstance(value, list | tuple):
        return None
    if hasattr(value, "__await__"):
        return "a coroutine: define it with `def`, not `async def`"
    if hasattr(value, "__next__"):
        return (
            f"a lazy iterator ({type(value).__name__}), not a list: `pool.map()` and `map()` hand results over "
            "one by one as you iterate; return `list(pool.map(...))`"
        )
    return f"{type(value).__name__}, not a list"


def main():
    ready()
    solution = load_solution()
    run_all = getattr(solution, "run_all", None)
    if not callable(run_all):
        emit("error", "your module must define `def run_all(jobs)`")
        return
    start = time.monotonic()
    try:
        results = run_all([list(job) for job in JOBS])
    except Exception as exc:  # noqa: BLE001
        emit("error", f"run_all() raised {describe(exc)}")
        return
    emit("took", str(round((time.monotonic() - start) * 1000)))
    wrong_kind = kind_of(results)
    if wrong_kind:
        emit("error", f"run_all() returned {wrong_kind}")
        return
    emit("result", json.dumps(portable(results)))


if __name__ == "__main__":  # a learner's "spawn" pool re-imports main.py; it must not run again
    main()
