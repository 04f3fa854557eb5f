"""The driver that runs next to the learner's `solution.py` in the sandbox (as main.py).

    python main.py RECORDER_FD SPEC_JSON
    SPEC: {"tick": 0.01, "calibrate": 0.05, "yardstick_runs": 5, "timeout": 20.0, "sample": 0.005}

Nothing it says carries a verdict: the learner's code shares this process and can
rewrite all of it. It only sets the stage so that the grader can watch from outside:

1. it creates the event loop, then announces itself (`_events.ready`) naming the
   loop's epoll descriptor, *before* the learner's module is imported; the grader
   checks the descriptor in /proc and starts sampling this thread from outside;
   then it starts the loop's timer (below) and runs the idle loop for `calibrate` seconds and
   says `calibrated`: the grader measures from outside what each tick costs the loop's
   thread, before anything of the learner's exists; then it runs a fixed piece of Python
   a few times, each run bracketed by a question to the grader, which reads this thread's
   CPU time from outside before it answers: the machine's speed right now (the yardstick);
2. it imports solution.py and checks that `get_data` is a coroutine function;
3. it asks the grader for the URLs (fresh secrets, sent only now: nothing in the
   process knew them before) and calls `get_data` for all of them at once;
4. it reports each result (the grader compares it with the body the fixture sent
   for that URL), then exits.

A timer on the loop every `tick` seconds keeps the loop's own selector timeout short,
so a wait in the loop's epoll with a longer timeout is someone else's call. A
watchdog thread samples the loop thread's stack while it runs the learner's code:
feedback only (which line), never the verdict.
"""

import asyncio
import contextlib
import inspect
import json
import linecache
import os
import select
import sys
import threading
import time
import types
import warnings

from _events import FD, emit, exit_now, print_traceback, ready

monotonic = time.monotonic
sleep = time.sleep
dumps = json.dumps
current_frames = sys._current_frames
getline = linecache.getline
CoroutineType = types.CoroutineType

SPEC = json.loads(sys.argv[2])
SOLUTION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "solution.py")
MAX_TEXT = 64 * 1024
current_tasks = asyncio.tasks._current_tasks
loop = None  # set by main(); module-level so that the watchdog and run_calls see it
loop_thread = threading.get_ident()
URLS = []
get_data = None
warned = set()


def clip(text, limit=2000):
    return text if len(text) <= limit else text[:limit] + "…"


def solution_frames(tb_or_frame):
    """Frames of solution.py in a traceback or a stack, innermost last, quoting the expression being run."""
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
    frames = []
    for frame, lasti in chain:
        code = frame.f_code
        if code.co_filename != SOLUTION:
            continue
        line, end_line, col, end_col = frame.f_lineno, None, None, None
        for index, position in enumerate(code.co_positions()):
            if index == lasti // 2:
                line, end_line, col, end_col = position[0] or line, position[1], position[2], position[3]
                break
        source = getline(SOLUTION, line or 0)
        text = source.strip()
        if col is not None and end_col is not None and end_line == line:
            text = source.encode()[col:end_col].decode("utf-8", "replace").strip() or text
        frames.append({"line": line, "code": clip(text, 200), "func": code.co_name})
    return frames


def safe_str(value):
    try:
        return clip(str(value), 500)
    except BaseException:  # noqa: BLE001  (a learner's __str__ may raise anything)
        return "<unprintable>"


def describe_exception(exc):
    return {"type": type(exc).__name__, "message": safe_str(exc), "frames": solution_frames(exc.__traceback__)[-5:]}


def send(kind, message):
    with contextlib.suppress(OSError):
        emit(kind, dumps(message)[:60_000])


watching = []  # made non-empty when the calls start: a plain flag, so setting it never waits on a lock


def watchdog():
    """Every few ms, while the loop thread runs the learner's code, send its stack (feedback only)."""
    pause = SPEC["sample"]
    while not watching:
        sleep(pause)
    while True:
        sleep(pause)
        frame = current_frames().get(loop_thread)
        if frame is None:
            continue
        mine = solution_frames(frame)
        inner = frame.f_code
        if not mine and inner.co_name == "select" and inner.co_filename.endswith("selectors.py"):
            continue  # idle in the loop's selector
        task = current_tasks.get(loop)
        where = {"file": os.path.basename(inner.co_filename), "line": frame.f_lineno, "func": inner.co_name}
        del frame
        name = task.get_name() if task is not None else ""
        send("stack", {"frames": mine[-3:], "innermost": where, "task": name})


async def run_calls():
    async def one(index, url):
        started = monotonic()
        try:
            pending = get_data(url)
            if type(pending) is not CoroutineType:
                send("result", {"i": index, "ok": False, "error": {"type": "NotACoroutine", "message": ""}})
                return
            value = await pending
        except BaseException as exc:  # noqa: BLE001  (the learner's failure is a result, not ours)
            print_traceback(exc)
            send("result", {"i": index, "ok": False, "error": describe_exception(exc)})
            return
        try:
            text = dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            error = {"type": "NotJSON", "message": f"{type(value).__name__}: {safe_str(exc)}"}
            if type(value) is CoroutineType:
                error = {"type": "NotJSON", "message": "a coroutine (never awaited)"}
                value.close()
            send("result", {"i": index, "ok": False, "error": error})
            return
        send("result", {"i": index, "ok": True, "json": text[:MAX_TEXT], "seconds": round(monotonic() - started, 4)})

    watching.append(True)
    tasks = [loop.create_task(one(index, url), name=f"call {index}") for index, url in enumerate(URLS)]
    await asyncio.wait(tasks, timeout=SPEC["timeout"])
    emit("end", "")
    # Leave at once: no cancelling, no waiting for the learner's threads or executors to wind down.
    exit_now(0)


