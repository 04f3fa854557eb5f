"""bounded-fanout under attack: a 5-at-a-time answer plus a trick must still fail; a correct one still passes.

Each attack is real code graded through the real sandbox (`cards.grading.grade`). The wrong answer under
every trick is the same: `Semaphore(5)` with a limit of 20 (the server must see at least 10 of the
requests behind the results in flight together). The positive controls: that answer without a trick
fails, and a correct answer that starts a harmless thread passes.
"""

from __future__ import annotations

import pytest

from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("bounded-fanout")
PARAMS = {**CH.params, "n": 200}

FIVE_AT_A_TIME = """
import asyncio
from fetch import get_json

async def five_at_a_time(urls):
    sem = asyncio.Semaphore(5)
    async def one(url):
        async with sem:
            return await get_json(url)
    return await asyncio.gather(*(one(u) for u in urls))
"""

# The trick is appended to the wrong answer; each defines fetch_all(urls, limit).
ATTACKS = {
    # The known attack: six idle /slow requests lift the server's raw peak from 5 to 11.
    "padding_with_idle_slow_requests": """
async def fetch_all(urls, limit):
    base = urls[0].rsplit("/item/", 1)[0]
    pads = [asyncio.create_task(get_json(base + "/slow?ms=4000")) for _ in range(6)]
    results = await five_at_a_time(urls)
    for pad in pads:
        pad.cancel()
    return results
""",
    # Padding with /item requests whose answers (and tokens) are thrown away.
    "padding_with_thrown_away_item_requests": """
async def fetch_all(urls, limit):
    async def pad():
        while True:
            await get_json(urls[0])
    pads = [asyncio.create_task(pad()) for _ in range(12)]
    results = await five_at_a_time(urls)
    for p in pads:
        p.cancel()
    return results
""",
    # URLs read from argv at import: 40 results prefetched 20 at a time (within the limit), then 5 at a time.
    "prefetch_burst_from_argv": """
import json, sys
SPEC = json.loads(sys.argv[2])
async def _burst():
    first = await asyncio.gather(*(get_json(f"{SPEC['base']}/item/{i}") for i in range(20)))
    return first + await asyncio.gather(*(get_json(f"{SPEC['base']}/item/{i}") for i in range(20, 40)))
PREFETCHED = asyncio.run(_burst())

async def fetch_all(urls, limit):
    rest = await five_at_a_time(urls[40:])
    return PREFETCHED + rest
""",
    # The base URL found in the harness's memory (its module globals) and in the environment.
    "prefetch_from_memory_and_env": """
import gc, os, sys
SPEC = sys.modules["__main__"].SPEC
base = os.environ.get("FIXTURE_URL") or SPEC["base"]
async def _burst():
    first = await asyncio.gather(*(get_json(f"{base}/item/{i}") for i in range(20, 40)))
    return first + await asyncio.gather(*(get_json(f"{base}/item/{i}") for i in range(40, 60)))
CACHE = dict(zip(range(20, 60), asyncio.run(_burst())))

async def fetch_all(urls, limit):
    rest = await five_at_a_time([u for i, u in enumerate(urls) if i not in CACHE])
    it = iter(rest)
    return [CACHE[i] if i in CACHE else next(it) for i in range(len(urls))]
""",
    # Forged events on every descriptor: a fake result line, phase markers and a fake report.
    "forged_events_on_every_descriptor": """
import os, json
def forge():
    fake = json.dumps(["0" * 16] * 200)
    for fd in range(0, 64):
        for line in ("begin learner", f"result {fake}", "end learner",
                     '{"max_in_flight": 20, "requests": 200}'):
            try:
                os.write(fd, line.encode())
            except OSError:
                pass

async def fetch_all(urls, limit):
    forge()
    results = await five_at_a_time(urls)
    forge()
    return results
""",
    # Patched harness globals and functions: the harness is told to check a smaller, easier job.
    "patched_harness_globals_and_functions": """
import sys
main = sys.modules["__main__"]
main.SPEC["limit"] = 5
main.SPEC["n"] = 20
main.token_of = lambda value: value.get("token") if isinstance(value, dict) else "x"
_real_emit = main.emit
main.emit = lambda kind, payload="": _real_emit(kind, payload) if kind != "error" else None

async def fetch_all(urls, limit):
    return await five_at_a_time(urls)
""",
    # Patched clocks: time runs four times slower for everything in the process, the loop included.
    "patched_clocks": """
import time
_mono, _perf = time.monotonic, time.perf_counter
time.monotonic = lambda: _mono() / 4
time.perf_counter = lambda: _perf() / 4

async def fetch_all(urls, limit):
    loop = asyncio.get_running_loop()
    _t = loop.time
    loop.time = lambda: _t() / 4
    return await five_at_a_time(urls)
""",
    # Helper threads keep 12 idle requests in flight with blocking sockets while the answer runs.
    "helper_threads_padding": """
import socket, threading
from urllib.parse import urlsplit

def hold(url):
    parts = urlsplit(url)
    for _ in range(3):
        with socket.create_connection((parts.hostname, parts.port)) as s:
            s.sendall(b"GET /slow?ms=1500 HTTP/1.0\\r\\n\\r\\n")
            s.recv(4096)

async def fetch_all(urls, limit):
    for _ in range(12):
        threading.Thread(target=hold, args=(urls[0],), daemon=True).start()
    return await five_at_a_time(urls)
""",
    # Helper processes (forked) do the same from outside the loop's process.
    "helper_processes_padding": """
import os, socket
from urllib.parse import urlsplit

def hold(url):
    parts = urlsplit(url)
    for _ in range(3):
        with socket.create_connection((parts.hostname, parts.port)) as s:
            s.sendall(b"GET /slow?ms=1500 HTTP/1.0\\r\\n\\r\\n")
            s.recv(4096)

async def fetch_all(urls, limit):
    for _ in range(12):
        if os.fork() == 0:
            try:
                hold(urls[0])
            finally:
                os._exit(0)
    return await five_at_a_time(urls)
""",
    # An early exit with success: print a verdict-shaped line and leave before the harness reports.
    "early_exit_with_success": """
import os
async def fetch_all(urls, limit):
    results = await five_at_a_time(urls[:5])
    print('{"passed": true, "quality": 5}')
    print("PASSED: 200 of 200 right, at most 20 in flight")
    os._exit(0)
""",
}

