"""Harness for the cpu_offload grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"seeds": [...], "rounds": int, "interval": s, "timeout": s}.

It makes the event loop, then announces itself (`ready`): the grader, told by the
kernel which process this is, starts watching the loop's thread and every process
in the sandbox from outside, and only then does this go on to import the learner's
module and call `handle(seed, rounds)` for every seed at once, and report the
results. Nothing this process sends decides the verdict (the learner's code runs
here and could rewrite any of it): the grader checks the results against values
it computed itself, and reads where the CPU time went from the kernel. The
watchdog below only names a line in the feedback; it is cheap, because the
grader counts this process's CPU time.
"""

import asyncio
import contextlib
import json
import os
import sys
import threading
import time

from _events import describe, emit, load_solution, ready

SPEC = json.loads(sys.argv[2])


MAIN_THREAD = threading.get_ident()
watch = {"on": False, "nudge": None}
blame = {}  # line of solution.py -> seconds the loop's thread spent there (feedback only, never the verdict)


def watchdog():
    """Every `interval` s, note which line of the learner's code (if any) the loop's thread is running.

    Cheap on purpose: this runs in the learner's process, whose CPU time the grader counts.
    """
    previous = time.monotonic()
    while True:
        time.sleep(SPEC["interval"])
        if watch["nudge"] is not None:
            with contextlib.suppress(OSError):
                os.write(watch["nudge"], b".")
        now = time.monotonic()
        elapsed, previous = now - previous, now
        if not watch["on"]:
            continue
        frame = sys._current_frames().get(MAIN_THREAD)
        while frame is not None and not frame.f_code.co_filename.endswith("solution.py"):
            frame = frame.f_back
        if frame is not None:
            blame[frame.f_lineno] = blame.get(frame.f_lineno, 0.0) + elapsed


def portable(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else repr(value)[:80]


async def learner(handle):
    # A pipe the watchdog writes to and the loop drains: a loop stuck re-entering its own selector without
    # running callbacks (a disguised blocking wait) finds it readable every time and spins, on the CPU.
    nudge_r, nudge_w = os.pipe()
    os.set_blocking(nudge_r, False)
    os.set_blocking(nudge_w, False)
    asyncio.get_running_loop().add_reader(nudge_r, lambda: os.read(nudge_r, 4096))
    watch["nudge"] = nudge_w
    watch["on"] = True
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        calls = [handle(seed, SPEC["rounds"]) for seed in SPEC["seeds"]]
        results = await asyncio.wait_for(asyncio.gather(*calls), SPEC["timeout"])
    except TimeoutError:
        emit("error", f"the calls had not all returned after {SPEC['timeout']} s")
        return
    except Exception as exc:  # noqa: BLE001
        emit("error", f"handle() raised {describe(exc)}")
        return
    finally:
        watch["on"] = False
        emit("blame", json.dumps({line: round(seconds * 1000) for line, seconds in blame.items()}))
    emit("result", json.dumps([portable(value) for value in results]))


def main():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The loop's selector exists before any learner code: the grader tells its idle waits from blocking ones.
    ready(loop_fd=loop._selector.fileno())
    solution = load_solution()
    handle = getattr(solution, "handle", None)
    if not asyncio.iscoroutinefunction(handle):
        emit("error", "your module must define `async def handle(seed, rounds)`")
        return
    try:
        loop.run_until_complete(learner(handle))
    finally:
        loop.close()


if __name__ == "__main__":  # a learner's "spawn" pool re-imports main.py; it must not run again
    main()
