"""Shipped into the sandbox as _events.py: how a harness reports to the grader outside.

Every event is one datagram on the socket whose fd the grader passed (argv[1]); the grader
stamps it with its own clock on arrival. Standard library only.
"""

import os
import sys
import traceback

FD = int(sys.argv[1])


def emit(kind, payload=""):
    """Send one event line; the grader timestamps it on arrival."""
    os.write(FD, f"{kind} {payload}".encode())  # one datagram per event


def ready(**info):
    """Announce this process to the grader and wait until it watches us; call before importing solution.py.

    The grader trusts only this first event (the kernel tells it which process sent it),
    so it must come before any learner code can run.
    """
    import json

    emit("ready", json.dumps(info))
    while os.read(FD, 64) != b"go":
        pass


def load_solution(name="solution"):
    """Import the learner's module; on failure report the error and exit (the grader reads `error`)."""
    try:
        return __import__(name)
    except SystemExit as exc:
        emit("error", f"the module called exit({exc.code!r}) while being imported")
    except BaseException as exc:  # noqa: BLE001  (anything the learner's module raises is their error to see)
        line = _solution_line(exc)
        emit("error", f"importing your code raised {type(exc).__name__}: {exc}{line}")
    os._exit(3)


def _solution_line(exc):
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("solution.py"):
            return f" (line {frame.lineno})"
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    return ""


def describe(exc):
    """`ExcType: message (line N of your code)` for an exception raised by the learner's code."""
    return f"{type(exc).__name__}: {exc}{_solution_line(exc)}"
