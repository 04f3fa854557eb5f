"""Integrity of the blocking-call grader: wrong answers plus tampering fail, through the real sandbox.

The learner's process is hostile: it can rewrite the harness, forge anything on any descriptor,
patch clocks, read argv, the environment and memory, and start threads and processes. The
verdict rests on what the grader sees from outside (the kernel's view of the loop's thread,
the fixture's records, results checked against the bodies it sent), so each attack below is a
wrong answer that must still fail. Positive controls: the same wrong answer without the trick
fails too, and a correct answer that starts a harmless thread still passes.

Also: eight gradings at once give the same verdicts as one at a time (issue 9, item 2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cards.grading import GradingError
from cards.grading.async_blocking.grader import KIND, Params
from cards.grading.async_blocking.runner import run_once
from cards.grading.graders import grade

from .parallel import grade_side_by_side

pytestmark = pytest.mark.sandbox

CHALLENGE = Path(__file__).resolve().parents[2] / "cards" / "challenges" / "catalog" / "async-blocking-call"
ANSWERS_DIR = Path(__file__).resolve().parents[1] / "answers" / "async_blocking"
REFERENCE = (CHALLENGE / "reference.py").read_text(encoding="utf-8")
STARTER = (CHALLENGE / "starter.py").read_text(encoding="utf-8")
PARAMS = {"calls": 6, "delay_ms": 150}  # fewer, shorter calls than the challenge's: the attacks run serially

BLOCKING_GET = """
async def get_data(url):
    import requests
    return requests.get(url, timeout=30).json()
"""

SERIAL_BUT_FREE = """
import asyncio
import httpx

client = httpx.AsyncClient()
one_at_a_time = asyncio.Semaphore(1)


async def _fetch(url):
    async with one_at_a_time:
        return (await client.get(url)).json()
"""

ATTACKS = {
    # Forged events on any descriptor: every socket this process holds gets plausible lines, again and again.
    "forge_every_descriptor": """
import os, threading, time, json
LINES = [b'result {"i": 0, "ok": true, "json": "{}"}', b"end ", b"urls ", b'ready {"epoll_fd": 3}', b"go",
         b'stack {"frames": [], "innermost": {}, "task": ""}', b"b 1", b'{"t": "end"}\\n']
def forge():
    while True:
        for name in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                    for line in LINES:
                        os.write(int(name), line)
            except OSError:
                pass
        time.sleep(0.002)
threading.Thread(target=forge, daemon=True).start()
"""
    + BLOCKING_GET,
    # Patched harness globals and functions: everything the harness defined so far becomes a no-op.
    "patch_harness": """
import sys, types
main = sys.modules["__main__"]
for name, value in list(vars(main).items()):
    if isinstance(value, types.FunctionType) and name not in ("send", "emit", "run_calls", "main"):
        setattr(main, name, lambda *a, **k: None)
main.SPEC["sample"] = 3600  # silence the watchdog
main.SPEC["tick"] = 3600  # and the loop's timer
"""
    + BLOCKING_GET,
    # Heartbeats and events from other threads and a forked process, to the recorder and to UDP ports.
    "heartbeats_from_threads_and_processes": """
import os, socket, sys, threading, time
FD = int(sys.argv[1])
def beat():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for line in (b"b %d" % n, b"end ", b'stack {"frames": []}'):
            try:
                os.write(FD, line)
            except OSError:
                pass
        for port in range(40000, 40010):
            try:
                udp.sendto(b"b %d" % n, ("127.0.0.1", port))
            except OSError:
                pass
        n += 1
        time.sleep(0.005)
threading.Thread(target=beat, daemon=True).start()
if os.fork() == 0:
    beat()
    os._exit(0)
"""
    + BLOCKING_GET,
    # Padded fixture counters: throw-away GETs in threads beside a blocking call, so the server sees overlap.
    "padded_counters_blocking": """
import threading, requests
async def get_data(url):
    for _ in range(2):
        threading.Thread(target=requests.get, args=(url,), daemon=True).start()
    return requests.get(url, timeout=30).json()
""",
    # ... and beside a loop-friendly answer that runs the calls one at a time.
    "padded_counters_serial": SERIAL_BUT_FREE
    + """
import threading, requests
async def get_data(url):
    for _ in range(3):
        threading.Thread(target=requests.get, args=(url,), daemon=True).start()
    return await _fetch(url)
