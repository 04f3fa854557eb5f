"""Integrity of gil_parallelism (threads-vs-processes): wrong answers plus tampering fail.

The verdict rests on results the grader computed itself and on the kernel's CPU time per
process, polled from outside the sandbox: phase markers, crunch() events, clocks and printed
claims from inside the learner's process carry nothing. Every grading runs through the real
sandbox; each trick has a positive control.
"""

from __future__ import annotations

import pytest

from tests.grading.gil_answers import IN_TURN_BESIDE_A_BURNER
from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("threads-vs-processes")
PARAMS = {**CH.params, "jobs_per_core": 4}

FORGE = """
import json, os, stat, sys

def forge(lines):
    for name in os.listdir("/proc/self/fd"):
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            for line in lines:
                os.write(fd, line.encode())
        except OSError:
            pass

JOBS = json.loads(sys.argv[2])["jobs"]
"""

THREADS = """
from concurrent.futures import ThreadPoolExecutor
from work import crunch

def run_all(jobs):
    with ThreadPoolExecutor() as pool:
        return list(pool.map(lambda job: crunch(*job), jobs))
"""
SERIAL = """
from work import crunch

def run_all(jobs):
    return [crunch(seed, rounds) for seed, rounds in jobs]
"""

WRONG_WITH_TRICKS = {
    # The issue's attack: the thread-pool starter, plus phase markers written at import and job start/end
    # events from forked helpers, two at a time.
    "threads_with_forged_phases_and_jobs": FORGE
    + """
import time
for i in range(2):
    forge([f"begin learner{i}", f"end learner{i}", "begin reference0", "end reference0", "cores 2"])
for n in range(2):
    if os.fork() == 0:
        for j in range(len(JOBS)):
            forge([f"job start {os.getpid()}.{j}"])
            time.sleep(0.001)
            forge([f"job end {os.getpid()}.{j}"])
        os._exit(0)
"""
    + THREADS,
    "forged_results_on_every_descriptor": FORGE
    + """
import threading
threading.Thread(target=lambda: [forge(["result " + json.dumps([1] * len(JOBS))]) for _ in range(200)]).start()
"""
    + SERIAL,
    "patched_harness_globals": """
import __main__, _events
# Cheap jobs instead of the real ones, a harness that reports no errors, and a rewritten result.
__main__.JOBS = [(seed, 1) for seed, rounds in __main__.JOBS]
_events.emit = __main__.emit = lambda kind, payload="": None if kind == "error" else _real(kind, payload)
_real = _events.os.write and (lambda kind, payload="": _events.os.write(_events.FD, f"{kind} {payload}".encode()))
"""
    + SERIAL,
    "patched_clocks": """
import itertools, time
_tick = itertools.count()
time.monotonic = lambda: next(_tick) * 0.0001
time.perf_counter = time.monotonic
time.time = time.monotonic
"""
    + THREADS,
    # Helper processes burn CPU beside a serial run, so that "two processes at once" shows.
    "serial_beside_burner_processes": """
import os, time
from work import crunch

def run_all(jobs):
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            end = time.process_time() + 0.8
            while time.process_time() < end:
                pass
            os._exit(0)
        pids.append(pid)
    out = [crunch(seed, rounds) for seed, rounds in jobs]
    for pid in pids:
        os.waitpid(pid, 0)
    return out
""",
    "serial_in_one_child_beside_a_burner": """
import os, pickle, time
from work import crunch

def run_all(jobs):
    burner = os.fork()
    if burner == 0:
        end = time.process_time() + 0.8
        while time.process_time() < end:
            pass
        os._exit(0)
    r, w = os.pipe()
    if os.fork() == 0:
        os.write(w, pickle.dumps([crunch(seed, rounds) for seed, rounds in jobs]))
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(burner, 0)
    return pickle.loads(data)
""",
    "two_processes_in_turn_beside_a_burner": IN_TURN_BESIDE_A_BURNER,
    # The jobs are in argv: crunch them at import in threads, return the cache.
    "precomputed_from_argv_in_threads": """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from work import crunch
with ThreadPoolExecutor() as _pool:
    _done = list(_pool.map(lambda job: crunch(*job), json.loads(sys.argv[2])["jobs"]))

def run_all(jobs):
    return list(_done)
""",
    "fake_verdict_and_early_exit": """
import os
print('{"passed": true, "quality": 5, "feedback": "The jobs ran in 2 processes at once"}', flush=True)
os._exit(0)

def run_all(jobs):
    return []
""",
    "exit_zero_from_run_all": FORGE
    + """
from work import crunch

def run_all(jobs):
    forge(["result " + json.dumps([crunch(s, r) for s, r in jobs]), "end learner0"])
    os._exit(0)
""",
}

