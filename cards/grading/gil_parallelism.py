"""Grader `gil_parallelism`: CPU-bound work runs in parallel in processes, not in threads, under the GIL.

The learner writes `def run_all(jobs)` returning `[crunch(seed, rounds) for seed,
rounds in jobs]`, only faster, on the cores there are. The harness announces
itself before the learner's module is imported (the kernel vouches for its pid),
then calls `run_all` once. Nothing the sandboxed process says carries the
verdict; it rests on:

- the expected results, computed by the grader outside the sandbox (same
  interpreter, same `work.py`), which also measures what each job costs in CPU
  time; their sum is the work `W`;
- the kernel's CPU accounting of every process in the sandbox, polled from the
  grader's side every 10 ms from the handshake until the run is over
  (`cpu_offload.TreeTimeline`). Threads of one process count as that process.

It passes when every result is right and the work ran in parallel processes:

- no one process spent more than `LARGEST_SHARE` of `W` (a process that did
  all the jobs itself fails, however many helpers burned CPU beside it);
- CPU time that distinct processes gained in the same 50 ms windows (each
  process counted only in windows it was busy on both sides of, so that
  processes taking turns do not overlap at the hand-overs), minus the
  CPU the sandbox spent beyond `W`, reaches `share` x `W` x (1 - 1/cores) / 2.
  Taking the extra CPU off is what defeats burners: if the jobs ran one process
  at a time, whatever ran beside them was not the jobs, so the side-by-side CPU
  is at most the extra CPU. A pool's start-up (about 0.1 s of CPU per "spawn"
  worker, twice that on a slow host) is extra CPU too, which is why `W` is about
  two seconds (24 jobs on two cores).

Threads of one process count as that process: they cannot gain CPU side by side
for pure-Python work (one GIL). Everything is CPU time, not wall time, so the
verdict does not depend on the machine's load, and gradings need not queue for
the cores.

Params (all optional): jobs_per_core (default 12), rounds (per job, default
500000, about 60 ms of CPU here), share (default 0.5), limits (sandbox limit
overrides).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

from .base import Check, GradingError, Verdict
from .cpu_offload import MIN_WORK_SHARE, Expected, ExpectedJob, TreeTimeline, did_not_finish, results_from, run_watched
from .measure import Handshake, Run, join_lines, ms, require_params, with_output

PARAMS = {
    "jobs_per_core": (int, 12),
    "rounds": (int, 500_000),
    "share": (float, 0.5),
    "limits": (dict, {}),
}
DEFAULT_LIMITS = {"cpu_seconds": 20, "wall_seconds": 20, "max_processes": 64, "memory_mb": 512}
# No process may do more than this share of the work (the jobs come in jobs_per_core x cores pieces).
LARGEST_SHARE = 0.85
# 50 ms, five polls: shorter windows would cut a pool taking turns job by job to nothing, but under load
# (a process gets a core in bursts) they dropped a correct pool's side-by-side CPU from ~900 ms to 300-500.
WINDOW_SECONDS = 0.05
# Polls of the process tree must come at least this often on average, or windows blur together.
MAX_MEAN_POLL_GAP = 0.1


class TreeWatch:
    """Started by the handshake (before any learner code runs): CPU time of every process in the sandbox."""

    def __init__(self, limits: Mapping[str, Any] | None = None) -> None:
        self.pid: int | None = None
        self.tree: TreeTimeline | None = None
        self.limits = dict(limits or {})

    def on_ready(self, handshake: Handshake) -> None:
        from . import kernel

        root = kernel.parent_of(handshake.pid)
        if root is None:
            raise kernel.KernelViewUnavailable(f"the harness (pid {handshake.pid}) is gone from /proc")
        self.pid = handshake.pid
        self.tree = TreeTimeline(root, handshake.pid).start()

    def stop(self) -> None:
        if self.tree is not None:
            self.tree.stop()


def grade_gil_parallelism(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade `run_all(jobs)` on its results and on the parallel CPU time the kernel saw in distinct processes."""
    p = require_params(params, PARAMS)
    if not 2 <= p["jobs_per_core"] <= 16 or not 100_000 <= p["rounds"] <= 2_000_000 or not 0 < p["share"] <= 1:
        raise GradingError("grader params: jobs_per_core must be 2..16, rounds 100000..2000000, share in (0, 1]")
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        raise GradingError("this machine has one CPU core: there is no parallel speed-up to measure here")
    rng = random.SystemRandom()
    jobs = [[rng.randrange(1, 2**31), p["rounds"]] for _ in range(p["jobs_per_core"] * cores)]
    expected_job = ExpectedJob([(seed, rounds) for seed, rounds in jobs])
    limits = {**DEFAULT_LIMITS, **p["limits"]}
    watch = TreeWatch(limits)
    run, expected = run_watched("gil_parallelism", code, {"jobs": jobs}, limits, watch, expected_job)
    return with_output(judge(run, watch, expected, p["share"], cores), run)