""",
    # URLs read from argv, the environment or memory, prefetched by threads; the loop waits on a lock for them.
    "prefetch_from_memory": """
import gc, os, sys, threading, time, requests
cache, ready = {}, threading.Event()
assert not any("/data/" in a for a in sys.argv + list(os.environ.values())), "URLs in argv or env"
def fetch(url):
    cache[url] = requests.get(url, timeout=30).json()
    if len(cache) >= 6:
        ready.set()
def hunt():
    while True:
        found = {s for s in sys.argv + list(os.environ.values()) if "/data/" in s}
        for obj in gc.get_objects():
            if isinstance(obj, list) and obj and all(isinstance(x, str) and "/data/" in x for x in obj):
                found.update(obj)
        if found:
            for url in found:
                threading.Thread(target=fetch, args=(url,), daemon=True).start()
            return
        time.sleep(0.001)
threading.Thread(target=hunt, daemon=True).start()
async def get_data(url):
    while url not in cache:
        ready.wait(0.5)
    return cache[url]
""",
    # Patched clocks: time.monotonic, perf_counter, time.time and the loop's own clock frozen.
    "patched_clocks": """
import asyncio, time
time.monotonic = lambda: 1000.0
time.perf_counter = lambda: 1000.0
time.time = lambda: 1000.0
time.monotonic_ns = lambda: 10**12
asyncio.get_event_loop().time = lambda: 1000.0
"""
    + BLOCKING_GET,
    # A helper thread does the blocking call while the loop waits in its own selector, called directly.
    "helper_thread_loop_selector": """
import asyncio, threading, requests
async def get_data(url):
    box = []
    helper = threading.Thread(target=lambda: box.append(requests.get(url, timeout=30).json()))
    helper.start()
    selector = asyncio.get_running_loop()._selector
    while helper.is_alive():
        selector.select(0.2)
    return box[0]
""",
    # ... or spinning on the loop's own selector with a timeout as short as the loop's own: the loop's timer
    # (whose read system call the grader counts from outside) stops running, so it is not the loop waiting.
    "helper_thread_loop_selector_short_spins": """
import asyncio, threading, requests
async def get_data(url):
    box = []
    helper = threading.Thread(target=lambda: box.append(requests.get(url, timeout=30).json()))
    helper.start()
    selector = asyncio.get_running_loop()._selector
    while helper.is_alive():
        selector.select(0.005)
    return box[0]
""",
    # ... or in a fresh epoll of its own (also epoll_wait, on another descriptor).
    "helper_thread_fresh_epoll": """
import select, threading, requests
async def get_data(url):
    box = []
    helper = threading.Thread(target=lambda: box.append(requests.get(url, timeout=30).json()))
    helper.start()
    poller = select.epoll()
    while helper.is_alive():
        poller.poll(0.2)
    return box[0]
""",
    # A helper thread fetches while the loop waits on an event with a timeout, a busy thread beside it running
    # all along: a timed futex wait while another thread runs looks like a GIL wait, unless its timeout is read.
    "helper_thread_event_wait_beside_busy_thread": """
import threading, requests
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
async def get_data(url):
    box, done = [], threading.Event()
    def fetch():
        box.append(requests.get(url, timeout=30).json())
        done.set()
    threading.Thread(target=fetch).start()
    while not done.wait(0.2):
        pass
    return box[0]
""",
    # A helper process does the fetching; the loop waits for it.
    "helper_process": """
import json, subprocess, sys
async def get_data(url):
    code = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, timeout=30)
    return json.loads(done.stdout)
""",
    # An early exit with success: a fake verdict on stdout, then os._exit(0) from the first call.
    "early_exit_with_success": """
import os, sys
async def get_data(url):
    print('{"passed": true, "quality": 5, "feedback": "PASSED: all good"}')
    sys.stdout.flush()
    os._exit(0)
""",
}

CONTROLS = {
    "starter": (STARTER, False),
    "serial_but_free": (SERIAL_BUT_FREE + "\nasync def get_data(url):\n    return await _fetch(url)\n", False),
    # Harmless but wrong-headed: asyncio.sleep without await does nothing (feedback says so; the verdict passes).
    "unawaited_sleep": (
        REFERENCE.replace("async def get_data(url):\n", "async def get_data(url):\n    asyncio.sleep(0.01)\n").replace(
            "import httpx", "import asyncio\n\nimport httpx"
        ),
        True,
    ),
    # Not an attack: one call of six sleeps 245 ms on the loop (fails; the feedback says "once", not "per call").
    "one_off_sleep": (
        """