def start_timer():
    """The loop's timer, started before the learner's module is imported; it runs whenever the loop runs."""
    call_later = loop.call_later
    tick = SPEC["tick"]
    read = os.read
    try:
        marker = os.open("/dev/zero", os.O_RDONLY)
    except OSError:
        marker = os.open("/dev/null", os.O_RDONLY)

    def beat():
        # Keeps the loop's own selector timeout at most `tick`; the read is seen from outside (the thread's
        # read count in /proc), so a wait in the loop's selector while this stops running is not the loop's.
        read(marker, 1)
        call_later(tick, beat)

    beat()


def ask(kind):
    """Send an event and wait (a few seconds at most) for the grader's go-ahead."""
    emit(kind, "")
    deadline = monotonic() + 5
    while select.select([FD], [], [], max(0.0, deadline - monotonic()))[0]:
        if os.read(FD, 64) == b"go":
            return


def yardstick():
    """Plain interpreted Python that allocates nothing new (no page faults, no GC): the machine's speed, not ours."""
    total = 0
    counts = {}
    for i in range(10000):
        key = i % 97
        counts[key] = counts.get(key, 0) + len(f"{i}")
        total += key
    return total


def show_warning(message, category, filename, lineno, file=None, line=None):
    """A coroutine created and never awaited in solution.py: worth a word in the feedback (feedback only)."""
    text = str(message)
    if "never awaited" in text and (filename, lineno) not in warned and len(warned) < 20:
        warned.add((filename, lineno))
        where = lineno if filename == SOLUTION else None
        code = getline(SOLUTION, where).strip() if where else ""
        send("warning", {"never_awaited": clip(text, 200), "line": where, "code": clip(code, 200)})


def main():
    """Everything that acts; a child process started with spawn or forkserver imports this file and skips it."""
    global loop, URLS, get_data
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    warnings.showwarning = show_warning

    # The fixture speaks plain HTTP, so no certificate is ever checked: point httpx's eager SSL context at a
    # one-certificate bundle (ca.pem, beside this file) instead of certifi's ~150, which cost ~20 ms of CPU on
    # the loop per AsyncClient(). The learner's code may undo this; it only makes its own calls dearer.
    os.environ.setdefault("SSL_CERT_FILE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ca.pem"))

    # 1. Announce this process and its loop before any learner code runs; the grader watches from now on.
    ready(epoll_fd=loop._selector.fileno())

    # 1b. Calibration, still before any learner code: the loop idles with only its timer running, while the
    # grader counts the ticks (reads) and the thread's CPU from outside: what one tick of ours costs the loop.
    start_timer()
    loop.run_until_complete(asyncio.sleep(SPEC["calibrate"]))
    emit("calibrated", "")

    # 1c. The yardstick, still before any learner code: a fixed piece of ordinary Python work, run a few
    # times, each bracketed by a question the grader answers only after reading this thread's CPU time from
    # outside. How fast this machine computes right now: a slow host makes every call dearer on the CPU.
    runs = SPEC.get("yardstick_runs", 0)
    for _ in range(runs):
        ask("yardstick")
        yardstick()
    if runs:
        ask("yardstick")

    # 1d. httpx's first AsyncClient() imports some 46 modules (httpcore, h11, anyio, certifi): 20-45 ms of CPU
    # here, and three times that on a slow host, which the window would charge to the learner's first call
    # on the loop. Paid now, before any learner code, the calls are charged what they do (~3 ms each).
    with contextlib.suppress(ImportError):
        import httpx  # noqa: PLC0415  (only the harness's process needs it, and only here)

        loop.run_until_complete(httpx.AsyncClient().aclose())

    # 2. The learner's module.
    try:
        import solution  # noqa: E402
    except BaseException as exc:  # noqa: BLE001  (SystemExit and KeyboardInterrupt too: report, then stop)
        print_traceback(exc)
        send("load", {"error": describe_exception(exc)})
        exit_now(3)

    get_data = getattr(solution, "get_data", None)
    if get_data is None or not inspect.iscoroutinefunction(get_data):
        send("load", {"not_coroutine_function": "missing" if get_data is None else type(get_data).__name__})
        exit_now(3)

    # The watchdog thread starts before the URLs are asked for: a thread's start makes the loop's thread wait
    # for it (Thread.start() blocks until the new thread runs), which on a loaded machine is not the learner's.
    threading.Thread(target=watchdog, daemon=True, name="watchdog").start()

    # 3. The URLs, fresh from the grader: ask, then wait for the answer.
    emit("urls", "")
    data = b""
    deadline = monotonic() + 10
    while not data.startswith(b"urls "):
        if not select.select([FD], [], [], max(0.0, deadline - monotonic()))[0]:
            exit_now(4)  # the grader never answered (or the learner's code took the answer): no calls
        data = os.read(FD, 1 << 20)
    URLS = json.loads(data[5:])

    try:
        loop.run_until_complete(run_calls())
    except BaseException as exc:  # noqa: BLE001
        send("harness_error", {"error": describe_exception(exc)})
    finally:
        exit_now(0)


if __name__ == "__main__":
    main()
