"""Integrity of cpu_offload: wrong answers plus tampering fail; each trick has a positive control.

The learner's process is hostile: it can write to every descriptor it inherited, patch the
harness and the clocks, start threads and processes, read argv. The verdict rests only on
the kernel's CPU accounting (read from outside), the loop thread's state, and results the
grader computed itself, so none of that helps. Every grading runs through the real sandbox.
"""

from __future__ import annotations

import pytest

from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("cpu-work-in-async-handler")
PARAMS = {**CH.params, "calls": 2}

# Writes plausible event lines to every socket the process holds (the recorder's among them).
FORGE = """
import json, os, socket, stat, sys

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

SEEDS = json.loads(sys.argv[2])["seeds"]
PLAUSIBLE = ["ready {}", "hb", "begin learner", "end learner", "expected " + json.dumps([1] * len(SEEDS)),
             "result " + json.dumps([1] * len(SEEDS)), "blame {}", "begin calib", "end calib"]
"""

STARTER_BODY = """
from work import crunch

async def handle(seed, rounds):
    return crunch(seed, rounds)
"""

WRONG_WITH_TRICKS = {
    # The attack: a forked helper writes heartbeats to the recorder socket while the loop crunches.
    "forked_heartbeat_helper": """
import os, sys, time
FD = int(sys.argv[1])
if os.fork() == 0:
    end = time.monotonic() + 8
    while time.monotonic() < end:
        try:
            os.write(FD, b"hb ")
        except OSError:
            break
        time.sleep(0.005)
    os._exit(0)
"""
    + STARTER_BODY,
    "forged_events_on_every_descriptor": FORGE
    + """
import threading
forge(PLAUSIBLE)
threading.Thread(target=lambda: [forge(["hb"]) for _ in range(2000)], daemon=True).start()
from work import crunch

async def handle(seed, rounds):
    forge(PLAUSIBLE)
    return crunch(seed, rounds)
""",
    # Right values, computed in a forked child from the seeds in argv, forged as a result event from there;
    # handle() itself returns nothing useful. Only the loop's process may report results.
    "right_results_forged_from_a_child": FORGE
    + """
from work import crunch
if os.fork() == 0:
    good = [crunch(seed, json.loads(sys.argv[2])["rounds"]) for seed in SEEDS]
    forge(["result " + json.dumps(good)])
    os._exit(0)

async def handle(seed, rounds):
    return 0
""",
    "patched_harness_functions": """
import asyncio, json, sys
import __main__, _events
from work import crunch

# Silence the heartbeat's gaps and the watchdog, and rewrite what the harness reports.
__main__.watchdog = lambda: None
_real_emit = _events.emit
def emit(kind, payload=""):
    if kind in ("blame", "error"):
        return
    _real_emit(kind, payload)
__main__.emit = _events.emit = emit
async def heartbeat(interval):
    while True:
        emit("hb")
        await asyncio.sleep(0)
__main__.heartbeat = heartbeat
"""
    + STARTER_BODY,
    "patched_clocks": """
import asyncio, itertools, time
_tick = itertools.count()
time.monotonic = lambda: next(_tick) * 0.001
time.perf_counter = time.monotonic
time.time = time.monotonic
asyncio.BaseEventLoop.time = lambda self: time.monotonic()
"""
    + STARTER_BODY,
    # The seeds are in argv: crunch them all at import (on the loop's thread, before the loop runs) and
    # return them from a cache. The kernel counts the CPU from the moment the module is imported.
    "precomputed_from_argv_at_import": """
import json, sys
from work import crunch
_spec = json.loads(sys.argv[2])
_cache = {seed: crunch(seed, _spec["rounds"]) for seed in _spec["seeds"]}

async def handle(seed, rounds):
    return _cache[seed]
""",
    "precomputed_in_a_thread_at_import": """
import json, sys, threading
from work import crunch
_spec = json.loads(sys.argv[2])
_cache = {}
def _fill():
    for seed in _spec["seeds"]:
        _cache[seed] = crunch(seed, _spec["rounds"])
_t = threading.Thread(target=_fill)
_t.start()

async def handle(seed, rounds):
    _t.join()
    return _cache[seed]
""",
    # A helper process burns CPU so that "work in a child process" seems to happen, while the loop does the
    # real work itself.
    "burner_child_while_the_loop_computes": """
import os, time
if os.fork() == 0:
    end = time.process_time() + 1.5
    while time.process_time() < end:
        pass
    os._exit(0)
"""
    + STARTER_BODY,
    # The work in a forked child, but the loop's thread blocks waiting for it.
    "forked_child_waited_for_on_the_loop": """
import os, pickle
from work import crunch

async def handle(seed, rounds):
    r, w = os.pipe()
    if os.fork() == 0:
        os.write(w, pickle.dumps(crunch(seed, rounds)))
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    return pickle.loads(data)
""",
    # A blocking wait disguised as an idle loop: the thread waits in the loop's own epoll, but runs no
    # callbacks meanwhile. The harness keeps a descriptor readable there, so such a wait spins on the CPU.
    "blocking_wait_inside_the_loops_own_selector": """
import asyncio
from concurrent.futures import ProcessPoolExecutor
from work import crunch

_pool = ProcessPoolExecutor(2)

async def handle(seed, rounds):
    loop = asyncio.get_running_loop()
    future = _pool.submit(crunch, seed, rounds)
    while not future.done():
        loop._selector.select(0.01)
    return future.result()
""",
    "fake_verdict_and_early_exit": """
import os, sys
print('{"passed": true, "quality": 5, "feedback": "The event loop stayed responsive"}')
sys.stdout.flush()
os._exit(0)

async def handle(seed, rounds):
    return 0
""",
    "exit_zero_after_computing_on_the_loop": FORGE
    + STARTER_BODY
    + """
_real = handle
async def handle(seed, rounds):
    value = await _real(seed, rounds)
    forge(["result " + json.dumps([value] * len(SEEDS))])
    os._exit(0)
""",
}