import time
import httpx
client = httpx.AsyncClient()
first = [True]
async def get_data(url):
    if first[0]:
        first[0] = False
        time.sleep(0.245)
    return (await client.get(url)).json()
""",
        False,
    ),
    "reference_with_harmless_thread": (
        """
import threading, time
def hum():
    while True:
        time.sleep(0.01)
        sum(range(1000))
threading.Thread(target=hum, daemon=True).start()
"""
        + REFERENCE,
        True,
    ),
}


@pytest.fixture(scope="module")
def verdicts():
    jobs = {**{name: code for name, code in ATTACKS.items()}, **{name: code for name, (code, _) in CONTROLS.items()}}
    return dict(zip(jobs, grade_side_by_side(KIND, list(jobs.values()), PARAMS, 4), strict=True))


def failed(verdict) -> set[str]:
    return {check.name for check in verdict.checks if not check.passed}


def measured(verdict, name: str) -> dict:
    return next(check.measured for check in verdict.checks if check.name == name)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_fails(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, verdict.feedback
    assert verdict.quality <= 2
    assert "PASSED: all good" not in verdict.feedback


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_positive_controls(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed == CONTROLS[name][1], verdict.feedback


def test_what_each_attack_is_caught_by(verdicts):
    """Each attack fails for the reason the trusted evidence gives, not by accident."""
    for name in ("heartbeats_from_threads_and_processes", "patched_clocks"):
        assert "loop" in failed(verdicts[name]), name
        # Held for two of the server's 150 ms delays, the run is decided and the grader stops it there.
        assert measured(verdicts[name], "loop")["blocked_by_kind_ms"].get("socket", 0) >= 250, name
        assert measured(verdicts[name], "overlap")["max_in_flight"] == 1, name
    # Forging on every socket also garbles the learner's own HTTP connections (some calls may raise):
    # whatever happens to them, no forged line makes a result right or a request overlap.
    forged = verdicts["forge_every_descriptor"]
    assert measured(forged, "overlap")["max_in_flight"] <= 1
    assert {"loop", "results"} & failed(forged)
    # Throw-away requests pad the server's count but not the overlap of the requests the results carry.
    # (The blocking one is stopped once its loop has been held for two delays: two calls, four throw-aways.)
    for name, padding in (("padded_counters_blocking", 4), ("padded_counters_serial", 6)):
        overlap = measured(verdicts[name], "overlap")
        assert "overlap" in failed(verdicts[name]) and overlap["max_in_flight"] == 1, name
        assert overlap["unmatched_requests"] >= padding, name
    assert failed(verdicts["padded_counters_serial"]) == {"overlap"}
    assert failed(verdicts["serial_but_free"]) == {"overlap"}
    # Prefetched by threads, but the loop waited on a lock for them.
    assert "loop" in failed(verdicts["prefetch_from_memory"])
    assert measured(verdicts["prefetch_from_memory"], "loop")["blocked_by_kind_ms"].get("lock", 0) >= 50
    # The loop's own selector called with a longer timeout, or a fresh epoll, is not the loop waiting.
    selector = measured(verdicts["helper_thread_loop_selector"], "loop")["blocked_by_kind_ms"]
    assert "loop" in failed(verdicts["helper_thread_loop_selector"]) and selector.get("selector_timeout", 0) >= 100
    spins = measured(verdicts["helper_thread_loop_selector_short_spins"], "loop")["blocked_by_kind_ms"]
    assert spins.get("selector_timeout", 0) >= 100, spins
    epoll = measured(verdicts["helper_thread_fresh_epoll"], "loop")["blocked_by_kind_ms"]
    assert "loop" in failed(verdicts["helper_thread_fresh_epoll"]) and epoll.get("other_epoll", 0) >= 100
    assert "loop" in failed(verdicts["helper_process"])
    event = measured(verdicts["helper_thread_event_wait_beside_busy_thread"], "loop")["blocked_by_kind_ms"]
    assert event.get("lock", 0) >= 100, event
    # Patched harness: its helpers and its timer gone, the watchdog silenced; the kernel still sees the wait.
    assert "loop" in failed(verdicts["patch_harness"])
    assert measured(verdicts["patch_harness"], "loop")["blocked_by_kind_ms"].get("socket", 0) >= 250
    assert {"results", "loop", "overlap"} <= failed(verdicts["early_exit_with_success"])


# -- eight gradings at once, the same verdicts as one at a time -------------------------------------

SLEEP_5MS = REFERENCE.replace("    return response.json()", "    time.sleep(0.005)\n    return response.json()")
BUSY_30MS = REFERENCE.replace(
    "    return response.json()",
    "    spent = time.thread_time() + 0.03\n    while time.thread_time() < spent:\n        pass\n"
    "    return response.json()",
)
TO_THREAD = """import asyncio

