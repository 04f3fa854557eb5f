"""The blocking-call grader's parts: the analysis (pure) and the trusted fixture server, run directly.

The fixture server is our own trusted code, so these tests run it as a plain
subprocess on the host's loopback; no learner code runs here.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from cards.grading.async_blocking import analysis
from cards.grading.async_blocking.analysis import find_stalls, same_json
from cards.grading.async_blocking.runner import FIXTURE

MS = 1_000_000  # nanoseconds in a millisecond


def test_same_json_is_exact_about_types():
    assert same_json({"a": [1, 2.5, "x", None, True]}, {"a": [1, 2.5, "x", None, True]})
    assert same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same_json({"a": 1}, {"a": 1.0})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"a": [1, 2]}, {"a": [2, 1]})
    assert not same_json("{}", {})
    assert not same_json({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}})


def sample(t: float, cpu_ms: float, runq_ms: float, others_cpu_ms: float = 0, wakeups: int = 0) -> list[float]:
    return [t, cpu_ms * MS, runq_ms * MS, others_cpu_ms * MS, 0, wakeups]


def test_a_long_sleep_with_no_wakeups_is_blocked():
    beats = [0.01 * i for i in range(1, 11)] + [0.1 + 0.5 + 0.01 * i for i in range(1, 5)]
    samples = [sample(0.0, 0, 0), sample(0.1, 5, 0, wakeups=10), sample(0.6, 7, 10, wakeups=11)]
    stalls = find_stalls(beats, 0.0, 0.65, 0.03, samples)
    assert len(stalls) == 1
    stall = stalls[0]
    assert stall.wall == pytest.approx(0.51, abs=0.001)
    assert stall.computing == pytest.approx(0.002, abs=0.001)
    assert stall.waiting_for_cpu == pytest.approx(0.01, abs=0.002)
    assert stall.blocked > 0.4


def test_gil_waits_are_excused_but_cpu_work_is_not():
    beats = [0.0, 0.2, 0.21, 0.5, 0.51]
    samples = [
        sample(0.0, 0, 0, others_cpu_ms=0, wakeups=0),
        # 0..0.2: the loop thread slept, waking 40 times, while other threads ran 180 ms: the GIL.
        sample(0.2, 2, 0, others_cpu_ms=180, wakeups=40),
        # 0.21..0.5: the loop thread computed for 280 ms.
        sample(0.5, 290, 0, others_cpu_ms=180, wakeups=41),
    ]
    gil, cpu = find_stalls(beats, 0.0, 0.51, 0.03, samples)
    assert gil.blocked == 0 and gil.asleep > 0.15
    assert cpu.computing == pytest.approx(0.28, abs=0.01) and cpu.blocked == 0


def test_machine_load_is_excused():
    beats = [0.0, 0.4, 0.41]
    samples = [sample(0.0, 0, 0), sample(0.4, 20, 375)]
    (stall,) = find_stalls(beats, 0.0, 0.41, 0.03, samples)
    assert stall.held < 0.05 and stall.waiting_for_cpu > 0.35


def test_results_are_matched_to_the_body_sent_for_each_token():
    body_a, body_b = {"id": 1, "x": [1]}, {"id": 2, "x": [2]}
    report = {
        "requests": [
            {"token": "a", "body": json.dumps(body_a)},
            {"token": "b", "body": json.dumps(body_b)},
        ],
        "messages": [
            {"t": "result", "i": 0, "ok": True, "json": json.dumps(body_a)},
            {"t": "result", "i": 1, "ok": True, "json": json.dumps(body_a)},  # a's body for b's call
            {"t": "result", "i": 2, "ok": True, "json": json.dumps(body_b)},
            {"t": "result", "i": 3, "ok": True, "json": json.dumps(json.dumps(body_b))},
            {"t": "result", "i": 4, "ok": False, "error": {"type": "ValueError", "message": "boom"}},
        ],
    }
    outcomes = analysis.check_results(report, ["a", "b", "c", "b", "b", "b"])
    assert [o["right"] for o in outcomes] == [True, False, False, False, False, False]
    assert "not the JSON the server sent" in outcomes[1]["problem"]
    assert "without ever requesting" in outcomes[2]["problem"]
    assert "as text" in outcomes[3]["problem"]
    assert outcomes[4]["problem"] == "raised"
    assert "no result" in outcomes[5]["problem"]


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
    assert report["in_flight_timeline"][-1][1] == 0


def test_fixture_records_heartbeats_and_refuses_intruders(fixture_server):
    ports, finish = fixture_server
    control = socket.create_connection(("127.0.0.1", ports["control_port"]))
    beat = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    beat.connect(("127.0.0.1", ports["beat_port"]))
    control.sendall(json.dumps({"t": "hello", "beat_port": beat.getsockname()[1]}).encode() + b"\n")
    for number in range(5):
        beat.send(b"b %d" % number)
        time.sleep(0.01)
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    intruder.sendto(b"b 5", ("127.0.0.1", ports["beat_port"]))
    second = socket.create_connection(("127.0.0.1", ports["control_port"]))
    time.sleep(0.1)
    control.close()
    second.close()
    report = finish()
    assert len(report["beats"]) == 5 and report["beat_numbers_ok"]
    assert all(later > earlier for earlier, later in zip(report["beats"], report["beats"][1:]))
    assert len(report["intrusions"]) == report["intrusion_count"] == 2
    assert report["loop_pid"] is not None  # found this test process by its socket, from outside


def test_stall_sleep_is_split_by_the_observed_wait_states():
    beats = [0.0, 0.3, 0.31, 0.6, 0.61]
    # [time, cpu, runq, others cpu, others runq, wakeups, state]: 1 = waiting for the GIL, 2 = other wait.
    gil_rows = [[0.01 * i, 0, 0, 0, 0, 0, 1] for i in range(1, 30)]
    other_rows = [[0.31 + 0.01 * i, 0, 0, 0, 0, 0, 2] for i in range(1, 29)]
    gil, other = find_stalls(beats, 0.0, 0.61, 0.03, [*gil_rows, *other_rows])
    assert gil.asleep > 0.25 and gil.blocked == 0
    assert other.blocked == pytest.approx(0.29 - analysis.GIL_ALLOWANCE, abs=0.01)


PROBED = """
import queue, sys, threading, time
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
sys.stdout.write("go\\n"); sys.stdout.flush()
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:   # competes with spin() for the GIL
    pass
sys.stdout.write("wait\\n"); sys.stdout.flush()
try:
    queue.Queue().get(timeout=2.0)   # a timed wait that is not the GIL
except queue.Empty:
    pass
"""


def test_wait_probe_tells_gil_waits_from_other_waits():
    from cards.grading.async_blocking.fixture_server import GIL_WAIT, OTHER_WAIT, WaitProbe

    proc = subprocess.Popen([sys.executable, "-c", PROBED], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "go\n"
        probe = WaitProbe(proc.pid)
        first = [probe.state() for _ in range(300) if not time.sleep(0.002)]
        assert proc.stdout.readline() == "wait\n"
        time.sleep(0.05)
        second = [probe.state() for _ in range(100) if not time.sleep(0.002)]
        probe.close()
    finally:
        proc.kill()
        proc.wait()
    assert first.count(GIL_WAIT) >= 5 and first.count(OTHER_WAIT) <= first.count(GIL_WAIT)
    assert second.count(OTHER_WAIT) >= 90
