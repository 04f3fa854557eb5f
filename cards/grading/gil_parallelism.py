"""Grader `gil_parallelism`: CPU-bound work gets faster with processes, not threads, under the GIL.

The learner writes `def run_all(jobs)` returning `[crunch(seed, rounds) for
seed, rounds in jobs]`, only faster, on the cores there are. In one sandbox
run, timed from outside by kernel-stamped events:

- `serial`: the harness runs every job one after another (the baseline; it
  also gives the expected results);
- `reference`: the same jobs on a process pool with one worker per core (the
  speed-up this machine offers at this moment, under this load), twice: before
  the learner's code is imported and between its two runs; the faster counts;
- the learner's `run_all`, twice; the faster counts.

The learner's speed-up over the serial baseline must reach a share of the
reference's: with threads, the GIL lets one run Python at a time and the
speed-up stays near 1x. Measurements of this kind take a machine-wide lock, so
that two gradings do not steal each other's cores.

When the machine is saturated (the process pool itself is not 1.25x faster
than serial, twice), no speed-up can show, for anyone; and when the learner's
processes fall short of the speed-up twice, the load shifted between phases.
Then the verdict rests on what makes a speed-up: every crunch() call sends a
start and an end event, the kernel stamps their times and names the sending
process, and the learner's jobs must have run in as many processes at once as
the pool's did (at least two). Threads all share one process and fail either
way; with free cores they must also show the speed-up.

Params (all optional): jobs_per_core (default 2), rounds (per job, default
150000), share (of the reference's gain the learner must reach, default 0.5),
limits (sandbox limit overrides).
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .base import Check, GradingError, Verdict, register
from .measure import Recording, Run, job_intervals, join_lines, ms, processes_at_once, require_params, run_harness

PARAMS = {
    "jobs_per_core": (int, 2),
    "rounds": (int, 150_000),
    "share": (float, 0.5),
    "limits": (dict, {}),
}
DEFAULT_LIMITS = {"cpu_seconds": 30, "wall_seconds": 60, "max_processes": 64, "memory_mb": 512}
REPEATS = 2
ATTEMPTS = 2
RETRY_PAUSE_SECONDS = 2.0
# The reference must beat serial by this much before a verdict on speed-up means anything.
MIN_REFERENCE_SPEEDUP = 1.25
LOCK_PATH = os.path.join(tempfile.gettempdir(), "studyapp-grading-cpu-parallel.lock")
LOCK_WAIT_SECONDS = 120.0


@contextmanager
def cores_to_ourselves(timeout: float = LOCK_WAIT_SECONDS) -> Iterator[float]:
    """Hold the machine-wide lock for parallel-speed-up measurements; yield how long we waited for it."""
    start = time.monotonic()
    with open(LOCK_PATH, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > timeout:
                    raise GradingError("timed out waiting for the cores to measure a speed-up; try again") from None
                time.sleep(0.05)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@register("gil_parallelism")
def grade_gil_parallelism(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade `run_all(jobs)` on its results and on its speed-up over serial, against a process pool's."""
    p = require_params(params, PARAMS)
    if not 1 <= p["jobs_per_core"] <= 8 or not 10_000 <= p["rounds"] <= 2_000_000 or not 0 < p["share"] <= 1:
        raise GradingError("grader params: jobs_per_core must be 1..8, rounds 10000..2000000, share in (0, 1]")
    cores = len(os.sched_getaffinity(0))
    rng = random.SystemRandom()
    jobs = [[rng.randrange(1, 2**31), p["rounds"]] for _ in range(p["jobs_per_core"] * cores)]
    spec = {"jobs": jobs, "repeats": REPEATS}
    limits = {**DEFAULT_LIMITS, **p["limits"]}
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_SECONDS * attempt)  # the machine was saturated: give the load a moment to pass
        with cores_to_ourselves() as waited:
            run = run_harness("gil_parallelism", {"solution.py": code}, spec, limits)
        verdict = judge(run, p["share"], waited, last_try=attempt == ATTEMPTS - 1)
        if verdict is not None:
            return verdict
    raise AssertionError("unreachable: the last try always returns or raises")


def phase_times(rec: Recording, names: list[str]) -> list[tuple[str, float]]:
    """(name, seconds) of each phase in `names` that finished."""
    return [(name, phase[1] - phase[0]) for name in names if (phase := rec.phase(name))]


def parallel_processes(rec: Recording, name: str) -> int:
    """How many distinct processes were inside a crunch() call at once during phase `name`."""
    phase = rec.phase(name)
    return processes_at_once(job_intervals(rec.events, *phase)) if phase else 0