CONTROLS_FAILING = {"starter_without_tricks": CH.starter}
CONTROLS_PASSING = {
    "reference_with_a_harmless_thread": """
import threading, time
def _idle():
    while True:
        time.sleep(0.05)
threading.Thread(target=_idle, daemon=True).start()
"""
    + CH.reference,
    "reference_with_forged_events_too": FORGE + "\nforge(PLAUSIBLE)\n" + CH.reference,
}


@pytest.fixture(scope="module")
def verdicts():
    return grade_all(CH.kind, {**WRONG_WITH_TRICKS, **CONTROLS_FAILING, **CONTROLS_PASSING}, PARAMS, workers=3)


@pytest.mark.parametrize("name", [*WRONG_WITH_TRICKS, *CONTROLS_FAILING])
def test_wrong_answers_fail_whatever_the_trick(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3
    assert "stayed free" not in verdict.feedback


@pytest.mark.parametrize("name", CONTROLS_PASSING)
def test_correct_answers_still_pass_beside_harmless_extras(verdicts, name):
    assert verdicts[name].passed, explain(verdicts[name])


def cpu(verdict):
    return next(c for c in verdict.checks if c.name == "cpu_left_the_loop_process").measured


# More than one call's work seen in one place, with room for the grader's one-call figure reading high.
CALLS_SEEN = 1.2


@pytest.mark.parametrize(
    "name",
    ["forked_heartbeat_helper", "patched_clocks", "patched_harness_functions", "burner_child_while_the_loop_computes"],
)
def test_the_kernel_saw_the_loop_thread_compute(verdicts, name):
    m = cpu(verdicts[name])
    # Both calls' work (2x one call) ran on the loop; the grader's one-call figure, timed in its own process
    # beside the sandbox, has read up to a third high on a busy machine (461 ms where the sandbox spent 343).
    assert m["loop_thread_cpu_ms"] >= CALLS_SEEN * m["one_call_cpu_ms"], explain(verdicts[name])


def test_work_done_at_import_counts(verdicts):
    on_loop, in_thread = (
        cpu(verdicts["precomputed_from_argv_at_import"]),
        cpu(verdicts["precomputed_in_a_thread_at_import"]),
    )
    assert on_loop["loop_thread_cpu_ms"] >= CALLS_SEEN * on_loop["one_call_cpu_ms"]
    assert in_thread["other_threads_cpu_ms"] >= CALLS_SEEN * in_thread["one_call_cpu_ms"]
    assert "share one GIL" in verdicts["precomputed_in_a_thread_at_import"].feedback


def test_results_forged_from_another_process_are_not_the_loops(verdicts):
    verdict = verdicts["right_results_forged_from_a_child"]
    results = next(c for c in verdict.checks if c.name == "results")
    assert results.measured["right"] == 0


def test_an_early_exit_is_named(verdicts):
    feedback = verdicts["fake_verdict_and_early_exit"].feedback
    assert "ended (exit code 0) before handle() had returned" in feedback
    assert "stayed responsive" not in feedback


def test_a_blocking_wait_for_a_child_is_a_wait(verdicts):
    verdict = verdicts["forked_child_waited_for_on_the_loop"]
    wait = next(c for c in verdict.checks if c.name == "loop_not_waiting")
    assert not wait.passed, explain(verdict)
    assert "waited for it in a blocking call" in verdict.feedback


@pytest.mark.slow
def test_several_gradings_at_once_keep_their_verdicts():
    # Six at once on this 2-core machine (plus whatever else runs): the verdicts rest on CPU time, which
    # load does not inflate, so they are the ones a grading alone gets.
    to_thread = "import asyncio\nfrom work import crunch\n\nasync def handle(seed, rounds):\n"
    to_thread += "    return await asyncio.to_thread(crunch, seed, rounds)\n"
    answers = {f"reference{i}": CH.reference for i in range(2)}
    answers |= {f"starter{i}": CH.starter for i in range(2)} | {f"to_thread{i}": to_thread for i in range(2)}
    verdicts = grade_all(CH.kind, answers, PARAMS, workers=6)
    assert {name: v.passed for name, v in verdicts.items()} == {name: name.startswith("ref") for name in answers}, [
        explain(v) for v in verdicts.values()
    ]


@pytest.mark.slow
def test_eight_at_once_give_the_same_verdicts(verdicts):
    """The same verdicts with eight gradings at once on this 2-core machine as in the module's own run."""
    together = grade_all(CH.kind, {**WRONG_WITH_TRICKS, **CONTROLS_FAILING, **CONTROLS_PASSING}, PARAMS, workers=8)
    assert {name: v.passed for name, v in together.items()} == {name: verdicts[name].passed for name in together}, {
        name: explain(v) for name, v in together.items() if v.passed != verdicts[name].passed
    }
