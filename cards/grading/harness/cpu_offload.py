"""Harness for the cpu_offload grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"seeds": [...], "rounds": int, "interval": s, "timeout": s}.

It makes the event loop, then announces itself (`ready`): the grader, told by the
kernel which process this is, starts watching the loop's thread and every process
in the sandbox from outside, and only then does this go on to import the learner's
module and call `handle(seed, rounds)` for every seed at once, and report the
results. Nothing this process sends decides the verdict (the learner's code runs
here and could rewrite any of it): the grader checks the results against values
it computed itself, and reads where the CPU time went from the kernel. The
heartbeat and the watchdog below only illustrate the feedback.
"""

import asyncio
import json
import sys
import threading
import time

from _events import describe, emit, load_solution, ready

SPEC = json.loads(sys.argv[2])


MAIN_THREAD = threading.get_ident()
watch = {"on": False, "last_tick": None}
blame = {}  # line of solution.py -> seconds the loop was stuck there (feedback only, never the verdict)


async def heartbeat(interval):
    while True:
        watch["last_tick"] = time.monotonic()
        emit("hb")
        await asyncio.sleep(interval)


def watchdog():
    """While the heartbeat is stale, note which line of the learner's code the loop thread is on."""
    previous = time.monotonic()
    while True:
        time.sleep(0.005)
        now = time.monotonic()
        elapsed, previous = now - previous, now
        last = watch["last_tick"]
        if not watch["on"] or last is None or now - last < 3 * SPEC["interval"]:
            continue
        frame = sys._current_frames().get(MAIN_THREAD)
        while frame is not None and not frame.f_code.co_filename.endswith("solution.py"):
            frame = frame.f_back
        if frame is not None:
            blame[frame.f_lineno] = blame.get(frame.f_lineno, 0.0) + elapsed


def portable(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else repr(value)[:80]


async def learner(handle):
    beat = asyncio.create_task(heartbeat(SPEC["interval"]))
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
        beat.cancel()
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