def judge(run: Run, share: float, waited: float, last_try: bool) -> Verdict | None:
    """A verdict from one run; None to measure again when the machine showed no parallelism."""
    rec = run.recording
    serial = rec.phase("serial")
    references = phase_times(rec, ["reference0", "reference1"])
    expected = rec.json_payload("expected")
    cores_event = rec.first("cores")
    if serial is None or not references or not isinstance(expected, list) or cores_event is None:
        raise GradingError(f"the baseline phases did not complete ({run.describe_failure()})")
    cores = int(cores_event.payload)
    if cores < 2:
        raise GradingError("the sandbox sees one CPU core: there is no parallel speed-up to measure here")
    t_serial = serial[1] - serial[0]
    best_reference, t_reference = min(references, key=lambda item: item[1])
    reference_speedup = t_serial / t_reference
    saturated = reference_speedup < MIN_REFERENCE_SPEEDUP
    if saturated and not last_try:
        return None
    timings = {"serial_ms": ms(t_serial), "process_pool_ms": ms(t_reference), "lock_wait_ms": ms(waited)}

    learner_runs = phase_times(rec, [f"learner{i}" for i in range(REPEATS)])
    results = [json_list for event in rec.of_kind("result") if isinstance(json_list := _json(event.payload), list)]
    if len(learner_runs) < REPEATS or len(results) < REPEATS:
        failure = run.describe_failure()
        check = Check("runs", False, {"status": run.result.status}, f"run_all() did not finish: {failure}.")
        return Verdict(False, 0, (check,), f"run_all() did not finish: {failure}.", timings)

    best_learner, t_learner = min(learner_runs, key=lambda item: item[1])
    speedup = t_serial / t_learner
    needed = 1 + share * (reference_speedup - 1)
    right = min(sum(1 for got, want in zip(r, expected, strict=False) if got == want) for r in results)
    results_ok = right == len(expected) and all(len(r) == len(expected) for r in results)
    processes = max(parallel_processes(rec, name) for name, _ in learner_runs)
    reference_processes = parallel_processes(rec, best_reference)
    timings = {**timings, "run_all_ms": ms(t_learner)}
    measured = {
        "speedup": round(speedup, 2),
        "needed": round(needed, 2),
        "process_pool_speedup": round(reference_speedup, 2),
        "cores": cores,
        "serial_ms": ms(t_serial),
        "run_all_ms": ms(t_learner),
        "processes_at_once": processes,
        "process_pool_processes_at_once": reference_processes,
    }
    results_check = Check(
        "results",
        results_ok,
        {"right": right, "jobs": len(expected)},
        f"{right} of {len(expected)} results equal crunch(seed, rounds) for their job.",
    )
    timing = (
        f"run_all() took {ms(t_learner)} ms against {ms(t_serial)} ms serially: {speedup:.2f}x "
        f"(a process pool managed {reference_speedup:.2f}x on {cores} cores)"
    )
    wanted = max(2, min(cores, reference_processes))
    fast_ok = speedup >= needed and processes != 1
    if not saturated and (fast_ok or processes < wanted):
        # A thread pool cannot beat serial; if it seems to, the serial run was the unlucky one. Where crunch()
        # reports in, the work must also have run in more than one process.
        check = Check("speedup", fast_ok, measured, f"{timing}; needed {needed:.2f}x.")
    elif not saturated and not last_try:
        return None  # parallel processes, yet short of the speed-up: load changed within the run; measure again
    else:
        # No spare core to show a speed-up on (or, twice, load that shifted between phases): judge what makes
        # one, where the work ran. The kernel names the process behind each crunch() start and end.
        if processes == 0 and results_ok:  # (wrong results fail whatever the machine's load)
            # crunch() never reported (workers started with "spawn" do not inherit the event socket, or the
            # jobs did not call work.crunch): nothing outside can tell where they ran.
            raise GradingError(
                f"the machine is too busy to measure a speed-up right now (a process pool managed "
                f"{reference_speedup:.2f}x on {cores} cores), and it cannot see where your jobs ran; try again"
            )
        fast_ok = processes >= wanted
        check = Check(
            "parallel_processes",
            fast_ok,
            measured,
            f"The machine was too busy to show a steady speed-up ({timing}), so the grader checked where the work "
            f"ran: crunch() ran in {processes} process{'es' if processes != 1 else ''} at once (needed {wanted}).",
        )
    passed = results_ok and fast_ok
    if passed:
        quality = 5 if check.name == "speedup" and speedup >= 1 + 0.8 * (reference_speedup - 1) else 4
    else:
        quality = 2 if results_ok else 1
    checks = (results_check, check)
    return Verdict(passed, quality, checks, feedback(checks, speedup, processes, cores), timings)


def _json(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None


def feedback(checks: tuple[Check, ...], speedup: float, processes: int, cores: int) -> str:
    """Plain words on the measured speed-up and what it means."""
    results, fast = checks
    parts = []
    if not results.passed:
        parts.append(f"{results.message} Return the results in the order of `jobs`.")
    if fast.passed:
        parts.append(
            f"{fast.message} The jobs ran in parallel: each worker process has its own interpreter and its own GIL."
        )
    elif speedup < 1.1 or processes <= 1:
        parts.append(
            f"{fast.message} No real speed-up: the jobs still ran one at a time. If you used threads, that is the "
            "GIL: only one thread runs Python bytecode at a time, so CPU-bound Python in threads takes as long as "
            f"serial (or longer). Use processes (concurrent.futures.ProcessPoolExecutor, multiprocessing.Pool): "
            f"{cores} processes can run on {cores} cores at once."
        )
    else:
        parts.append(
            f"{fast.message} Some speed-up, but well short of what {cores} cores gave a process pool in the same "
            "run: are all the jobs running at once, one per core, and is the pool started once rather than per job?"
        )
    return join_lines(parts)
