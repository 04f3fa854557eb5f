"""Harness for the await_interleaving grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON.

mode "arrange": SPEC {"entry": name, "tasks": [[arg, ...], ...], "timeout": s}. Runs one
task per args list, `entry(*args, log)`, all on one event loop; `log(label)` reports
the label and the name of the task that logged it, in the order they happen.

mode "predict": SPEC {"timeout": s}; runs program.py (the author's program, not the
learner's) as __main__, with print() reporting each printed line as an event.
"""

import asyncio
import builtins
import io
import json
import runpy
import sys

from _events import describe, emit, load_solution

SPEC = json.loads(sys.argv[2])


def log(label):
    task = asyncio.current_task()
    emit("event", json.dumps([task.get_name() if task else None, str(label)[:200]]))


async def arrange(entry):
    tasks = []
    for i, args in enumerate(SPEC["tasks"]):
        name = str(args[0]) if args else f"task{i}"
        tasks.append(asyncio.create_task(entry(*args, log), name=name))
    await asyncio.wait_for(asyncio.gather(*tasks), SPEC["timeout"])


def run_arrange():
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