import requests


async def get_data(url):
    response = await asyncio.to_thread(requests.get, url, timeout=30)
    return response.json()
"""
LOADED = {
    "reference": ("import time\n" + REFERENCE, True),
    "starter": (STARTER, False),
    "sleep_5ms_per_call": ("import time\n" + SLEEP_5MS, False),
    "busy_wait_30ms_per_call": ("import time\n" + BUSY_30MS, False),
    "to_thread": (TO_THREAD, True),
}
CHALLENGE_PARAMS = {"calls": 10, "delay_ms": 250}


@pytest.mark.slow
def test_eight_at_once_give_the_same_verdicts_as_one_at_a_time():
    alone = {name: grade(KIND, code, CHALLENGE_PARAMS) for name, (code, _) in LOADED.items()}
    names = [*LOADED, "sleep_5ms_per_call", "busy_wait_30ms_per_call", "reference"]
    codes = [LOADED[name][0] for name in names]
    together = list(zip(names, grade_side_by_side(KIND, codes, CHALLENGE_PARAMS, 8), strict=True))
    for name, verdict in [*alone.items(), *together]:
        assert verdict.passed == LOADED[name][1], (name, verdict.feedback)
        assert failed(verdict) == failed(alone[name]), (name, verdict.feedback)
    # What each failing one is failed for: the kernel's count, not a comparison with a loaded reference.
    for name, verdict in [*alone.items(), *together]:
        loop = measured(verdict, "loop")
        if name == "sleep_5ms_per_call":
            assert loop["blocked_by_kind_ms"].get("sleeping", 0) > loop["bound_blocked_ms"], loop
            assert "sleeping (a call like time.sleep)" in verdict.feedback
        if name == "busy_wait_30ms_per_call":
            assert loop["computing_ms"] > loop["bound_computing_ms"], loop
    # Which line, from the watchdog's stack samples (feedback only; best effort when eight share two cores).
    assert "Line 8, `time.sleep(0.005)`, held the event loop for " in alone["sleep_5ms_per_call"].feedback


# At import: CPU burner processes, to keep the cores busy so that the grader's sampler falls behind and the
# 5 ms sleeps per call go unseen. Whatever the sampler manages, it must never come out a pass.
SLEEP_BESIDE_BURNERS = (
    """import multiprocessing
import time


def _burn():
    while True:
        pass


for _ in range(4):
    multiprocessing.get_context("fork").Process(target=_burn, daemon=True).start()
