"""await-pause-points under attack: a `time.sleep` answer plus a trick must still fail; a correct one passes.

The order is what the fixture server outside the sandbox recorded: one request per `log()` on the calling
task's own connection (bound to the task before the learner's module was imported, echoing the nonce the
server last gave that connection). Each attack is real code graded through the real sandbox. The positive
controls: the same wrong answer without the trick fails, and a correct answer with a harmless thread passes.
"""

from __future__ import annotations

import pytest

from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("await-pause-points")
EXPECTED = ["A0", "B0", "A1", "B1", "A2", "B2"]

# The wrong answer under every trick: time.sleep is not a pause point, so A runs to the end before B starts.
SLEEPER = """
import asyncio, json, os, sys, time

async def worker(name, steps, log):
    for i in range(steps):
        log(f"{name}{i}")
        time.sleep(0.01)
"""

ATTACKS = {
    # The known attack: never call log(); write the expected events straight to the recorder's socket.
    "forged_events_on_the_recorder": """
RECORDER = int(sys.argv[1])

async def worker(name, steps, log):
    if name == "A":
        for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
            os.write(RECORDER, f"event {json.dumps([label[0], label])}".encode())
    time.sleep(0.01)
""",
    # Step requests (with the run's secret from argv) written to every descriptor, in the expected order.
    "forged_steps_on_every_descriptor": """
SECRET = json.loads(sys.argv[2])["secret"]

def forge():
    for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
        raw = f"GET /step?run={SECRET}&label={label}&nonce=0 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n".encode()
        for fd in range(3, 64):
            try:
                os.write(fd, raw)
            except OSError:
                pass

forge()
_sleeper = worker

async def worker(name, steps, log):
    if name == "A":
        forge()
    await _sleeper(name, steps, log)
""",
    # Patched harness functions and globals: log() never reaches the server, the recorder hears a fake order.
    "patched_harness_functions": """
main = sys.modules["__main__"]
main.request = lambda conn, target: (200, {"nonce": conn[1]})
_emit = main.emit
for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
    _emit("event", json.dumps([label[0], label]))
main.emit = lambda kind, payload="": None
""",
    # Patched asyncio.current_task: task A logs everyone's labels in order, pretending to be B for B's.
    "patched_current_task": """
_real = asyncio.current_task

async def worker(name, steps, log):
    if name != "A":
        return
    me = _real()
    b = next(t for t in asyncio.all_tasks() if t.get_name() == "B")
    for i in range(steps):
        log(f"A{i}")
        asyncio.current_task = lambda loop=None: b
        asyncio.tasks.current_task = asyncio.current_task
        log(f"B{i}")
        asyncio.current_task = asyncio.tasks.current_task = lambda loop=None: me
        time.sleep(0.01)
""",
    # The run's secret (from argv) and the fixture's address (from the harness's memory) used to open new
    # connections, bind them to A and B, and send the steps in order: padding the server's record.
    "secret_from_argv_and_memory_on_new_connections": """
import socket
SPEC = json.loads(sys.argv[2])
BASE = sys.modules["__main__"].SPEC["base"]
host, port = BASE.split("//")[1].split(":")

def get(sock, target):
    sock.sendall(f"GET {target} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n".encode())
    data = sock.recv(4096)
    body = data.partition(b"\\r\\n\\r\\n")[2]
    return json.loads(body or b"{}").get("nonce", "")

conns = {}
for name in "AB":
    s = socket.create_connection((host, int(port)))
    conns[name] = [s, get(s, f"/hello?run={SPEC['secret']}&task={name}")]
for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
    c = conns[label[0]]
    c[1] = get(c[0], f"/step?run={SPEC['secret']}&label={label}&nonce={c[1]}") or c[1]
""",
    # Patched clocks everywhere in the process, the loop's own clock included.
    "patched_clocks": """
_mono, _perf = time.monotonic, time.perf_counter
time.monotonic = lambda: _mono() * 100
time.perf_counter = lambda: _perf() * 100
_sleeper = worker

async def worker(name, steps, log):
    loop = asyncio.get_running_loop()
    loop.time = lambda: _mono() * 100
    await _sleeper(name, steps, log)
""",
    # A helper thread logs B's labels at the right moments while A runs with time.sleep.
    "helper_thread_logs_for_b": """
import threading

async def worker(name, steps, log):
    if name != "A":
        return
    for i in range(steps):
        log(f"A{i}")
        t = threading.Thread(target=log, args=(f"B{i}",))
        t.start()
        t.join()
        time.sleep(0.01)
""",
    # A forked helper process writes events to the recorder and steps to the inherited sockets.
    "helper_process_forges": """
RECORDER = int(sys.argv[1])
SECRET = json.loads(sys.argv[2])["secret"]
if os.fork() == 0:
    for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
        os.write(RECORDER, f"event {json.dumps([label[0], label])}".encode())
        for fd in range(3, 64):
            try:
                os.write(fd, f"GET /step?run={SECRET}&label={label}&nonce= HTTP/1.1\\r\\n\\r\\n".encode())
            except OSError:
                pass
    os._exit(0)
os.wait()
""",
    # An early exit with success: a verdict-shaped line, the harness's own end marker, exit code 0.
    "early_exit_with_success": """
main = sys.modules["__main__"]
for label in ["A0", "B0", "A1", "B1", "A2", "B2"]:
    main.emit("event", json.dumps([label[0], label]))
main.emit("begin", "run")
main.emit("end", "run")
print("Measured order: A0 B0 A1 B1 A2 B2. PASSED")
os._exit(0)
""",
}

