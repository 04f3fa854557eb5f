"""Harness for the await_interleaving grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON.

mode "arrange": SPEC {"entry": name, "tasks": [[arg, ...], ...], "timeout": s, "base": url,
"secret": s}. Before the learner's module is imported, opens one keep-alive connection per
task to the fixture server (outside the sandbox) and binds it to that task (/hello; the
server then closes registration). Runs one task per args list, `entry(*args, log)`, all
on one event loop; `log(label)` is one request on the calling task's own connection
(/step, echoing the nonce the server last gave that connection), answered before it
returns. The server's record of those requests, in the order it got them, is the
evidence; the `event` lines sent to the recorder are for feedback only.

mode "predict": SPEC {"timeout": s}; runs program.py (the author's program, not the
learner's) as __main__, with print() reporting each printed line as an event.
"""

import asyncio
import builtins
import io
import json
import runpy
import socket
import sys
from urllib.parse import quote, urlsplit

from _events import describe, emit, load_solution

SPEC = json.loads(sys.argv[2])


_current_task = asyncio.current_task  # bound before any learner code runs: patching asyncio's changes nothing here
CONNECTIONS = []  # per task, in SPEC order: [socket, last nonce]
BY_TASK = {}  # asyncio.Task -> its entry in CONNECTIONS


def task_name(i, args):
    return str(args[0]) if args else f"task{i}"


def request(conn, target):
    """One GET on the connection's keep-alive socket; returns (status code, decoded JSON body)."""
    sock = conn[0]
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: fixture\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("the fixture closed the connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length"), 0)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("the fixture closed the connection")
        body += chunk
    if len(body) != length:
        raise OSError("the task's connection to the grading server carried answers to requests log() did not send")
    return int(lines[0].split()[1]), json.loads(body or b"null")


def register_tasks():
    """Bind one fixture connection to each task, before any learner code runs."""
    parts = urlsplit(SPEC["base"])
    for i, args in enumerate(SPEC["tasks"]):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        conn = [sock, ""]
        status, body = request(conn, f"/hello?run={SPEC['secret']}&task={quote(task_name(i, args))}")
        if status != 200:
            emit("error", "the grading server refused the harness (a grader problem, not your code)")
            raise SystemExit(4)
        conn[1] = body["nonce"]
        CONNECTIONS.append(conn)


def log(label):
    label = str(label)[:200]
    try:
        task = _current_task()
    except RuntimeError:
        task = None
    conn = BY_TASK.get(task)
    if conn is None:
        emit("outside", json.dumps(label))
        return
    status, body = request(conn, f"/step?run={SPEC['secret']}&label={quote(label)}&nonce={conn[1]}")
    if status == 200:
        conn[1] = body["nonce"]
    emit("event", json.dumps([task.get_name(), label]))


async def arrange(entry):
    tasks = []
    for i, args in enumerate(SPEC["tasks"]):
        task = asyncio.create_task(entry(*args, log), name=task_name(i, args))
        BY_TASK[task] = CONNECTIONS[i]
        tasks.append(task)
    await asyncio.wait_for(asyncio.gather(*tasks), SPEC["timeout"])


def run_arrange():
    register_tasks()
    solution = load_solution()
    entry = getattr(solution, SPEC["entry"], None)
    if not asyncio.iscoroutinefunction(entry):
        emit("error", f"your module must define `async def {SPEC['entry']}(...)`")
        return
    emit("begin", "run")
    try:
        asyncio.run(arrange(entry))
    except TimeoutError:
        emit("error", f"the tasks had not finished after {SPEC['timeout']} s")
    except Exception as exc:  # noqa: BLE001
        emit("error", f"your code raised {describe(exc)}")
    finally:
        emit("end", "run")


def run_predict():
    real_print = builtins.print

    def recording_print(*args, sep=" ", end="\n", file=None, flush=False):
        if file is None or file is sys.stdout:
            buffer = io.StringIO()
            real_print(*args, sep=sep, end=end, file=buffer)
            for line in buffer.getvalue().splitlines():
                emit("event", json.dumps([None, line]))
        else:
            real_print(*args, sep=sep, end=end, file=file, flush=flush)

    builtins.print = recording_print
    emit("begin", "run")
    try:
        runpy.run_path("program.py", run_name="__main__")
    except Exception as exc:  # noqa: BLE001
        emit("error", f"the program raised {type(exc).__name__}: {exc}")
    finally:
        emit("end", "run")


if __name__ == "__main__":
    run_predict() if SPEC["mode"] == "predict" else run_arrange()
