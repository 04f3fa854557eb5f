"""Shipped into the sandbox as _events.py: how a harness reports to the grader outside.

Every event is one datagram on the socket whose fd the grader passed (argv[1]); the grader
stamps it with its own clock on arrival. Standard library only.
"""

import contextlib
import os
import sys
import traceback

FD = int(sys.argv[1])
# Each printed line goes out when printed: a run the grader stops (or a limit kills) still shows the
# learner what their program printed up to then.
sys.stdout.reconfigure(line_buffering=True)


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
        print_traceback(exc)
        line = _solution_line(exc)
        emit("error", f"importing your code raised {type(exc).__name__}: {exc}{line}")
    exit_now(3)


def exit_now(code):
    """os._exit(code) (no waiting for the learner's threads), once what their code printed is written out."""
    for stream in (sys.__stdout__, sys.__stderr__):  # the originals: sys.stdout may have been replaced
        with contextlib.suppress(BaseException):  # closed or broken by the learner's code: nothing to keep
            stream.flush()
    os._exit(code)


def _solution_line(exc):
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("solution.py"):
            return f" (line {frame.lineno})"
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    return ""


_TRACEBACKS_SHOWN = []
MAX_TRACEBACKS = 3


def print_traceback(exc):
    """Write the learner's traceback to stderr, from the first frame of their code on (the page shows it).

    At most MAX_TRACEBACKS of them: ten calls failing alike would say the same thing ten times.
    """
    if len(_TRACEBACKS_SHOWN) >= MAX_TRACEBACKS:
        return
    _TRACEBACKS_SHOWN.append(type(exc).__name__)
    try:
        tb = exc.__traceback__
        while tb is not None and not tb.tb_frame.f_code.co_filename.endswith("solution.py"):
            tb = tb.tb_next  # the harness's own frames say nothing to the learner
        sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)))
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001, S110  (a learner's __str__ may raise anything; this is feedback only)
        pass


def describe(exc):
    """`ExcType: message (line N of your code)` for an exception raised by the learner's code (its traceback
    goes to stderr)."""
    print_traceback(exc)
    return f"{type(exc).__name__}: {exc}{_solution_line(exc)}"
