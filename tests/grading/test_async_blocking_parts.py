"""The blocking-call grader's parts: the kernel's classification, the analysis and feedback (pure), and
the trusted fixture server run directly.

The fixture server is our own trusted code, so these tests run it as a plain
subprocess on the host's loopback; no learner code runs here.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time

import pytest

from cards.grading import kernel
from cards.grading.async_blocking import feedback
from cards.grading.async_blocking.analysis import (
    MAX_TICK_CPU,
    LineBlame,
    Measurements,
    blame_lines,
    check_results,
    harness_allowance,
    max_overlap,
    same_json,
)
from cards.grading.async_blocking.grader import NOMINAL_YARDSTICK, Params, judge
from cards.grading.async_blocking.runner import FIXTURE, RunOutcome, RunSettings
from cards.grading.measure import Event, Recording

pytestmark = pytest.mark.sandbox

N = kernel.SYSCALL_NUMBERS
EPFD = 3  # the loop's own epoll descriptor in these samples


def test_same_json_is_exact_about_types():
    assert same_json({"a": [1, 2.5, "x", None, True]}, {"a": [1, 2.5, "x", None, True]})
    assert same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same_json({"a": 1}, {"a": 1.0})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"a": [1, 2]}, {"a": [2, 1]})
    assert not same_json("{}", {})
    assert not same_json({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}})


# -- what one sample of the loop's thread means ------------------------------------------------


def sample(name: str | None, *args: int, state: str = "S") -> kernel.ThreadSample:
    number = kernel.RUNNING if name is None else N[name]
    return kernel.ThreadSample(0.0, "R" if name is None else state, number, tuple(args), 0)


def classify(s: kernel.ThreadSample, others: bool = False) -> str:
    return kernel.classify(s, EPFD, 25, others)


def test_the_loops_own_selector_with_its_own_short_timeout_is_idle():
    assert classify(sample("epoll_wait", EPFD, 0x7F00, 4, 10)) == kernel.IDLE
    assert classify(sample("epoll_wait", EPFD, 0x7F00, 4, 0)) == kernel.IDLE


def test_the_loops_own_selector_called_with_a_longer_timeout_holds_the_loop():
    # asyncio.get_running_loop()._selector.select(0.2): same descriptor, a timeout the loop never uses.
    assert classify(sample("epoll_wait", EPFD, 0x7F00, 4, 200)) == kernel.SELECTOR_TIMEOUT
    # No timeout at all (-1, sign-extended in the register): the harness's timer would have bounded it.
    assert classify(sample("epoll_wait", EPFD, 0x7F00, 4, 0xFFFFFFFFFFFFFFFF)) == kernel.SELECTOR_TIMEOUT
    assert kernel.SELECTOR_TIMEOUT in kernel.HOLDING


def test_a_fresh_epoll_is_not_the_loops():
    # select.epoll().poll(1.5): also epoll_wait (232), on another descriptor.
    assert classify(sample("epoll_wait", 7, 0x7F00, 1, 1500)) == kernel.OTHER_EPOLL


def test_sleeps_socket_waits_and_children_hold_the_loop():
    assert classify(sample("clock_nanosleep", 1, 0, 0x7F00, 0)) == kernel.SLEEPING
    assert classify(sample("recvfrom", 5, 0x7F00, 8192, 0)) == kernel.SOCKET
    assert classify(sample("poll", 0x7F00, 1, 30000)) == kernel.SOCKET
    assert classify(sample("wait4", 123, 0, 0, 0)) == kernel.CHILD
    assert {kernel.SLEEPING, kernel.SOCKET, kernel.CHILD} <= kernel.HOLDING


def test_a_zero_timeout_poll_is_not_a_blocking_wait():
    assert classify(sample("poll", 0x7F00, 1, 0)) == kernel.IDLE


def test_futex_waits_are_the_gil_only_while_another_thread_can_run():
    assert classify(sample("futex", 0x7F00, 0x189, 0, 0x7E00), others=True) == kernel.GIL
    assert classify(sample("futex", 0x7F00, 0x189, 0, 0x7E00), others=False) == kernel.LOCK
    assert classify(sample(None)) == kernel.COMPUTING
    openat = min(kernel.FILE_IO_SYSCALLS - set(N.values()))
    opening = kernel.ThreadSample(0.0, "D", openat, (0, 0, 0, 0), 0)
    assert classify(opening) == kernel.FILE_IO
    assert kernel.GIL not in kernel.HOLDING and kernel.FILE_IO not in kernel.HOLDING


def test_loop_account_sums_spans_by_kind_and_takes_cpu_from_schedstat():
    watch = kernel.LoopWatch.__new__(kernel.LoopWatch)
    watch.exited, watch._starting = True, {}
    rows = [
        (kernel.ThreadSample(1.000, "S", N["epoll_wait"], (EPFD, 0, 4, 10), 1_000_000), kernel.IDLE, 0),
        (kernel.ThreadSample(1.100, "S", N["clock_nanosleep"], (1, 0, 0, 0), 2_000_000), kernel.SLEEPING, 0),
        (kernel.ThreadSample(1.150, "R", kernel.RUNNING, (), 2_000_000), kernel.COMPUTING, 5_000_000),
        (kernel.ThreadSample(1.200, "S", N["epoll_wait"], (EPFD, 0, 4, 10), 42_000_000), kernel.IDLE, 5_000_000),
    ]
    watch.samples = rows
    watch.reads = [10, 10, 10, 13]
    account = watch.account(1.0, 1.3)
    assert account.reads == 3
    assert account.by_kind[kernel.SLEEPING] == pytest.approx(0.05)
    assert account.holding == pytest.approx(0.05)
    assert account.cpu == pytest.approx(0.041)
    assert account.runqueue == pytest.approx(0.005)
    assert account.by_syscall == {"clock_nanosleep": pytest.approx(0.05)}


def test_held_so_far_counts_only_holding_spans_since_the_start_for_an_early_stop():
    # LoopWatch.held_since decides an early stop while the run goes on: it must never count more than the
    # final account will (spans before the start, the loop's own waits and a child's start-up are not held).
    watch = kernel.LoopWatch.__new__(kernel.LoopWatch)
    watch.samples, watch._times, watch._held_marks, watch._held = [], [], [], 0.0
    watch.reads, watch._io, watch.exited, watch._starting = [], None, True, {}
    rows = [
        (kernel.ThreadSample(0.900, "S", N["clock_nanosleep"], (1, 0, 0, 0), 0), kernel.SLEEPING),
        (kernel.ThreadSample(1.000, "S", N["epoll_wait"], (EPFD, 0, 4, 10), 0), kernel.IDLE),
        (kernel.ThreadSample(1.100, "S", N["recvfrom"], (9, 0, 0, 0), 0), kernel.SOCKET),
        (kernel.ThreadSample(1.350, "S", N["read"], (7, 0, 4, 0), 0), kernel.CHILD_STARTING),
        (kernel.ThreadSample(1.400, "S", N["epoll_wait"], (EPFD, 0, 4, 10), 0), kernel.IDLE),
    ]
    for sample, kind in rows:  # what _take does after classifying a sample
        if watch.samples and watch.samples[-1][1] in kernel.HOLDING:
            watch._held += sample.at - watch.samples[-1][0].at
        watch.samples.append((sample, kind, 0))
        watch._held_marks.append(watch._held)
        watch._times.append(sample.at)
    assert watch.held_since(1.0) == pytest.approx(0.25)
    assert watch.held_since(0.95) == pytest.approx(0.25)  # the sleep began before the start: not counted
    assert watch.held_since(1.2) == 0.0
    account = watch.account(1.0, 1.5)
    assert account.holding >= watch.held_since(1.0)


def test_a_stopped_run_is_judged_on_the_calls_that_returned_and_says_it_was_stopped():
    blame = LineBlame(5, "requests.get(url)", "solution.py", 0.52, {kernel.SOCKET: 0.52}, 3, 1, 0.01)
    right = [{"call": i, "right": True, "answered": True} for i in range(2)]
    cut = [{"call": i, "right": False, "problem": "no result"} for i in range(2, 10)]
    m = measurements(
        results=right + cut,
        right=2,
        answered=2,
        holding=0.52,
        by_kind={kernel.SOCKET: 0.52},
        max_in_flight=1,
        blame=(blame,),
        stopped=True,
    )
    verdict = judge("", m, Params())
    checks = {c.name: c for c in verdict.checks}
    assert checks["results"].passed and not checks["loop"].passed and not checks["overlap"].passed
    assert verdict.quality == 2
    assert "The 2 calls that returned before the grader stopped the run each gave exactly the JSON" in verdict.feedback
    assert "when 2 of 10 calls had returned" in verdict.feedback
    assert "the bound is 15 ms (1.5 ms per call)" in verdict.feedback  # not rounded to "2 ms per call"
    # Per call from the two calls that returned, not the one cut short.
    assert "for 255 ms per call (2 calls that returned, 520 ms in all with the one the grader cut short)" in (
        verdict.feedback
    )
    # A wrong value among the returned calls still fails, and the calls never made are not called wrong.
    wrong = measurements(
        results=[
            right[0],
            {
                "call": 1,
                "right": False,
                "answered": True,
                "problem": "returned a value without ever requesting its URL",
            },
            *cut,
        ],
        right=1,
        answered=2,
        holding=0.52,
        max_in_flight=1,
        stopped=True,
    )
    text = feedback.results_feedback(wrong)
    assert text.startswith("1 of the 2 calls that returned before the grader stopped the run was wrong.")
    assert "Call 2 returned a value without ever requesting its URL." in text and "Call 3" not in text
    assert not next(c for c in judge("", wrong, Params()).checks if c.name == "results").passed


def test_a_child_start_up_is_excused_once_up_to_the_cap_then_counts_as_a_socket_wait():
    watch = kernel.LoopWatch.__new__(kernel.LoopWatch)
    watch.exited, watch._starting, watch.reads = True, {4242: 120_000_000}, []
    read = (N["read"], (7, 0, 4, 0))
    rows = [
        # The harness's wait for the URLs, seen last before the window: not the learner's.
        (kernel.ThreadSample(0.990, "S", N["pselect6"], (5, 0, 0, 0), 0), kernel.SOCKET, 0),
        (kernel.ThreadSample(1.020, "S", *read, 0), kernel.CHILD_STARTING, 0),
        (kernel.ThreadSample(2.020, "S", *read, 0), kernel.CHILD_STARTING, 0),
        (kernel.ThreadSample(3.020, "S", N["epoll_wait"], (EPFD, 0, 4, 10), 0), kernel.IDLE, 0),
    ]
    watch.samples = rows
    account = watch.account(1.0, 3.1)
    assert account.by_kind[kernel.CHILD_STARTING] == pytest.approx(1.0)
    # Past STARTUP_ALLOWANCE (1.5 s) in all, the rest of the read holds the loop.
    assert account.by_kind[kernel.SOCKET] == pytest.approx(1.0)
    assert account.by_kind[kernel.IDLE] == pytest.approx(0.02 + 0.08)
    assert account.holding == pytest.approx(1.0)
    assert account.startup_cpu == pytest.approx(0.12)
    assert kernel.CHILD_STARTING not in kernel.HOLDING


def test_a_starting_child_is_seen_only_while_busy_young_and_behind_a_pipe_or_unix_socket():
    import os
    import socket

    since = time.clock_gettime(time.CLOCK_BOOTTIME) - 0.02
    me, tid = os.getpid(), threading.get_native_id()
    r, w = os.pipe()
    tcp = socket.socket()
    spin = "import time\nend = time.time() + 2\nwhile time.time() < end:\n    pass\n"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.05)
        found = kernel._starting_child(me, tid, r, since)
        assert found is not None and found[0] == busy.pid and found[1] > 0
        assert kernel._starting_child(me, tid, tcp.fileno(), since) is None  # a network socket
        assert kernel._starting_child(me, tid, r, time.clock_gettime(time.CLOCK_BOOTTIME) + 1) is None  # too old
    finally:
        busy.kill()
        busy.wait()
    asleep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    niced = subprocess.Popen([sys.executable, "-c", spin], preexec_fn=lambda: os.nice(19))
    try:
        time.sleep(0.3)
        assert kernel._starting_child(me, tid, r, since) is None  # one asleep, one niced
    finally:
        for child in (asleep, niced):
            child.kill()
            child.wait()
        os.close(r)
        os.close(w)
        tcp.close()


def test_a_starting_childs_age_does_not_count_its_waits_for_a_cpu(monkeypatch):
    # On a loaded machine a start-up takes longer on the clock, not longer on a CPU: two spinners pinned to
    # one CPU each wait for it about half the time, so the one the loop's thread started is "younger" than
    # the clock says. One that slept first, then spins, is as old as the clock says.
    import os

    monkeypatch.setattr(kernel, "STARTUP_AGE", 0.35)
    since = time.clock_gettime(time.CLOCK_BOOTTIME) - 0.02
    me, tid = os.getpid(), threading.get_native_id()
    cpu = sorted(os.sched_getaffinity(0))[0]
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end:\n    pass\n"
    r, w = os.pipe()

    def pinned() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", spin], preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))

    child, rival = pinned(), pinned()
    try:
        time.sleep(0.55)
        assert kernel._starting_child(me, tid, r, since) is not None
    finally:
        for p in (child, rival):
            p.kill()
            p.wait()
    slept = "import time\ntime.sleep(0.45)\n" + spin
    alone = subprocess.Popen([sys.executable, "-c", slept])
    try:
        time.sleep(0.55)
        assert kernel._starting_child(me, tid, r, since) is None
    finally:
        alone.kill()
        alone.wait()
        os.close(r)
        os.close(w)


# -- results, overlap, blame -------------------------------------------------------------------


def outcome(requests: list[dict], events: list[Event], spans: tuple = (), tokens=("a", "b")) -> RunOutcome:
    loop = kernel.LoopAccount(1.0, 0.0, 0.0, {}, {}, 10, True, spans)
    return RunOutcome(
        tokens=list(tokens),
        report={"requests": requests},
        recording=Recording(events=events),
        sandbox=None,
        handshake=None,
        urls_at=0.0,
        ended=1.0,
        loop=loop,
    )


def request(token: str, body: dict, arrived: float, released: float) -> dict:
    return {"token": token, "method": "GET", "body": json.dumps(body), "arrived": arrived, "released": released}


def result(index: int, value: object) -> Event:
    return Event(0.5, "result", json.dumps({"i": index, "ok": True, "json": json.dumps(value)}))


def test_overlap_counts_only_the_requests_whose_bodies_the_results_carry():
    # Two throw-away GETs overlap each other, but the bodies returned came from two requests one after another.
    requests = [
        request("a", {"n": 1}, 0.0, 0.25),
        request("a", {"n": 2}, 0.01, 0.26),  # thrown away
        request("b", {"n": 3}, 0.02, 0.27),  # thrown away
        request("b", {"n": 4}, 0.30, 0.55),
    ]
    results, carried = check_results(outcome(requests, [result(0, {"n": 1}), result(1, {"n": 4})]))
    assert [r["right"] for r in results] == [True, True]
    assert max_overlap(carried) == 1
    assert max_overlap([r for r in requests]) == 3


def test_a_result_must_be_a_body_sent_for_that_calls_url():
    requests = [request("a", {"n": 1}, 0.0, 0.25), request("b", {"n": 2}, 0.0, 0.25)]
    # Swapped: each is a body the fixture sent, but for the other call's URL.
    results, carried = check_results(outcome(requests, [result(0, {"n": 2}), result(1, {"n": 1})]))
    assert [r["right"] for r in results] == [False, False] and carried == []
    # A first forged result for a call wins over nothing: it still has to be the body sent.
    results, _ = check_results(outcome(requests, [result(0, {"n": 9}), result(0, {"n": 1})]))
    assert not results[0]["right"]


def stack(at: float, line: int, code: str, task: str) -> Event:
    frames = [{"line": line, "code": code, "func": "get_data"}]
    return Event(at, "stack", json.dumps({"frames": frames, "innermost": {}, "task": task}))


def spans(start: float, end: float, kind: str, step: float = 0.001) -> list[kernel.LoopSpan]:
    count = round((end - start) / step)
    return [kernel.LoopSpan(start + i * step, step, kind, kind) for i in range(count)]


def test_each_blamed_line_keeps_its_own_kind_and_counts_its_own_calls():
    loop_spans = (*spans(0.0, 0.245, kernel.SLEEPING), *spans(0.3, 0.34, kernel.COMPUTING))
    events = [stack(t / 1000, 7, "time.sleep(0.245)", "call 3") for t in range(2, 245, 5)]
    events += [stack(t / 1000, 9, "crunch()", f"call {t % 2}") for t in range(302, 340, 5)]
    blame = blame_lines(outcome([], events, tuple(loop_spans)), near=0.008)
    assert [(b.line, b.kind, b.calls) for b in blame] == [(7, kernel.SLEEPING, 1), (9, kernel.COMPUTING, 2)]
    # A one-off call is shown as once, not divided among the ten calls.
    one_off = feedback.blame_sentence(blame[0])
    assert "once, for 245 ms" in one_off and "per call" not in one_off and "sleeping" in one_off
    assert "computing on the CPU" in feedback.blame_sentence(blame[1])


# -- feedback that matches the evidence ----------------------------------------------------------


def measurements(**overrides) -> Measurements:
    values = {
        "imported": True,
        "coroutine_function": True,
        "load_error": None,
        "results": [],
        "right": 10,
        "calls": 10,
        "answered": 10,
        "observed": True,
        "cpu": 0.08,
        "runqueue": 0.01,
        "holding": 0.0,
        "by_kind": {},
        "by_syscall": {},
        "window": 0.4,
        "max_in_flight": 10,
        "requests": 10,
        "unmatched_requests": 0,
    }
    return Measurements(**{**values, **overrides})


BOUNDS = {"blocked": 0.015, "computing": 0.15}


def test_a_short_time_sleep_is_called_sleeping_not_computing():
    line = LineBlame(9, "time.sleep(0.012)", "solution.py", 0.121, {kernel.SLEEPING: 0.118, "computing": 0.003}, 10)
    m = measurements(holding=0.118, by_kind={kernel.SLEEPING: 0.118}, blame=(line,))
    text = feedback.loop_feedback(m, BOUNDS, passed=False)
    assert "sleeping (a call like time.sleep)" in text
    assert "Line 9, `time.sleep(0.012)`, held the event loop for 12 ms per call (10 calls, 121 ms in all)" in text
    assert "computing" not in text.split("Line 9")[1].split(".")[0]
    hint = feedback.hint_feedback([{"line": 9, "rule": "ASYNC251", "message": "no time.sleep"}], loop_passed=False)
    assert "measured no stall" not in hint and "Hint from ruff" in hint


def test_a_second_blamed_line_names_its_own_kind():
    first = LineBlame(5, "requests.get(url)", "solution.py", 2.5, {kernel.SOCKET: 2.5}, 10)
    second = LineBlame(7, "crunch(data)", "solution.py", 0.3, {kernel.COMPUTING: 0.3}, 10)
    m = measurements(holding=2.5, cpu=0.4, by_kind={kernel.SOCKET: 2.5}, blame=(first, second))
    text = feedback.loop_feedback(m, BOUNDS, passed=False)
    assert "waiting on a socket (a blocking network call). Next: Line 7" in text
    assert text.split("Next: ")[1].split(".")[0].endswith("computing on the CPU")


def test_an_unawaited_coroutine_result_says_never_awaited():
    m = measurements(
        right=0,
        results=[
            {
                "call": 0,
                "right": False,
                "problem": "returned",
                "error": {"type": "NotJSON", "message": "a coroutine (never awaited)"},
            }
        ],
    )
    text = feedback.results_feedback(m)
    assert "never awaited" in text and "time.sleep" not in text


# -- the fixture server, run directly ---------------------------------------------------------


@pytest.fixture
def fixture_server():
    """A running fixture server with tokens t0..t9 and a 0.3 s delay; yields (ports, finish)."""
    proc = subprocess.Popen(
        [sys.executable, "-I", str(FIXTURE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    proc.stdin.write(json.dumps({"tokens": [f"t{i}" for i in range(10)], "delay": 0.3}) + "\n")
    proc.stdin.flush()
    ports = json.loads(proc.stdout.readline())

    def finish() -> dict:
        proc.stdin.close()
        report = json.loads(proc.stdout.readline())
        proc.wait(timeout=10)
        return report

    yield ports, finish
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def get(port: int, path: str, http10: bool = False) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if http10:
        connection._http_vsn, connection._http_vsn_str = 10, "HTTP/1.0"
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def test_fixture_answers_http10_and_http11_with_fresh_bodies(fixture_server):
    ports, finish = fixture_server
    status_a, body_a = get(ports["http_port"], "/data/t1", http10=True)
    status_b, body_b = get(ports["http_port"], "/data/t1")
    status_c, _ = get(ports["http_port"], "/data/unknown")
    report = finish()
    assert (status_a, status_b, status_c) == (200, 200, 404)
    assert json.loads(body_a) != json.loads(body_b)
    sent = [r for r in report["requests"] if r["token"] == "t1"]
    assert [r["version"] for r in sent] == ["HTTP/1.0", "HTTP/1.1"]
    assert [json.loads(r["body"]) for r in sent] == [json.loads(body_a), json.loads(body_b)]


def test_fixture_keeps_http11_connections_alive(fixture_server):
    ports, finish = fixture_server
    connection = http.client.HTTPConnection("127.0.0.1", ports["http_port"], timeout=10)
    for token in ("t2", "t3"):
        connection.request("GET", f"/data/{token}")
        assert connection.getresponse().read()
    report = finish()
    assert report["connections"] == 1
    assert len({r["conn"] for r in report["requests"]}) == 1


def test_fixture_counts_requests_in_flight(fixture_server):
    ports, finish = fixture_server
    threads = [threading.Thread(target=get, args=(ports["http_port"], f"/data/t{i}")) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    get(ports["http_port"], "/data/t9")
    get(ports["http_port"], "/data/t9")
    report = finish()
    # Five at once (a thread started late on a loaded machine may miss the others' 0.3 s window).
    assert 3 <= report["max_in_flight"] <= 5
    # Times are on the host's monotonic clock (the grader's), each request released after it arrived.
    assert all(r["arrived"] <= r["released"] <= time.monotonic() for r in report["requests"])


# -- the harness's timer: calibrated before the import, credited per tick, capped -----------------------


def test_tick_cost_counts_whole_ticks_between_the_first_and_last_seen():
    watch = kernel.LoopWatch.__new__(kernel.LoopWatch)
    idle = (EPFD, 0, 4, 10)
    # cpu_ns, syscr: the first tick (and the run's set-up before it) is left out, as is anything after the last.
    rows = [(0, 5), (3_000_000, 6), (3_000_000, 6), (3_100_000, 7), (3_200_000, 8), (3_300_000, 9), (9_000_000, 9)]
    watch.samples = [
        (kernel.ThreadSample(1 + i / 100, "S", N["epoll_wait"], idle, cpu), kernel.IDLE, 0)
        for i, (cpu, _) in enumerate(rows)
    ]
    watch.reads = [reads for _, reads in rows]
    assert watch.tick_cost(1.0, 2.0) == (3, pytest.approx(0.0003))
    assert watch.tick_cost(1.0, 1.02) is None  # one tick seen: no measure


def timer_outcome(calibration, reads: int, idle: float, window: float = 6.0) -> RunOutcome:
    loop = kernel.LoopAccount(window, 0.5, 0.0, {kernel.IDLE: idle}, {}, 100, True, reads=reads)
    return RunOutcome(
        tokens=["a"] * 10,
        report={"requests": []},
        recording=Recording(),
        sandbox=None,
        handshake=None,
        urls_at=0.0,
        ended=window,
        loop=loop,
        calibration=calibration,
        settings=RunSettings(calls=10, delay=0.25),
    )


def test_the_timer_allowance_is_the_calibrated_tick_times_the_fewest_ticks():
    # 0.3 ms a tick; 240 reads, 2.5 s idle: 240 ticks.
    seconds, per_tick, ticks = harness_allowance(timer_outcome((10, 0.003), reads=240, idle=2.5))
    assert (per_tick, ticks) == (pytest.approx(0.0003), 240) and seconds == pytest.approx(0.072)
    # Reads padded by the learner's code: no more than the idle time holds.
    assert harness_allowance(timer_outcome((10, 0.003), reads=5000, idle=1.0))[2] == pytest.approx(101)
    # A stretched window (a long sleep): no more than ten serial calls' worth (3.5 s at 10 ms).
    assert harness_allowance(timer_outcome((10, 0.003), reads=550, idle=5.5))[2] == pytest.approx(350)
    # A dear calibration is capped per tick.
    assert harness_allowance(timer_outcome((10, 0.05), reads=240, idle=2.5))[1] == MAX_TICK_CPU
    # No calibration (the harness never sent it before the import): nothing is credited.
    assert harness_allowance(timer_outcome(None, reads=240, idle=2.5)) == (0.0, 0.0, 0.0)


# -- the yardstick: a slow machine raises the CPU bound, within a cap --------------------------------


def test_the_cpu_bound_grows_with_the_yardstick_never_shrinks_and_stops_at_the_cap():
    params = Params()
    assert params.slowdown(0.0) == 1.0  # unseen: the nominal bound
    assert params.slowdown(NOMINAL_YARDSTICK / 2) == 1.0  # a fast machine never tightens it
    assert params.slowdown(NOMINAL_YARDSTICK * 2) == pytest.approx(2.0)
    assert params.slowdown(NOMINAL_YARDSTICK * 10) == params.max_slowdown == 3.0
    # 220 ms over ten calls: over the nominal 150 ms bound, within it on a machine running 2x slow.
    m = measurements(cpu=0.22)
    assert not next(c for c in judge("", m, params).checks if c.name == "loop").passed
    slow = judge("", measurements(cpu=0.22, yardstick=NOMINAL_YARDSTICK * 2), params)
    loop = next(c for c in slow.checks if c.name == "loop")
    assert loop.passed and loop.measured["bound_computing_ms"] == 300 and loop.measured["slowdown"] == 2.0
    # However slow the yardstick ran, 30 ms over the nominal bound's cap per call still fails.
    capped = judge("", measurements(cpu=0.46, yardstick=1.0), params)
    loop = next(c for c in capped.checks if c.name == "loop")
    assert not loop.passed and loop.measured["bound_computing_ms"] == 450
    assert "raised 3.0 times because this machine ran the grader's own yardstick that much slower" in capped.feedback
    # Waits are wall time: the blocked bound does not move.
    assert loop.measured["bound_blocked_ms"] == 15
