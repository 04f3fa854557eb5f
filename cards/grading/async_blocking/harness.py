"""The trusted driver that runs next to the learner's `solution.py` in the sandbox (as main.py).

    python main.py CONFIG_JSON

CONFIG_JSON: {"control_port": Q, "beat_port": B, "urls": [...], "interval": 0.01, "stale": 0.04,
              "sample": 0.05, "timeout": 20.0}

It opens its control connection to the observer *before* importing the
learner's module, then:

- checks that `get_data` is a coroutine function;
- runs a heartbeat on the event loop (a `call_later` chain that sends a `b <n>`
  datagram to the observer every `interval` seconds): the kernel stamps each tick
  on arrival, so a gap in the ticks is a stall seen from outside;
- runs a watchdog thread that, when the heartbeat goes stale, takes the loop
  thread's stack (for feedback only: it names the line that blocked);
- calls `get_data` for every URL at once and sends each result to the observer
  as JSON text, where the grader compares it with the body the server sent.

Nothing here decides the verdict: everything it sends is stamped and judged
outside. The learner's code shares this process and could interfere; what it
can fake (the stack samples, its own stdout) does not count, and what counts
(the bodies the server sent, tick arrival times, requests in flight) is
measured where it cannot reach.
"""

import asyncio
import contextlib
import inspect
import json
import linecache
import os
import socket
import sys
import threading
import time
import types

# Bind everything the harness relies on now, before the learner's module can patch it.
monotonic = time.monotonic
sleep = time.sleep
dumps = json.dumps
current_frames = sys._current_frames
CoroutineType = types.CoroutineType
iscoroutinefunction = inspect.iscoroutinefunction
Lock = threading.Lock
Thread = threading.Thread
getline = linecache.getline

CONFIG = json.loads(sys.argv[1])
SOLUTION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "solution.py")
MAX_TEXT = 64 * 1024

control = socket.create_connection(("127.0.0.1", CONFIG["control_port"]))
control.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sendall = control.sendall
send_lock = Lock()


def send(message: dict) -> None:
    """Send one JSON line to the observer (thread-safe)."""
    data = (dumps(message) + "\n").encode()
    with send_lock:
        sendall(data)


beat_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
beat_socket.connect(("127.0.0.1", CONFIG["beat_port"]))
send_datagram = beat_socket.send


def send_beat(number: int) -> None:
    with contextlib.suppress(OSError):  # a lost tick reads as a stall: the safe side
        send_datagram(b"b %d" % number)


def clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def frame_chain(tb_or_frame: object) -> list[tuple[types.FrameType, int]]:
    """(frame, last instruction) pairs of a traceback or a stack, outermost first."""
    chain = []
    if isinstance(tb_or_frame, types.TracebackType):
        tb = tb_or_frame
        while tb is not None:
            chain.append((tb.tb_frame, tb.tb_lasti))
            tb = tb.tb_next
    else:
        frame = tb_or_frame
        while frame is not None:
            chain.append((frame, frame.f_lasti))
            frame = frame.f_back
        chain.reverse()
    return chain


def solution_frames(tb_or_frame: object) -> list[dict]:
    """Frames of solution.py in a traceback or stack, innermost last, quoting the expression being run.

    3.11 knows the columns of the expression a frame is running (co_positions at f_lasti).
    """
    frames = []
    for frame, lasti in frame_chain(tb_or_frame):
        code = frame.f_code
        if code.co_filename != SOLUTION:
            continue
        line, end_line, col, end_col = frame.f_lineno, None, None, None
        for index, position in enumerate(code.co_positions()):
            if index == lasti // 2:
                line, end_line, col, end_col = position[0] or line, position[1], position[2], position[3]
                break
        source = getline(SOLUTION, line)
        text = source.strip()
        if col is not None and end_col is not None and end_line == line:
            text = source.encode()[col:end_col].decode("utf-8", "replace").strip() or text
        frames.append({"line": line, "code": clip(text, 200), "func": code.co_name})
    return frames


def safe_str(value: object) -> str:
    try:
        return clip(str(value), 500)
    except BaseException:  # noqa: BLE001  (a learner's __str__ may raise anything)
        return "<unprintable>"


def describe_exception(exc: BaseException) -> dict:
    return {
        "type": type(exc).__name__,
        "message": safe_str(exc),
        "frames": solution_frames(exc.__traceback__)[-5:],
    }


last_beat = [monotonic()]
loop_thread_id = threading.get_ident()
stop_watchdog = threading.Event()
watching = threading.Event()
watchdog_named = threading.Event()
watchdog_tid: list[int] = []


