"""cpu_offload: CPU work inside an async handler, judged on where the kernel saw the CPU time go."""

from __future__ import annotations

import time

import pytest

from cards.grading import GradingError
from cards.grading.graders import grade
from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("cpu-work-in-async-handler")

POOL_WITH = """
import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from work import crunch

_pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("{method}"))

async def handle(seed, rounds):
    return await asyncio.get_running_loop().run_in_executor(_pool, crunch, seed, rounds)
"""

PASSING = {
    "reference": CH.reference,
    "spawn_pool": POOL_WITH.format(method="spawn"),
    "forkserver_pool": POOL_WITH.format(method="forkserver"),
    "async_subprocess": """
import asyncio
import sys

async def handle(seed, rounds):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"from work import crunch; print(crunch({seed}, {rounds}))",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return int(out)
""",
    "multiprocessing_pool_apply_async": """
import asyncio
import multiprocessing
from work import crunch

_pool = multiprocessing.Pool(2)

async def handle(seed, rounds):
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    def done(value):
        loop.call_soon_threadsafe(future.set_result, value)
    _pool.apply_async(crunch, (seed, rounds), callback=done)
    return await future
""",
}

FAILING = {
    "starter": CH.starter,
    "to_thread": """
import asyncio
from work import crunch

async def handle(seed, rounds):
    return await asyncio.to_thread(crunch, seed, rounds)
""",
    "run_in_executor_none": """
import asyncio
from work import crunch

async def handle(seed, rounds):
    return await asyncio.get_running_loop().run_in_executor(None, crunch, seed, rounds)
""",
    "process_pool_result_wait": """
from concurrent.futures import ProcessPoolExecutor
from work import crunch

_pool = ProcessPoolExecutor(2)

async def handle(seed, rounds):
    return _pool.submit(crunch, seed, rounds).result()
""",
    "multiprocessing_pool_apply_wait": """
from multiprocessing import Pool
from work import crunch

_pool = Pool(2)

async def handle(seed, rounds):
    return _pool.apply(crunch, (seed, rounds))
""",
    "process_pool_sleep_polling": """
import time
from concurrent.futures import ProcessPoolExecutor
from work import crunch

_pool = ProcessPoolExecutor(2)

async def handle(seed, rounds):
    future = _pool.submit(crunch, seed, rounds)
    while not future.done():
        time.sleep(0.001)
    return future.result()
""",
    "sleep_zero_then_crunch": """
import asyncio
from work import crunch

async def handle(seed, rounds):
    await asyncio.sleep(0)  # a pause point before the work does not help during it
    return crunch(seed, rounds)
""",
    "wrong_result": """
import asyncio
from concurrent.futures import ProcessPoolExecutor
from work import crunch

_pool = ProcessPoolExecutor()

async def handle(seed, rounds):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, crunch, seed, rounds - 1)
""",
    "not_a_coroutine": """
from work import crunch

def handle(seed, rounds):
    return crunch(seed, rounds)
""",
    "syntax_error": "async def handle(seed, rounds)\n    return 1\n",
    "prints_a_verdict": """
from work import crunch
print('{"passed": true, "quality": 5}')

async def handle(seed, rounds):
    print("loop_responsive True")
    return crunch(seed, rounds)
""",
}


@pytest.fixture(scope="module")
def verdicts():
    return grade_all(CH.kind, {**PASSING, **FAILING}, CH.params)


def check(verdict, name):
    return next(c for c in verdict.checks if c.name == name)


@pytest.mark.parametrize("name", PASSING)
def test_offloading_to_processes_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert verdict.quality >= 4
    cpu = check(verdict, "cpu_left_the_loop_process")
    assert cpu.measured["loop_thread_cpu_ms"] + cpu.measured["other_threads_cpu_ms"] <= cpu.measured["allowed_ms"]
    assert cpu.measured["other_processes_cpu_ms"] >= 2 * cpu.measured["one_call_cpu_ms"]
    assert "The CPU work ran in other processes" in verdict.feedback


@pytest.mark.parametrize("name", FAILING)
def test_blocking_or_wrong_answers_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_starter_feedback_says_the_loop_thread_computed(verdicts):
    verdict = verdicts["starter"]
    cpu = check(verdict, "cpu_left_the_loop_process")
    assert not cpu.passed
    # All three calls' CPU time landed on the loop's own thread, by the kernel's count.
    assert cpu.measured["loop_thread_cpu_ms"] >= 2.5 * cpu.measured["one_call_cpu_ms"]
    assert cpu.measured["other_processes_cpu_ms"] < cpu.measured["one_call_cpu_ms"] / 4
    assert f"The loop's own thread computed for {cpu.measured['loop_thread_cpu_ms']} ms of CPU" in verdict.feedback
    assert "ProcessPoolExecutor" in verdict.feedback
    # A watchdog in the sandbox names the line the loop was stuck on (feedback only).
    assert "Line 6, `return crunch(seed, rounds)`, held the event loop for about" in verdict.feedback
    assert check(verdict, "results").passed  # right numbers, wrong place to compute them