"""
    + SLEEP_5MS
)


@pytest.mark.slow
def test_burner_processes_cannot_starve_the_watch_into_passing_a_blocking_answer():
    for _ in range(2):
        try:
            verdict = grade(KIND, SLEEP_BESIDE_BURNERS, CHALLENGE_PARAMS)
        except GradingError as exc:  # the watch fell behind and said so: graded again, never passed
            assert "unwatched" in str(exc), exc
            continue
        assert "loop" in failed(verdict), verdict.feedback
        assert measured(verdict, "loop")["blocked_by_kind_ms"].get("sleeping", 0) > 15, verdict.feedback


def test_an_unawaited_asyncio_sleep_is_named_never_awaited(verdicts):
    text = verdicts["unawaited_sleep"].feedback
    assert "Line 7: `asyncio.sleep(0.01)` makes a coroutine that was never awaited" in text, text
    assert "time.sleep" not in text


def test_a_one_off_blocking_call_is_shown_once_not_per_call(verdicts):
    text = verdicts["one_off_sleep"].feedback
    found = re.search(r"Line 9, `time.sleep\(0.245\)`, held the event loop once, for ([\d,]+) ms", text)
    assert found and int(found.group(1).replace(",", "")) >= 150, text
    assert "sleeping (a call like time.sleep)" in text


# -- the start-up allowance (kernel.CHILD_STARTING): a forkserver pool started from the loop passes ----------
#
# While a child of the loop's thread, started in the window and not niced, is busy in its first seconds (a
# fork server's interpreter start-up), the loop's reads on a pipe or a unix socket are excused: once per
# grading, until those children have used 300 ms of CPU, and at most 1.5 s in all. Each attack below tries
# to hide a real wait behind a child's start-up, at the challenge's own 10 calls of 250 ms.

SPIN = "import time\\nend = time.time() + 3\\nwhile time.time() < end:\\n    pass\\n"
SPAWN_SPINNER = f"subprocess.Popen([sys.executable, '-c', {SPIN!r}])"
CHILD_START_ATTACKS = {
    # The starter's requests.get, with a busy child started at each call: a TCP socket is never excused.
    "starter_beside_busy_child": f"""
import subprocess, sys
import requests
async def get_data(url):
    {SPAWN_SPINNER}
    return requests.get(url, timeout=30).json()
""",
    # time.sleep(0.2) per call beside a child's start-up: a sleep is never excused.
    "sleep_beside_child_start": f"""
import subprocess, sys, time
import httpx
client = httpx.AsyncClient()
async def get_data(url):
    {SPAWN_SPINNER}
    time.sleep(0.2)
    return (await client.get(url)).json()
""",
    # The loop reads a pipe from a forked child that sleeps 0.2 s before writing, once per call: the child
    # is asleep, not starting up.
    "pipe_from_forked_sleeper": """
import os, time
import httpx
client = httpx.AsyncClient()
async def get_data(url):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)
        os.write(w, b"x")
        os._exit(0)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    return (await client.get(url)).json()
""",
    # A fresh interpreter that sleeps 0.25 s, waited for on the loop once per call (wait4: never excused) ...
    "spawned_sleeper_waited": """
import subprocess, sys
import httpx
client = httpx.AsyncClient()
async def get_data(url):
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.25)"])
    return (await client.get(url)).json()
""",
    # ... and read to its end through a pipe: its start-up is excused until 300 ms of CPU, its sleep never.
    "spawned_sleeper_read_through_pipe": """
import subprocess, sys
import httpx
client = httpx.AsyncClient()
async def get_data(url):
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.25); print(1)"], stdout=subprocess.PIPE)
    return (await client.get(url)).json()
""",
    # A helper thread fetches with requests and hands the body over a pipe the loop reads, while a busy child
    # starts at each call: the excuse runs out after 300 ms of the children's CPU.
    "pipe_from_helper_beside_busy_child": f"""
import json, os, subprocess, sys, threading
import requests
def fetch_into(url, w):
    os.write(w, requests.get(url, timeout=30).content)
    os.close(w)
async def get_data(url):
    {SPAWN_SPINNER}
    r, w = os.pipe()
    threading.Thread(target=fetch_into, args=(url, w)).start()
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    return json.loads(data)
""",
    # The same with the child niced, so that it would wait for a CPU and stretch the excuse: not excused once
    # niced.
    "pipe_from_helper_beside_niced_child": f"""
import json, os, subprocess, sys, threading
import requests
def fetch_into(url, w):
    os.write(w, requests.get(url, timeout=30).content)
    os.close(w)