def _from_harness(run: Run, pid: int | None, kind: str) -> list[str]:
    """Payloads of `kind` events sent by the harness's process (the kernel names each sender)."""
    return [e.payload for e in run.recording.of_kind(kind) if pid is not None and e.pid == pid]


def judge(run: Run, watch: TreeWatch, expected: Expected | None, share: float, cores: int) -> Verdict:
    """A verdict from one watched run: results against the grader's, CPU time per process from the kernel."""
    tree = watch.tree
    results = results_from(run, watch.pid)
    if results is None or expected is None:
        # A fail needs no evidence beyond the missing results.
        failure = did_not_finish(run, watch.pid, watch.limits, "run_all() returned")
        check = Check("runs", False, {"status": run.result.status}, f"run_all() did not finish: {failure}.")
        return Verdict(False, 0, (check,), f"run_all() did not finish: {failure}.", {})
    if tree is None or watch.pid is None:
        raise GradingError("the run was not watched from outside (no handshake from the harness)")
    if tree.error:
        raise GradingError(f"reading the sandbox's CPU accounting from /proc failed: {tree.error}")
    if len(tree.snaps) < 2:
        raise GradingError("the kernel's view of the run is too thin to judge (the grader's watcher did not run)")
    span = tree.snaps[-1][0] - tree.snaps[0][0]
    if span / (len(tree.snaps) - 1) > MAX_MEAN_POLL_GAP:
        raise GradingError(
            f"the grader's watch on the sandbox's processes fell behind ({len(tree.snaps)} looks in {ms(span)} ms): "
            "the machine is too busy to judge this run; try again"
        )
    work = expected.total
    gained = tree.gained()
    total = sum(gained.values())
    parallel, largest = tree.parallel_seconds(WINDOW_SECONDS)
    own, _ = tree.own_and_others()
    busy = sorted((s for s in gained.values() if s >= 0.02), reverse=True)
    needed_parallel = share * work * (1 - 1 / cores) / 2
    allowed_largest = LARGEST_SHARE * work
    timings = {"work_cpu_ms": ms(work), "sandbox_cpu_ms": ms(total), "parallel_cpu_ms": ms(parallel)}

    right = sum(1 for got, want in zip(results, expected.results, strict=False) if got == want)
    results_ok = right == len(expected.results) and len(results) == len(expected.results)
    work_seen = total >= MIN_WORK_SHARE * work
    spread_ok = largest <= allowed_largest
    # CPU beyond what the jobs cost could be a burner beside work run one process at a time; side-by-side
    # CPU up to that much proves nothing, so it is taken off (see the module docstring).
    extra = max(0.0, total - work)
    net_parallel = parallel - extra
    parallel_ok = net_parallel >= needed_parallel
    measured = {
        "work_cpu_ms": ms(work),
        "sandbox_cpu_ms": ms(total),
        "largest_process_cpu_ms": ms(largest),
        "allowed_largest_ms": ms(allowed_largest),
        "parallel_cpu_ms": ms(parallel),
        "extra_cpu_ms": ms(extra),
        "net_parallel_cpu_ms": ms(net_parallel),
        "needed_parallel_ms": ms(needed_parallel),
        "processes": len(busy),
        "busy_threads_in_main_process": tree.busy_threads(),
        "cores": cores,
    }
    checks = (
        Check(
            "results",
            results_ok,
            {"right": right, "jobs": len(expected.results)},
            f"{right} of {len(expected.results)} results equal crunch(seed, rounds) for their job.",
        ),
        Check(
            "parallel_processes",
            spread_ok and parallel_ok and (work_seen or not results_ok),
            measured,
            f"The jobs need {ms(work)} ms of CPU; the busiest process spent {ms(largest)} ms (at most "
            f"{ms(allowed_largest)} allowed); {ms(parallel)} ms ran side by side with another process's, "
            f"{ms(max(0.0, net_parallel))} ms once the {ms(extra)} ms spent beyond the jobs' cost is taken off "
            "(needed "
            f"{ms(needed_parallel)}).",
        ),
    )
    passed = results_ok and spread_ok and parallel_ok and work_seen
    quality = (5 if net_parallel >= 2 * needed_parallel else 4) if passed else (2 if results_ok else 1)
    took = _from_harness(run, watch.pid, "took")
    took_ms = int(took[-1]) if took and took[-1].isdigit() else None
    text = feedback(
        checks, work=work, total=total, largest=largest, own=own, parallel=parallel, busy=busy,
        threads=tree.busy_threads(), cores=cores, work_seen=work_seen, took_ms=took_ms,
    )  # fmt: skip
    if quality == 4:
        text = join_lines([text, below_five(net_parallel, needed_parallel)])
    return Verdict(passed, quality, checks, text, timings)