def watchdog() -> None:
    """Sample the loop thread's stack while the heartbeat is stale (feedback only).

    Kept cheap (a sample every `sample` seconds at most, positions only for solution.py's frames):
    it shares the GIL with the loop it watches. Started before the learner's import, so the hello
    can name its thread: the observer leaves it out of the threads that may excuse a wait.
    """
    watchdog_tid.append(threading.get_native_id())
    watchdog_named.set()
    stale = CONFIG["stale"]
    pause = CONFIG["sample"]
    watching.wait()
    while not stop_watchdog.is_set():
        sleep(pause)
        since = monotonic() - last_beat[0]
        if since < stale:
            continue
        frame = current_frames().get(loop_thread_id)
        if frame is None:
            continue
        mine = solution_frames(frame)
        inner = frame.f_code
        where = [{"file": os.path.basename(inner.co_filename), "line": frame.f_lineno, "func": inner.co_name}]
        del frame
        sample = {"t": "stack", "stale_ms": round(since * 1000), "frames": mine[-4:], "innermost": where}
        # By datagram: a lock shared with the loop thread would make the watchdog itself stall the loop.
        with contextlib.suppress(OSError):
            send_datagram(dumps(sample).encode()[:60000])


Thread(target=watchdog, daemon=True, name="watchdog").start()
watchdog_named.wait(5)

send({"t": "hello", "beat_port": beat_socket.getsockname()[1], "watchdog_tid": (watchdog_tid or [None])[0]})

# -- import the learner's module -------------------------------------------------

try:
    import solution  # noqa: E402  (the import must come after the control connection is open)
except BaseException as exc:  # noqa: BLE001  (SystemExit and KeyboardInterrupt too: report, then stop)
    send({"t": "import_error", "error": describe_exception(exc)})
    control.close()
    os._exit(0)

get_data = getattr(solution, "get_data", None)
if get_data is None or not iscoroutinefunction(get_data):
    kind = "missing" if get_data is None else type(get_data).__name__
    send({"t": "not_coroutine_function", "kind": kind})
    control.close()
    os._exit(0)

send({"t": "ready"})

# Wait for the observer's word that it is sampling this process's loop thread, so the whole call
# window is measured. Without it the calls still run; the grader then refuses a verdict it cannot back.
control.settimeout(CONFIG["timeout"])
with contextlib.suppress(OSError):
    control.recv(3)
control.settimeout(None)


async def run_calls() -> None:
    loop = asyncio.get_running_loop()
    # The loop reads time.monotonic at each call; pin it to the clock bound before the learner's import,
    # so patched clocks cannot freeze the heartbeat or the harness's own timeout.
    loop.time = monotonic
    call_later = loop.call_later
    interval = CONFIG["interval"]

    def beat(number: int) -> None:
        send_beat(number)
        last_beat[0] = monotonic()
        call_later(interval, beat, number + 1)

    beat(0)
    watching.set()
    await asyncio.sleep(interval * 5)  # a few ticks before the calls, so a stall at the start shows

    async def one(index: int, url: str) -> None:
        started = monotonic()
        try:
            pending = get_data(url)
            if type(pending) is not CoroutineType:
                send({"t": "result", "i": index, "ok": False, "error": {"type": "NotACoroutine", "message": ""}})
                return
            value = await pending
        except BaseException as exc:  # noqa: BLE001  (the learner's failure is a result, not ours)
            send({"t": "result", "i": index, "ok": False, "error": describe_exception(exc)})
            return
        try:
            text = dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            send(
                {
                    "t": "result",
                    "i": index,
                    "ok": False,
                    "error": {"type": "NotJSON", "message": f"{type(value).__name__}: {safe_str(exc)}"},
                }
            )
            return
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
        send({"t": "result", "i": index, "ok": True, "json": text, "seconds": round(monotonic() - started, 4)})

    send({"t": "start"})
    tasks = [asyncio.ensure_future(one(index, url)) for index, url in enumerate(CONFIG["urls"])]
    done, pending = await asyncio.wait(tasks, timeout=CONFIG["timeout"])
    send({"t": "end", "pending": len(pending)})
    # Leave at once: no cancelling, no waiting for the learner's threads or executors to wind down.
    control.close()
    os._exit(0)


try:
    asyncio.run(run_calls())
except BaseException as exc:  # noqa: BLE001
    send({"t": "harness_error", "error": describe_exception(exc)})
finally:
    stop_watchdog.set()
    try:
        control.close()
    finally:
        os._exit(0)