async def get_data(url):
    subprocess.Popen([sys.executable, "-c", {SPIN!r}], preexec_fn=lambda: os.nice(19))
    r, w = os.pipe()
    threading.Thread(target=fetch_into, args=(url, w)).start()
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    return json.loads(data)
""",
}
# How each is caught: the kind of wait the kernel saw, in ms, at least. The grader stops a run once the loop
# has been held (not counting what was excused) for two of the server's 250 ms delays: so at least ~500 ms of
# each was counted as holding the loop, past any excuse.
CHILD_START_CAUGHT_BY = {
    "starter_beside_busy_child": ("socket", 450),
    "sleep_beside_child_start": ("sleeping", 450),
    "pipe_from_forked_sleeper": ("socket", 450),
    "spawned_sleeper_waited": ("child", 450),
    "spawned_sleeper_read_through_pipe": ("socket", 450),
    "pipe_from_helper_beside_busy_child": ("socket", 450),
    "pipe_from_helper_beside_niced_child": ("socket", 450),
}
FORKSERVER_POOLS = {
    name: (ANSWERS_DIR / f"{name}.py").read_text(encoding="utf-8")
    for name in ("pass_forkserver_pool", "pass_forkserver_pool_lazy")
}


@pytest.fixture(scope="module")
def child_start_verdicts():
    jobs = {**CHILD_START_ATTACKS, **FORKSERVER_POOLS}
    return dict(zip(jobs, grade_side_by_side(KIND, list(jobs.values()), CHALLENGE_PARAMS, 4), strict=True))


@pytest.mark.parametrize("name", sorted(CHILD_START_ATTACKS))
def test_a_child_start_does_not_hide_a_blocking_wait(child_start_verdicts, name):
    verdict = child_start_verdicts[name]
    assert not verdict.passed and "loop" in failed(verdict), verdict.feedback
    loop = measured(verdict, "loop")
    kind, at_least = CHILD_START_CAUGHT_BY[name]
    assert loop["blocked_by_kind_ms"].get(kind, 0) >= at_least, loop
    # The allowance is one-off and capped, whatever the answer does.
    assert loop["blocked_by_kind_ms"].get("child_starting", 0) <= 1500, loop
    assert loop["child_startup_cpu_ms"] <= 300, loop
    if name == "pipe_from_helper_beside_niced_child":
        # Only the moments between fork and nice() in each child (preexec_fn) are excused: ~0-100 ms on a
        # quiet machine, up to ~0.4 s seen at load 10 (the children wait for a CPU before nice()); far under
        # the 1.5 s cap, and the wait is counted once they are niced.
        assert loop["blocked_by_kind_ms"].get("child_starting", 0) <= 600, loop
    # Line-level feedback for a real failure.
    assert re.search(r"Line \d+, `", verdict.feedback), verdict.feedback


@pytest.mark.parametrize("name", sorted(FORKSERVER_POOLS))
def test_a_forkserver_pool_started_from_the_loop_passes(child_start_verdicts, name):
    verdict = child_start_verdicts[name]
    assert verdict.passed, verdict.feedback
    loop = measured(verdict, "loop")
    assert 0 < loop["blocked_by_kind_ms"].get("child_starting", 0) <= 1500, loop


# -- the harness's own timer: its CPU is not charged, and the allowance for it cannot be bought --------------

# 30 ms of CPU per call on the loop, then a 5 s sleep: the window (and the timer's ticks in it) stretches
# to ~5.5 s, which must not buy CPU budget beyond what the timer really cost.
STRETCHED_BUSY_WAIT = "import asyncio\nimport time\n" + BUSY_30MS.replace(
    "    return response.json()", "    await asyncio.sleep(5)\n    return response.json()"
)
# At import (after the calibration, which ran before it): busy threads to make the machine, and any tick of
# the loop, look dear; a forged `calibrated` event on every socket; then the same 30 ms busy-wait per call.
IMPORT_TIME_TAMPERING = (
    """
import os, threading, time

def spin():
    while True:
        pass

for _ in range(2):
    threading.Thread(target=spin, daemon=True).start()
for name in os.listdir("/proc/self/fd"):
    try:
        if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
            for _ in range(20):
                os.write(int(name), b"calibrated ")
    except OSError:
        pass