CONTROLS_FAIL = {"sleeper_without_tricks": ""}

CONTROLS_PASS = {
    "correct_with_a_harmless_thread": """
import threading
threading.Thread(target=lambda: [time.sleep(0.005) for _ in range(40)], daemon=True).start()

async def worker(name, steps, log):
    for i in range(steps):
        log(f"{name}{i}")
        await asyncio.sleep(0.01)
""",
}


def check(verdict, name):
    return next(c for c in verdict.checks if c.name == name)


@pytest.fixture(scope="module")
def verdicts():
    answers = {name: SLEEPER + trick for name, trick in {**ATTACKS, **CONTROLS_FAIL, **CONTROLS_PASS}.items()}
    return grade_all(CH.kind, answers, CH.params)


@pytest.mark.parametrize("name", [*ATTACKS, *CONTROLS_FAIL])
def test_a_wrong_answer_fails_with_or_without_the_trick(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


@pytest.mark.parametrize("name", list(CONTROLS_PASS))
def test_a_correct_answer_with_a_harmless_thread_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert check(verdict, "order").measured["logged"] == EXPECTED


def test_events_on_the_recorder_are_not_evidence(verdicts):
    verdict = verdicts["forged_events_on_the_recorder"]
    assert check(verdict, "order").measured["logged"] == []  # the server saw no step at all
    assert "(nothing logged)" in verdict.feedback


def test_forged_and_replayed_steps_are_refused_by_the_server(verdicts):
    for name in ("forged_steps_on_every_descriptor", "helper_process_forges"):
        own = check(verdicts[name], "each_task_logs_its_own")
        assert own.measured["refused"] > 0, explain(verdicts[name])
        assert "refused" in verdicts[name].feedback
    # New connections cannot be bound to a task once the harness has bound its own.
    padded = verdicts["secret_from_argv_and_memory_on_new_connections"]
    assert check(padded, "each_task_logs_its_own").measured["refused"] >= 6
    assert check(padded, "order").measured["logged"] == ["A0", "A1", "A2", "B0", "B1", "B2"]


def test_pretending_to_be_another_task_is_caught(verdicts):
    verdict = verdicts["patched_current_task"]
    assert check(verdict, "each_task_logs_its_own").measured["wrong_task"][:1] == ["B0 (logged by task A)"]
    thread = verdicts["helper_thread_logs_for_b"]
    assert check(thread, "each_task_logs_its_own").measured["outside_tasks"] == 3


def test_patched_harness_and_an_early_exit_leave_the_server_record_empty(verdicts):
    for name in ("patched_harness_functions", "early_exit_with_success"):
        assert check(verdicts[name], "order").measured["logged"] == [], explain(verdicts[name])
        assert "PASSED" not in verdicts[name].feedback
        assert "The grading server got no `log()` call from any task" in verdicts[name].feedback


@pytest.mark.slow
def test_eight_at_once_give_the_same_verdicts(verdicts):
    """The same verdicts with eight gradings at once on this 2-core machine as in the module's own run."""
    together = grade_all(
        CH.kind,
        {name: SLEEPER + trick for name, trick in {**ATTACKS, **CONTROLS_FAIL, **CONTROLS_PASS}.items()},
        CH.params,
        workers=8,
    )
    assert {name: v.passed for name, v in together.items()} == {name: verdicts[name].passed for name in together}, {
        name: explain(v) for name, v in together.items() if v.passed != verdicts[name].passed
    }