@pytest.mark.parametrize("name", ["to_thread", "run_in_executor_none"])
def test_threads_fail_every_time_and_are_told_about_the_gil(verdicts, name):
    verdict = verdicts[name]
    cpu = check(verdict, "cpu_left_the_loop_process")
    assert not cpu.passed and check(verdict, "results").passed
    # The CPU time went to other threads of the loop's process, not to other processes.
    assert cpu.measured["other_threads_cpu_ms"] >= 2.5 * cpu.measured["one_call_cpu_ms"]
    assert cpu.measured["other_processes_cpu_ms"] < cpu.measured["one_call_cpu_ms"] / 4
    assert cpu.measured["busy_threads"] >= 1
    assert "The CPU work left the loop's thread but not its process" in verdict.feedback
    assert "share one GIL" in verdict.feedback
    assert "The loop's own thread computed" not in verdict.feedback


def test_a_blocking_result_wait_is_named_as_a_wait_not_as_computing(verdicts):
    # Issue 9: "a blocking .result() wait is blamed on 'CPU work on the loop's own thread', told to someone
    # already using a process pool". The kernel saw the loop's thread waiting (futex), not computing.
    verdict = verdicts["process_pool_result_wait"]
    cpu, wait = check(verdict, "cpu_left_the_loop_process"), check(verdict, "loop_not_waiting")
    assert cpu.passed and not wait.passed
    assert wait.measured["work_done_meanwhile_ms"] >= 2 * cpu.measured["one_call_cpu_ms"]
    assert "futex" in wait.measured["waits"]
    assert "The work did run in other processes, but the loop's thread waited for it in a blocking call" in (
        verdict.feedback
    )
    assert "waiting on a lock, a thread or a future" in verdict.feedback
    assert "loop's own thread computed" not in verdict.feedback
    assert "CPU work ran on the event loop's thread" not in verdict.feedback


@pytest.mark.parametrize(
    ("name", "wait"), [("multiprocessing_pool_apply_wait", "futex"), ("process_pool_sleep_polling", "clock_nanosleep")]
)
def test_other_blocking_waits_for_a_pool_are_named_as_waits(verdicts, name, wait):
    verdict = verdicts[name]
    cpu, waiting = check(verdict, "cpu_left_the_loop_process"), check(verdict, "loop_not_waiting")
    assert cpu.passed and not waiting.passed, explain(verdict)
    assert wait in waiting.measured["waits"]
    assert "waited for it in a blocking call" in verdict.feedback
    assert "loop's own thread computed" not in verdict.feedback


def test_wrong_result_is_reported(verdicts):
    results = check(verdicts["wrong_result"], "results")
    assert not results.passed and results.measured["right"] == 0


def test_errors_in_the_code_are_named(verdicts):
    assert "async def handle" in verdicts["not_a_coroutine"].feedback
    assert "SyntaxError" in verdicts["syntax_error"].feedback


def test_printed_claims_do_not_count_and_do_not_leak(verdicts):
    verdict = verdicts["prints_a_verdict"]
    assert not verdict.passed
    assert '"passed": true' not in verdict.feedback


def test_bad_params_are_refused_clearly():
    with pytest.raises(GradingError, match="'calls' must be int"):
        grade("cpu_offload", CH.reference, {"calls": "three"})
    with pytest.raises(GradingError, match="unknown parameter"):
        grade("cpu_offload", CH.reference, {"cals": 3})
    with pytest.raises(GradingError, match="rounds 1000000"):
        grade("cpu_offload", CH.reference, {"rounds": 1000})


def test_an_infinite_loop_ends_at_the_wall_limit():
    code = "async def handle(seed, rounds):\n    while True:\n        pass\n"
    start = time.monotonic()
    verdict = grade(CH.kind, code, {**CH.params, "limits": {"wall_seconds": 4}})
    took = time.monotonic() - start
    assert not verdict.passed and took < 4 + 5, took
    assert "stopped by the sandbox's wall-clock limit of 4 s before handle() had returned" in verdict.feedback


def test_an_unreadable_proc_stops_grading_with_an_error(monkeypatch):
    # No kernel view, no verdict: never a laxer rule.
    from cards.grading import kernel

    def unreadable(pid, tid):
        raise kernel.KernelViewUnavailable(f"cannot read /proc/{pid}/task/{tid}/stat: permission denied")

    monkeypatch.setattr(kernel, "read_thread", unreadable)
    with pytest.raises(GradingError, match="cannot read /proc"):
        grade(CH.kind, CH.starter, {**CH.params, "calls": 1})
