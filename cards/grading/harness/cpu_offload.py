"""Harness for the cpu_offload grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"seeds": [...], "rounds": int, "interval": s, "timeout": s}.

Trusted phases first, before the learner's module is imported: `direct` runs
one call on the loop's own thread (how long one call freezes the loop), `calib`
offloads every call to a process pool (how free the loop stays when it is done
right, on this machine, under this load; it also gives the expected results).
Then `learner`: the learner's `handle(seed, rounds)` called for every seed at
once. A heartbeat ticks in the loop throughout; the grader times the ticks.
"""

import asyncio
import json
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from _events import describe, emit, load_solution
from work import crunch

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


async def run_phase(name, make_call, seeds=None):
    beat = asyncio.create_task(heartbeat(SPEC["interval"]))
    await asyncio.sleep(SPEC["interval"] * 3)  # let the heartbeat settle before the clock starts
    emit("begin", name)
    try:
        calls = [make_call(seed) for seed in (seeds or SPEC["seeds"])]
        results = await asyncio.wait_for(asyncio.gather(*calls), SPEC["timeout"])
    finally:
        emit("end", name)
        beat.cancel()
    return results


async def direct(seed):
    return crunch(seed, SPEC["rounds"])


async def calibrate():
    await run_phase("direct", direct, SPEC["seeds"][:1])
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        results = await run_phase("calib", lambda seed: loop.run_in_executor(pool, crunch, seed, SPEC["rounds"]))
    emit("expected", json.dumps(results))


def portable(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else repr(value)[:80]


async def learner(handle):
    watch["on"] = True
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        results = await run_phase("learner", lambda seed: handle(seed, SPEC["rounds"]))
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
    asyncio.run(calibrate())
    solution = load_solution()
    handle = getattr(solution, "handle", None)
    if not asyncio.iscoroutinefunction(handle):
        emit("error", "your module must define `async def handle(seed, rounds)`")
        return
    asyncio.run(learner(handle))


if __name__ == "__main__":  # a learner's "spawn" pool re-imports main.py; it must not run again
    main()
