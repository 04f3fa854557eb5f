"""Harness for the spot_blocking grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"base": fixture url or null, "stale": s, "sample": s, "timeout": s}.

Runs program.py (the author's program; the learner's answer is only line
numbers and never runs) as __main__. Every event loop it creates gets a
heartbeat task that notes the time every few milliseconds. A watchdog thread
samples the loop thread's stack; whenever the heartbeat is stale (the loop is
stuck inside one callback), the time is charged to the program's lines on
the stack: from the innermost coroutine of the program down to the innermost
program frame (a sync helper the coroutine called). Reports per-site totals.
"""

import asyncio
import inspect
import json
import os
import runpy
import sys
import threading
import time

from _events import emit

SPEC = json.loads(sys.argv[2])
PROGRAM = "program.py"
MAIN_THREAD = threading.get_ident()
state = {"last_tick": None}
charged = {}  # site (tuple of line numbers, outer to inner) -> seconds
unattributed = [0.0]


async def heartbeat():
    while True:
        state["last_tick"] = time.monotonic()
        await asyncio.sleep(SPEC["sample"] * 2)


class HeartbeatPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        loop = super().new_event_loop()
        loop.call_soon(lambda: loop.create_task(heartbeat(), name="grading-heartbeat"))
        return loop


def site_of(frame):
    """The program's lines on the stack, from the innermost program coroutine inwards."""
    chain = []  # inner to outer
    while frame is not None:
        code = frame.f_code
        if os.path.basename(code.co_filename) == PROGRAM and code.co_name != "<module>":
            chain.append((frame.f_lineno, bool(code.co_flags & inspect.CO_COROUTINE)))
            if chain[-1][1]:
                break  # the coroutine the loop is running: its callers are not on this stack's blame
        frame = frame.f_back
    return tuple(line for line, _ in reversed(chain))


def watchdog(stop):
    previous = time.monotonic()
    while not stop.is_set():
        time.sleep(SPEC["sample"])
        now = time.monotonic()
        elapsed, previous = now - previous, now
        last = state["last_tick"]
        if last is None or now - last < SPEC["stale"]:
            continue
        frame = sys._current_frames().get(MAIN_THREAD)
        site = site_of(frame) if frame is not None else ()
        if site:
            charged[site] = charged.get(site, 0.0) + elapsed
        else:
            unattributed[0] += elapsed


def main():
    if SPEC.get("base"):
        os.environ["FIXTURE_URL"] = SPEC["base"]
    asyncio.set_event_loop_policy(HeartbeatPolicy())
    stop = threading.Event()
    thread = threading.Thread(target=watchdog, args=(stop,), daemon=True)
    thread.start()
    emit("begin", "program")
    try:
        runpy.run_path(PROGRAM, run_name="__main__")
    except BaseException as exc:  # noqa: BLE001
        emit("error", f"the program raised {type(exc).__name__}: {exc}")
    finally:
        emit("end", "program")
        stop.set()
        thread.join()
    sites = [{"chain": list(site), "ms": round(seconds * 1000)} for site, seconds in charged.items()]
    emit("sites", json.dumps({"sites": sites, "unattributed_ms": round(unattributed[0] * 1000)}))


if __name__ == "__main__":
    main()
