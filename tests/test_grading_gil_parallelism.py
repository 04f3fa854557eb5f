"""gil_parallelism: a speed-up over serial, measured on the cores there are, against a process pool's."""

from __future__ import annotations

import pytest

from cards.grading import GradingError, grade

from .grading_e3_helpers import challenge, explain, grade_all

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
}

PASSING_WHEN_CORES_ARE_FREE = {
    "spawn_context": """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from work import crunch

def run_all(jobs):
    with ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(crunch, *zip(*jobs)))
""",
}

FAILING = {
    "starter_threads": CH.starter,
    "serial": """
from work import crunch

def run_all(jobs):
    return [crunch(seed, rounds) for seed, rounds in jobs]
""",
    "fast_but_wrong": """
def run_all(jobs):
    return [seed for seed, rounds in jobs]
""",
    "async_def": """
from work import crunch

async def run_all(jobs):
    return [crunch(*job) for job in jobs]
""",
}


@pytest.fixture(scope="module")
def verdicts():
    # One at a time: these measurements hold a machine-wide lock anyway.
    return grade_all(CH.kind, {**PASSING, **FAILING}, CH.params, workers=1)


@pytest.mark.parametrize("name", PASSING)
def test_processes_pass(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    speed = verdict.checks[1].measured
    assert speed["speedup"] >= speed["needed"] > 1 or speed["processes_at_once"] >= 2
    assert speed["cores"] >= 2
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
    # All jobs ran in the one process (the kernel names the sender of every crunch() event).
    assert speed.measured["processes_at_once"] == 1
    assert speed.measured["process_pool_processes_at_once"] >= 2
    assert "GIL" in verdict.feedback
    assert f"{speed.measured['run_all_ms']} ms" in verdict.feedback


def test_a_fast_wrong_answer_is_caught_by_its_results(verdicts):
    results, speed = verdicts["fast_but_wrong"].checks
    assert not results.passed and results.measured["right"] == 0
    assert speed.measured["processes_at_once"] == 0  # never called crunch(): fast, and wrong


def test_spawned_workers_never_write_into_other_files():
    # A "spawn" worker has the harness's argv but not its event socket: crunch() must notice, not write
    # into whatever file has that number there (the pool's own pipes), and the answer must still be right.
    from cards.grading.base import GradingError as Error

    try:
        verdict = grade(CH.kind, PASSING_WHEN_CORES_ARE_FREE["spawn_context"], CH.params)
    except Error as exc:  # a saturated machine cannot judge spawned workers (they cannot report): say so
        assert "too busy" in str(exc)
        return
    assert verdict.checks[0].passed, explain(verdict)
    assert verdict.checks[1].measured["processes_at_once"] == 0


def test_a_coroutine_function_is_named(verdicts):
    assert "async def" in verdicts["async_def"].feedback


def test_bad_params_are_refused_clearly():
    with pytest.raises(GradingError, match="share"):
        grade("gil_parallelism", CH.reference, {"share": 2.0})


def _recording(serial_s, pool_s, learner_s, learner_pids):
    """A run as the recorder would hear it: phases and kernel-attested crunch() events (pids)."""
    from cards.grading.measure import Event, Recording

    events, t = [Event(0.0, "cores", "2")], 1.0

    def phase(name, seconds, pids):
        nonlocal t
        events.append(Event(t, "begin", name))
        for n, pid in enumerate(pids):
            events.append(Event(t + 0.001, "job", f"start {pid}.{n}", pid))
            events.append(Event(t + seconds - 0.001, "job", f"end {pid}.{n}", pid))
        events.append(Event(t + seconds, "end", name))
        t += seconds + 0.1

    phase("serial", serial_s, [1])
    events.append(Event(t, "expected", "[7, 8]"))
    phase("reference0", pool_s, [2, 3])
    for i in range(2):
        phase(f"learner{i}", learner_s, learner_pids)
        events.append(Event(t, "result", "[7, 8]"))
    phase("reference1", pool_s, [4, 5])
    return Recording(events=events)


class _Result:
    status, exit_code, signal_name, stderr = "ok", 0, None, ""


def test_a_saturated_machine_is_judged_on_where_the_work_ran():
    from cards.grading.gil_parallelism import judge
    from cards.grading.measure import Run

    # The pool is no faster than serial (no free core): a retry is asked for first...
    assert judge(Run(_Result(), _recording(1.0, 0.95, 0.9, [9, 10])), 0.5, 0.0, last_try=False) is None
    # ...then the verdict rests on the processes the kernel saw running crunch() at once.
    processes = judge(Run(_Result(), _recording(1.0, 0.95, 0.9, [9, 10])), 0.5, 0.0, last_try=True)
    threads = judge(Run(_Result(), _recording(1.0, 0.95, 0.9, [9, 9])), 0.5, 0.0, last_try=True)
    assert processes.passed and processes.checks[1].name == "parallel_processes"
    assert not threads.passed and threads.checks[1].measured["processes_at_once"] == 1
    assert "too busy to show a steady speed-up" in threads.checks[1].message


def test_with_free_cores_a_thread_pool_cannot_pass_on_a_lucky_timing():
    from cards.grading.gil_parallelism import judge
    from cards.grading.measure import Run

    # Serial was slow by bad luck, so threads look 1.6x faster: the kernel still saw one process doing it all.
    lucky_threads = judge(Run(_Result(), _recording(1.6, 0.9, 1.0, [9, 9])), 0.5, 0.0, last_try=True)
    processes = judge(Run(_Result(), _recording(1.6, 0.9, 1.0, [9, 10])), 0.5, 0.0, last_try=True)
    assert not lucky_threads.passed and lucky_threads.checks[1].name == "speedup"
    assert processes.passed


def test_processes_short_of_the_speed_up_are_measured_again_then_judged_on_where_they_ran():
    from cards.grading.gil_parallelism import judge
    from cards.grading.measure import Run

    # The pool showed 1.6x, the learner's processes only 1.05x: load shifted between phases.
    shifted = _recording(1.6, 1.0, 1.52, [9, 10])
    assert judge(Run(_Result(), shifted), 0.5, 0.0, last_try=False) is None
    verdict = judge(Run(_Result(), shifted), 0.5, 0.0, last_try=True)
    assert verdict.passed and verdict.quality == 4 and verdict.checks[1].name == "parallel_processes"
