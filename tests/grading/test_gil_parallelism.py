"""gil_parallelism: parallel CPU time in distinct processes, read from the kernel, and results the grader knows."""

from __future__ import annotations

import time

import pytest

from cards.grading import GradingError
from cards.grading.gil_parallelism import WINDOW_SECONDS
from cards.grading.graders import grade
from tests.grading.gil_answers import POOL_WAITED_ON_EACH_JOB, SPAWN_POOL
from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("threads-vs-processes")

PASSING = {
    "reference": CH.reference,
    "multiprocessing_pool_starmap": """
import multiprocessing
from work import crunch

def run_all(jobs):
    with multiprocessing.Pool() as pool:
        return pool.starmap(crunch, jobs)
""",
    "spawn_context": SPAWN_POOL,
}

FAILING = {
    "starter_threads": CH.starter,
    "serial": """
from work import crunch

def run_all(jobs):
    return [crunch(seed, rounds) for seed, rounds in jobs]
""",
    "one_process_after_another": """
from concurrent.futures import ProcessPoolExecutor
from work import crunch

def run_all(jobs):
    out = []
    for seed, rounds in jobs:
        with ProcessPoolExecutor(1) as pool:
            out.append(pool.submit(crunch, seed, rounds).result())
    return out
""",
    # Found by attack: with windows as long as a job, the hand-overs looked side by side (net 137 of 139).
    "pool_waiting_on_each_job": POOL_WAITED_ON_EACH_JOB,
    "fast_but_wrong": """
def run_all(jobs):
    return [seed for seed, rounds in jobs]
""",
    "async_def": """
from work import crunch

async def run_all(jobs):
    return [crunch(*job) for job in jobs]
""",
    "lazy_map": """
from concurrent.futures import ProcessPoolExecutor
from work import crunch

def run_all(jobs):
    with ProcessPoolExecutor() as pool:
        return pool.map(crunch, *zip(*jobs))
""",
}


@pytest.fixture(scope="module")
def verdicts():
    return grade_all(CH.kind, {**PASSING, **FAILING}, CH.params, workers=2)


def measured(verdict):
    return next(c for c in verdict.checks if c.name == "parallel_processes").measured