CONTROLS_FAILING = {"starter_without_tricks": CH.starter, "serial_without_tricks": SERIAL}
CONTROLS_PASSING = {
    "reference_with_a_harmless_thread": """
import threading, time
def _idle():
    while True:
        time.sleep(0.05)
threading.Thread(target=_idle, daemon=True).start()
"""
    + CH.reference,
}


@pytest.fixture(scope="module")
def verdicts():
    wrong = grade_all(CH.kind, {**WRONG_WITH_TRICKS, **CONTROLS_FAILING}, PARAMS, workers=3)
    # A passing answer must show two processes on the CPU at once: the controls get the challenge's
    # own amount of work, graded beside each other only, not beside three gradings of smaller jobs
    # (at 0.5 s of work with three gradings on two cores the side-by-side margin was 1 ms).
    return wrong | grade_all(CH.kind, CONTROLS_PASSING, CH.params, workers=1)


@pytest.mark.parametrize("name", [*WRONG_WITH_TRICKS, *CONTROLS_FAILING])
def test_wrong_answers_fail_whatever_the_trick(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3
    assert "own GIL" not in verdict.feedback


@pytest.mark.parametrize("name", CONTROLS_PASSING)
def test_correct_answers_still_pass_beside_harmless_extras(verdicts, name):
    assert verdicts[name].passed, explain(verdicts[name])


def measured(verdict):
    return next(c for c in verdict.checks if c.name == "parallel_processes").measured


@pytest.mark.parametrize("name", ["serial_beside_burner_processes", "serial_in_one_child_beside_a_burner"])
def test_burned_cpu_beside_a_serial_run_is_not_parallel_work(verdicts, name):
    verdict = verdicts[name]
    m = measured(verdict)
    # Processes did run side by side, but one process did all the jobs: that is what fails.
    assert m["largest_process_cpu_ms"] > m["allowed_largest_ms"], explain(verdict)
    assert "that was not the jobs' work" in verdict.feedback


def test_processes_in_turn_beside_a_burner_show_no_net_parallel_work(verdicts):
    verdict = verdicts["two_processes_in_turn_beside_a_burner"]
    m = measured(verdict)
    assert m["largest_process_cpu_ms"] <= m["allowed_largest_ms"], explain(verdict)
    assert m["net_parallel_cpu_ms"] < m["needed_parallel_ms"], explain(verdict)


def test_cheap_jobs_swapped_in_give_wrong_results(verdicts):
    results = verdicts["patched_harness_globals"].checks[0]
    assert results.name == "results" and results.measured["right"] == 0


def test_the_issue_attack_is_seen_as_one_process(verdicts):
    verdict = verdicts["threads_with_forged_phases_and_jobs"]
    m = measured(verdict)
    # Nearly all the sandbox's CPU in one process (against the sandbox's own total, measured by the kernel
    # in the same run: the jobs' cost, timed beside the sandbox, read 760 ms in CI where the one process
    # that did them all used 681).
    assert m["largest_process_cpu_ms"] >= 0.9 * m["sandbox_cpu_ms"], explain(verdict)
    assert m["processes"] == 1 and m["busy_threads_in_main_process"] >= 2, explain(verdict)
    assert "That is the GIL" in verdict.feedback


def test_an_early_exit_is_named(verdicts):
    assert "ended (exit code 0) before run_all() returned" in verdicts["fake_verdict_and_early_exit"].feedback


@pytest.mark.slow
def test_several_gradings_at_once_keep_their_verdicts():
    answers = {f"reference{i}": CH.reference for i in range(3)} | {f"starter{i}": CH.starter for i in range(3)}
    verdicts = grade_all(CH.kind, answers, CH.params, workers=6)
    assert {name: v.passed for name, v in verdicts.items()} == {name: name.startswith("ref") for name in answers}, [
        explain(v) for v in verdicts.values()
    ]


@pytest.mark.slow
def test_eight_at_once_give_the_same_verdicts(verdicts):
    """The same verdicts with eight gradings at once on this 2-core machine as in the module's own run."""
    # All with the challenge's own amount of work, so the passing controls have their real margin.
    together = grade_all(CH.kind, {**WRONG_WITH_TRICKS, **CONTROLS_FAILING, **CONTROLS_PASSING}, CH.params, workers=8)
    assert {name: v.passed for name, v in together.items()} == {name: verdicts[name].passed for name in together}, {
        name: explain(v) for name, v in together.items() if v.passed != verdicts[name].passed
    }