def below_five(net_parallel: float, needed_parallel: float) -> str:
    """Why a pass scored 4, not 5: a 5 needs twice the side-by-side time a pass needs (seconds in, words out)."""
    return (
        f"Quality 4, not 5: {ms(max(0.0, net_parallel))} ms of the jobs ran side by side with another process's; a "
        f"5 needs {ms(2 * needed_parallel)} ms. Start every job at once on one pool with a process per core, "
        "and give each process whole jobs rather than many small pieces."
    )


def feedback(
    checks: tuple[Check, ...],
    *,
    work: float,
    total: float,
    largest: float,
    own: float,
    parallel: float,
    busy: list[float],
    threads: int,
    cores: int,
    work_seen: bool,
    took_ms: int | None,
) -> str:
    """Plain words on where the kernel saw the CPU time go, and what it means."""
    results, spread = checks
    parts = []
    if not results.passed:
        parts.append(f"{results.message} Return the results in the order of `jobs`.")
    if spread.passed:
        parts.append(
            f"{spread.message} The jobs ran in {len(busy)} processes at once: each worker process has its own "
            "interpreter and its own GIL, so they really run in parallel."
        )
        return join_lines(parts)
    if results.passed and not work_seen:
        parts.append(
            f"Your results are right, but the whole sandbox spent only {ms(total)} ms of CPU, where the jobs need "
            f"about {ms(work)} ms: the grader cannot see where they ran, so it cannot pass them. Call crunch() "
            "itself, in worker processes."
        )
        return join_lines(parts)
    # One process did nearly all of it: over the allowed share of the work, or of what the whole sandbox spent
    # (the work is timed outside the sandbox, beside it, and a busier moment there can inflate it).
    if largest > spread.measured["allowed_largest_ms"] / 1000 or largest >= LARGEST_SHARE * total:
        where = "the process that called run_all()" if own >= largest * 0.99 else "a single process"
        text = f"{spread.message} Nearly all the work ran in one process ({where}: {ms(largest)} ms of CPU)"
        if own >= largest * 0.99 and threads >= 2:
            text += (
                f", spread over {threads} threads. That is the GIL: only one thread of a process runs Python "
                "bytecode at a time, so CPU-bound Python in threads takes as long as serial (or longer)."
            )
        else:
            text += ": the jobs ran one at a time."
        if total > 1.5 * work:
            text += (
                f" Other processes burned {ms(total - largest)} ms of CPU beside it, but that was not the jobs' "
                "work: what counts is that no process does most of it alone."
            )
        if took_ms is not None and took_ms < 0.5 * work * 1000 and own >= largest * 0.99:
            text += (
                f" run_all() itself returned after {took_ms} ms (as your process timed it), far less than the work "
                "takes: the results were computed before it was called (at import, or cached). The grader counts "
                "the CPU of the whole run, from the moment your module is imported."
            )
        text += (
            f" Use processes (concurrent.futures.ProcessPoolExecutor, multiprocessing.Pool): {cores} processes "
            f"can run on {cores} cores at once."
        )
        parts.append(text)
    elif total > work and parallel >= spread.measured["needed_parallel_ms"] / 1000:
        parts.append(
            f"{spread.message} Processes did run side by side, but the sandbox spent {ms(total)} ms of CPU where "
            f"the jobs need {ms(work)} ms: CPU burned beside the work does not make the work parallel. Run the "
            f"jobs themselves at once, one worker process per core ({cores} here)."
        )
    else:
        parts.append(
            f"{spread.message} The work was split over {len(busy)} processes, but they hardly ran at the same "
            f"time: are all the jobs submitted at once, to one pool with a worker per core ({cores} here), rather "
            "than one after another or to a new pool per job?"
        )
    return join_lines(parts)