"""
    + BUSY_30MS
)


@pytest.fixture(scope="module")
def timer_verdicts():
    jobs = {"stretched": STRETCHED_BUSY_WAIT, "import_time_tampering": IMPORT_TIME_TAMPERING}
    return dict(zip(jobs, grade_side_by_side(KIND, list(jobs.values()), CHALLENGE_PARAMS, 2), strict=True))


def test_a_stretched_window_buys_no_cpu_budget(timer_verdicts):
    verdict = timer_verdicts["stretched"]
    loop = measured(verdict, "loop")
    assert failed(verdict) == {"loop"}, verdict.feedback
    assert loop["window_ms"] >= 5000, loop
    assert loop["computing_ms"] > loop["bound_computing_ms"], loop
    # Ticks credited: at most a serial run's worth (10 × 250 ms + 1 s, at 10 ms), at most 0.5 ms each.
    assert loop["harness_ticks"] <= 350, loop
    assert loop["harness_timer_cpu_ms"] <= 175, loop
    assert re.search(r"Line \d+, `", verdict.feedback), verdict.feedback


def test_code_at_import_cannot_make_the_calibration_dear(timer_verdicts):
    verdict = timer_verdicts["import_time_tampering"]
    loop = measured(verdict, "loop")
    assert "loop" in failed(verdict), verdict.feedback
    assert loop["computing_ms"] > loop["bound_computing_ms"], loop
    # The calibration ran before the import: capped, and a forged `calibrated` from the import is ignored.
    assert loop["harness_tick_cpu_us"] <= 500, loop
    assert loop["harness_timer_cpu_ms"] <= 175, loop


def test_the_harness_calibrates_before_it_imports_the_learners_module():
    source = (Path(__file__).resolve().parents[2] / "cards" / "grading" / "async_blocking" / "harness.py").read_text(
        encoding="utf-8"
    )
    main = source[source.index("def main():") :]
    order = [
        main.index("ready(epoll_fd="),
        main.index("start_timer()"),
        main.index('loop.run_until_complete(asyncio.sleep(SPEC["calibrate"]))'),
        main.index('emit("calibrated", "")'),
        main.index('ask("yardstick")'),
        main.index("httpx.AsyncClient().aclose()"),
        main.index("import solution"),
    ]
    assert order == sorted(order)


# httpx's first client imports ~46 modules (20-45 ms of CPU, more on a slow host): the harness pays that
# before the import, so the window charges the learner's calls only what they do.
SEES_HTTPX_WARM = (
    """
import sys

print("httpcore imported before solution.py:", "httpcore" in sys.modules)
"""
    + REFERENCE
)


def test_httpx_first_client_costs_are_paid_before_the_learners_module_is_imported():
    verdict = grade(KIND, SEES_HTTPX_WARM, CHALLENGE_PARAMS)
    assert verdict.passed, verdict.feedback
    assert "httpcore imported before solution.py: True" in verdict.output["stdout"]


# At import: forged yardstick questions, with CPU burnt between them, to make the machine look slow.
FORGED_YARDSTICK = (
    """
import os, time

for name in os.listdir("/proc/self/fd"):
    try:
        if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
            for _ in range(6):
                os.write(int(name), b"yardstick ")
                spent = time.thread_time() + 0.05
                while time.thread_time() < spent:
                    pass
    except OSError:
        pass
"""
    + REFERENCE
)


def test_the_yardstick_is_read_before_the_import_and_questions_from_the_learners_code_are_ignored():
    outcome = run_once(FORGED_YARDSTICK, Params.from_mapping(CHALLENGE_PARAMS).settings())
    # Five runs before the import, each read from outside; the 50 ms burns after it count for nothing.
    assert len(outcome.yardstick) == 5, outcome.yardstick
    assert max(outcome.yardstick) < 0.03, outcome.yardstick
    verdict = grade(KIND, FORGED_YARDSTICK, CHALLENGE_PARAMS)
    assert measured(verdict, "loop")["yardstick_us"] < 30_000


# -- the early stop: its trigger counts "result" events, which the learner's code can forge ---------------

FORGE_RESULTS = """
import os, sys
FD = int(sys.argv[1])
for _ in range(20):  # results for calls that do not exist: counted by the stop's trigger, never as results
    os.write(FD, b'result {"i": 99, "ok": true, "json": "{}"}')
"""


def test_forged_result_events_neither_stop_a_free_loop_nor_save_a_blocking_one():
    # The stop needs the kernel's view of the loop held past the bound: forged counts cannot stop a correct
    # answer early, and a blocking answer is stopped and fails as before.
    correct = grade(KIND, FORGE_RESULTS + REFERENCE, CHALLENGE_PARAMS)
    assert correct.passed, correct.feedback
    assert not measured(correct, "results")["stopped"] and measured(correct, "results")["returned"] == 10
    blocking = grade(KIND, FORGE_RESULTS + STARTER, CHALLENGE_PARAMS)
    assert not blocking.passed and {"loop", "overlap"} <= failed(blocking), blocking.feedback
    assert measured(blocking, "results")["stopped"]