@pytest.mark.parametrize("name", PASSING)
def test_processes_pass(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    m = measured(verdict)
    assert m["largest_process_cpu_ms"] <= m["allowed_largest_ms"]
    assert m["net_parallel_cpu_ms"] >= m["needed_parallel_ms"] > 0
    assert m["cores"] >= 2
    assert "own GIL" in verdict.feedback


@pytest.mark.parametrize("name", FAILING)
def test_threads_serial_or_wrong_answers_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_threads_are_told_about_the_gil(verdicts):
    verdict = verdicts["starter_threads"]
    results, speed = verdict.checks
    assert results.passed and not speed.passed
    m = speed.measured
    # All the CPU time ran in the one process that called run_all(), in several threads, never side by side.
    assert m["largest_process_cpu_ms"] >= 0.9 * m["work_cpu_ms"]
    assert m["net_parallel_cpu_ms"] < m["needed_parallel_ms"]
    assert m["busy_threads_in_main_process"] >= 2
    assert "That is the GIL" in verdict.feedback
    assert f"{m['largest_process_cpu_ms']} ms of CPU" in verdict.feedback


@pytest.mark.parametrize("name", ["one_process_after_another", "pool_waiting_on_each_job"])
def test_processes_one_after_another_are_told_they_did_not_overlap(verdicts, name):
    m = measured(verdicts[name])
    assert m["largest_process_cpu_ms"] <= m["allowed_largest_ms"]
    assert m["net_parallel_cpu_ms"] < m["needed_parallel_ms"]
    assert "they hardly ran at the same time" in verdicts[name].feedback


def test_a_fast_wrong_answer_is_caught_by_its_results(verdicts):
    results, _ = verdicts["fast_but_wrong"].checks
    assert not results.passed and results.measured["right"] == 0


def test_a_coroutine_function_is_named(verdicts):
    assert "async def" in verdicts["async_def"].feedback


def test_a_lazy_map_iterator_is_named_not_called_an_exit(verdicts):
    # Issue 9: "a lazy pool.map iterator is reported as 'did not finish: the process exited with code 0'".
    feedback = verdicts["lazy_map"].feedback
    assert "run_all() returned a lazy iterator (generator), not a list" in feedback
    assert "list(pool.map(...))" in feedback
    assert "exited with code" not in feedback


def test_results_computed_at_import_are_named_as_such():
    # Issue 9: "cached results are reported as a 3,504x speed-up that 'still ran one at a time', with no word
    # of caching". The seeds are in argv: computing them at import, serially, then returning them fails, and
    # the feedback says the results were computed before run_all() was called.
    code = """
import json, sys
from work import crunch
_done = [crunch(seed, rounds) for seed, rounds in json.loads(sys.argv[2])["jobs"]]

def run_all(jobs):
    return list(_done)
"""
    verdict = grade(CH.kind, code, CH.params)
    assert not verdict.passed, explain(verdict)
    assert verdict.checks[0].passed
    assert "the results were computed before it was called (at import, or cached)" in verdict.feedback
    assert "speed-up" not in verdict.feedback


def test_an_infinite_loop_ends_at_the_wall_limit():
    # Issue 9: "An infinite loop ends within 5 s of the wall limit. Today one took 72 s in threads-vs-processes"
    # (the grader measured twice and retried a saturated run; it now runs the learner's code once).
    code = "def run_all(jobs):\n    while True:\n        pass\n"
    start = time.monotonic()
    verdict = grade(CH.kind, code, {**CH.params, "limits": {"wall_seconds": 4}})
    took = time.monotonic() - start
    assert not verdict.passed
    assert took < 4 + 5, took
    assert "stopped by the sandbox's wall-clock limit of 4 s before run_all() returned" in verdict.feedback


def test_bad_params_are_refused_clearly():
    with pytest.raises(GradingError, match="share"):
        grade("gil_parallelism", CH.reference, {"share": 2.0})


def test_an_unreadable_proc_stops_grading_with_an_error(monkeypatch):
    from cards.grading import cpu_offload, kernel

    def unreadable(pid, threads=None):
        raise kernel.KernelViewUnavailable(f"cannot read /proc/{pid}/stat: permission denied")

    monkeypatch.setattr(cpu_offload, "_process_cpu_ns", unreadable)
    with pytest.raises(GradingError, match="cannot read /proc"):
        grade(CH.kind, CH.starter, CH.params)


def _timeline(gains_per_poll):
    """A TreeTimeline from per-poll CPU gains (ms) per process, polls 10 ms apart (no /proc involved)."""
    from cards.grading.cpu_offload import TreeTimeline

    tree = TreeTimeline(root=1, watch_pid=2)
    totals: dict = {}
    tree.snaps.append((0.0, {}))
    for i, gains in enumerate(gains_per_poll, start=1):
        for pid, gained in gains.items():
            totals[(pid, 0)] = totals.get((pid, 0), 0) + gained * 1_000_000
        tree.snaps.append((i * 0.01, dict(totals)))
    return tree


def test_processes_side_by_side_count_and_processes_in_turn_do_not():
    # Two workers busy together for 300 ms: about half their CPU ran beside the other's.
    together = _timeline([{3: 10, 4: 10}] * 30)
    parallel, largest = together.parallel_seconds(0.05)
    assert 0.2 <= parallel <= 0.3 and abs(largest - 0.3) < 1e-6
    # The same work in processes that take turns, each hand-over inside one window: nothing side by side.
    in_turn = _timeline([{10 + i // 7: 10} for i in range(60)])
    assert in_turn.parallel_seconds(0.05)[0] == 0.0
    # Two workers taking turns at every 100 ms job, 10 ms apart (a pool waited on job by job): each is idle
    # for a whole window between its jobs, so no hand-over is a window's interior.
    turns = _timeline([{3 + (i // 11) % 2: 10} if i % 11 else {} for i in range(220)])
    assert turns.parallel_seconds(WINDOW_SECONDS)[0] == 0.0
    # One process (however many threads) is one process.
    assert _timeline([{2: 10}] * 30).parallel_seconds(0.05)[0] == 0.0