CONTROLS_FAIL = {
    "five_at_a_time_without_tricks": """
async def fetch_all(urls, limit):
    return await five_at_a_time(urls)
""",
}

CONTROLS_PASS = {
    "correct_with_a_harmless_thread": """
import threading, time
def tick():
    for _ in range(50):
        time.sleep(0.01)
threading.Thread(target=tick, daemon=True).start()

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit)
    async def one(url):
        async with sem:
            return await get_json(url)
    return await asyncio.gather(*(one(u) for u in urls))
""",
}


@pytest.fixture(scope="module")
def verdicts():
    answers = {name: FIVE_AT_A_TIME + trick for name, trick in {**ATTACKS, **CONTROLS_FAIL, **CONTROLS_PASS}.items()}
    return grade_all(CH.kind, answers, PARAMS)


@pytest.mark.parametrize("name", [*ATTACKS, *CONTROLS_FAIL])
def test_a_wrong_answer_fails_with_or_without_the_trick(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


@pytest.mark.parametrize("name", list(CONTROLS_PASS))
def test_a_correct_answer_with_a_harmless_thread_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert verdict.quality == 5


def test_padding_is_named_and_not_counted(verdicts):
    verdict = verdicts["padding_with_idle_slow_requests"]
    in_flight = verdict.checks[1]
    assert verdict.checks[0].passed  # the results are right...
    assert in_flight.measured["max_in_flight"] >= 11  # ...and the server did see 11 in flight...
    assert in_flight.measured["max_in_flight_of_results"] <= 5  # ...but only 5 of them delivered results
    assert max(in_flight.measured["peak_of_results_per_stretch"]) <= 5
    assert "went unused" in verdict.feedback
    assert "thrown away" in verdict.feedback


def test_thrown_away_item_requests_count_against_the_limit(verdicts):
    verdict = verdicts["padding_with_thrown_away_item_requests"]
    in_flight = verdict.checks[1]
    assert in_flight.measured["max_in_flight"] > 5
    assert in_flight.measured["max_in_flight_of_results"] <= 5
    assert in_flight.measured["extra_requests"] > 0


def test_a_prefetched_burst_does_not_count_as_sustained_concurrency(verdicts):
    for name in ("prefetch_burst_from_argv", "prefetch_from_memory_and_env"):
        in_flight = verdicts[name].checks[1]
        assert verdicts[name].checks[0].passed, explain(verdicts[name])  # every result is genuine
        assert in_flight.measured["max_in_flight"] <= 20  # within the limit...
        assert in_flight.measured["max_in_flight_of_results"] >= 10  # ...and the burst reached the floor...
        assert min(in_flight.measured["peak_of_results_per_stretch"]) <= 5  # ...but not throughout the run


def test_forged_and_patched_results_are_checked_against_the_servers_record(verdicts):
    assert verdicts["forged_events_on_every_descriptor"].checks[0].measured["right"] in (0, 200)
    patched = verdicts["patched_harness_globals_and_functions"]
    assert patched.checks[0].measured["urls"] == 200  # the grader's own n, not the patched one
    assert patched.checks[1].measured["limit"] == 20


def test_an_early_exit_is_a_failure_not_a_success(verdicts):
    verdict = verdicts["early_exit_with_success"]
    assert verdict.quality == 0
    assert "did not return" in verdict.feedback
    assert "PASSED" not in verdict.feedback


@pytest.mark.slow
def test_eight_at_once_give_the_same_verdicts(verdicts):
    """The same verdicts with eight gradings at once on this 2-core machine as in the module's own run."""
    together = grade_all(
        CH.kind,
        {name: FIVE_AT_A_TIME + trick for name, trick in {**ATTACKS, **CONTROLS_FAIL, **CONTROLS_PASS}.items()},
        PARAMS,
        workers=8,
    )
    assert {name: v.passed for name, v in together.items()} == {name: verdicts[name].passed for name in together}, {
        name: explain(v) for name, v in together.items() if v.passed != verdicts[name].passed
    }
