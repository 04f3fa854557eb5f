"""cpu_offload: CPU work inside an async handler, graded on a heartbeat timed outside the sandbox."""

from __future__ import annotations

import pytest

from cards.grading import GradingError, grade

from .grading_e3_helpers import challenge, explain, grade_all

CH = challenge("cpu-work-in-async-handler")

PASSING = {
    "reference": CH.reference,
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
    "patches_the_clocks": """
import time
from work import crunch

# The grader's times come from the kernel's stamps on each heartbeat datagram, not from these.
time.time = lambda: 0.0
time.perf_counter = lambda: 0.0

async def handle(seed, rounds):
    return crunch(seed, rounds)
""",
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


@pytest.mark.parametrize("name", PASSING)
def test_offloading_to_processes_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert verdict.quality >= 4
    loop = next(c for c in verdict.checks if c.name == "loop_responsive")
    assert loop.measured["longest_freeze_ms"] <= loop.measured["bound_ms"]
    assert "stayed responsive" in verdict.feedback


@pytest.mark.parametrize("name", FAILING)
def test_blocking_or_wrong_answers_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_starter_feedback_says_what_was_measured(verdicts):
    verdict = verdicts["starter"]
    loop = next(c for c in verdict.checks if c.name == "loop_responsive")
    assert not loop.passed
    # The loop froze at least as long as one call run directly on it, measured in the same run.
    assert loop.measured["longest_freeze_ms"] >= 0.9 * loop.measured["one_call_on_the_loop_ms"]
    assert f"froze for {loop.measured['longest_freeze_ms']} ms" in verdict.feedback
    assert "ProcessPoolExecutor" in verdict.feedback
    # A watchdog in the sandbox names the line the loop was stuck on (feedback only).
    assert "Line 6, `return crunch(seed, rounds)`, held the event loop for about" in verdict.feedback
    results = next(c for c in verdict.checks if c.name == "results")
    assert results.passed  # right numbers, wrong place to compute them


def test_wrong_result_is_reported(verdicts):
    results = next(c for c in verdicts["wrong_result"].checks if c.name == "results")
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


@pytest.mark.slow
def test_eight_gradings_at_a_time_keep_their_verdicts():
    # Four references and four starters at once on this 2-core machine: the bound is calibrated in each run,
    # under the load all eight make together, so none of the verdicts flips.
    answers = {f"reference{i}": CH.reference for i in range(4)} | {f"starter{i}": CH.starter for i in range(4)}
    verdicts = grade_all(CH.kind, answers, CH.params, workers=8)
    assert {name: v.passed for name, v in verdicts.items()} == {name: name.startswith("ref") for name in answers}, [
        explain(v) for v in verdicts.values()
    ]
