"""Grader `await_interleaving`: `await` is where a coroutine pauses; the order of events proves it.

Two modes, one kind (`mode` in the params):

- "arrange": the learner writes a coroutine function (`entry`, default
  "worker"); the harness starts one task per entry of `tasks` (each a list of
  arguments; the first names the task), all on one loop, each given a `log`
  function as its last argument. The labels logged must come out in the order
  `expected`, each logged by the task its label starts with (so one task cannot
  simply print everyone's lines). The evidence is the record of a fixture
  server outside the sandbox: before the learner's module is imported, the
  harness binds one connection per task to it (with a per-run secret the
  grader issued; registration then closes), and each `log()` is one request on
  the calling task's own connection, echoing the nonce the server last gave
  that connection. The server records the steps in the order it got them and
  refuses any other (unbound connection, wrong secret, stale nonce). Events the
  harness sends to the recorder are used for feedback only.
- "predict": `program` (the author's async program) is run in the sandbox and
  the lines it prints are the answer key, measured rather than written by
  hand; the learner's submission is the predicted output, one line per line
  (blank lines and lines starting with # are ignored).

Params: mode ("arrange" or "predict"); for arrange: tasks (required),
expected (required), entry, timeout; for predict: program (required), timeout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import Check, GradingError, Verdict
from .measure import (
    FixtureReport,
    HttpFixture,
    Run,
    join_lines,
    never_awaited,
    require_params,
    run_harness,
    with_output,
)

ARRANGE_PARAMS = {
    "mode": (str, "arrange"),
    "entry": (str, "worker"),
    "tasks": (list, ...),
    "expected": (list, ...),
    "timeout": (float, 10.0),
    "limits": (dict, {}),
}
PREDICT_PARAMS = {"mode": (str, ...), "program": (str, ...), "timeout": (float, 10.0), "limits": (dict, {})}
DEFAULT_LIMITS = {"cpu_seconds": 10, "wall_seconds": 20}
_KEYS: dict[str, list[str]] = {}  # program text -> measured output, per process: a program's output does not change


def grade_await_interleaving(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade an arrangement (code run in the sandbox) or a prediction (the author's program run there)."""
    mode = params.get("mode", "arrange")
    if mode == "predict":
        return grade_prediction(code, require_params(params, PREDICT_PARAMS))
    if mode != "arrange":
        raise GradingError(f"grader params: 'mode' must be 'arrange' or 'predict', not {mode!r}")
    p = require_params(params, ARRANGE_PARAMS)
    if not p["tasks"] or not all(isinstance(args, list) for args in p["tasks"]):
        raise GradingError("grader params: 'tasks' must be a non-empty list of argument lists")
    if not p["expected"] or not all(isinstance(label, str) for label in p["expected"]):
        raise GradingError("grader params: 'expected' must be a non-empty list of labels")
    from cards.sandbox import NetworkNamespace, SandboxUnavailable

    task_names = [str(args[0]) if args else f"task{i}" for i, args in enumerate(p["tasks"])]
    try:
        with NetworkNamespace() as ns, HttpFixture(ns, tasks=len(p["tasks"])) as server:
            spec = {
                "mode": "arrange",
                "entry": p["entry"],
                "tasks": p["tasks"],
                "timeout": p["timeout"],
                "base": server.url,
                "secret": server.secret,
            }
            run = run_harness("await_interleaving", {"solution.py": code}, spec, {**DEFAULT_LIMITS, **p["limits"]}, ns)
            report = server.report()
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable, so the code was not run: {exc}") from exc
    registered = [task for _, task, accepted in report.hellos if accepted]
    if registered != task_names:  # bound before any learner code ran: a failure here is ours, not the learner's
        raise GradingError(
            f"the harness could not bind the tasks to the fixture server (bound {registered}, "
            f"expected {task_names}): {run.describe_failure()}"
        )
    return with_output(judge_arrangement(run, report, p["expected"], task_names, code), run)


def events(run: Run) -> list[tuple[str | None, str]]:
    """The (task name, label) pairs the run logged, in the order they happened."""
    out = []
    for event in run.recording.of_kind("event"):
        try:
            task, label = json.loads(event.payload)
        except (ValueError, TypeError):
            continue
        out.append((task, label))
    return out


def owner(label: str, task_names: list[str]) -> str | None:
    """The task whose name is the longest prefix of `label`."""
    matches = [name for name in task_names if label.startswith(name)]
    return max(matches, key=len) if matches else None


def judge_arrangement(
    run: Run, report: FixtureReport, expected: list[str], task_names: list[str], code: str = ""
) -> Verdict:
    """Compare the order the fixture server got the steps in with the expected one."""
    steps = [step for step in report.steps if step.accepted]
    refused = [step for step in report.steps if not step.accepted]
    labels = [step.label for step in steps]
    outside = len(run.recording.of_kind("outside"))
    stopped = stop_reason(run)
    impostors = [
        f"{step.label} (logged by task {step.task})"
        for step in steps
        if owner(step.label, task_names) not in (None, step.task)
    ]
    order_ok = labels == expected
    checks = (
        Check(
            "order",
            order_ok,
            {"logged": labels, "expected": expected},
            "The events happened in the expected order." if order_ok else "The events happened in another order.",
        ),
        Check(
            "each_task_logs_its_own",
            not impostors and not refused and not outside,
            {"wrong_task": impostors, "refused": len(refused), "outside_tasks": outside},
            "Every label was logged by its own task."
            if not impostors and not refused and not outside
            else own_text(impostors, len(refused), outside),
        ),
    )
    if stopped:
        runs = Check("runs", False, {"status": run.result.status, "limit": run.result.limit_hit}, stopped)
        own = "" if checks[1].passed else checks[1].message
        return Verdict(False, 0, (runs, *checks), join_lines([f"{stopped}.", order_text(labels, expected), own]))
    passed = order_ok and checks[1].passed
    parts = [order_text(labels, expected)]
    if not report.steps:
        parts.append(
            "The grading server got no `log()` call from any task: the tasks never logged (or the program "
            "ended before they ran). Only calls to the `log` your worker is given count."
        )
    if not checks[1].passed:
        parts.append(checks[1].message + " Each task must log its own labels: the point is how tasks take turns.")
    unawaited = never_awaited(run.result.stderr, code) if not order_ok else []
    parts += unawaited
    if not order_ok and runs_in_blocks(labels, task_names) and not unawaited:
        parts.append(
            "Each task ran from start to finish before the next began: between two `await`s a coroutine is "
            "never interrupted, and a call like time.sleep() is not an `await`, so it does not let the others "
            "run. Put a real pause point (`await asyncio.sleep(...)`, or awaiting real I/O) where the task "
            "should give way."
        )
    if passed:
        parts.append(
            "The tasks took turns at each `await`: that is the only place where the event loop can switch "
            "from one coroutine to another."
        )
    quality = 5 if passed else (2 if sorted(labels) == sorted(expected) else 1)
    return Verdict(passed, quality, checks, join_lines(parts))


def stop_reason(run: Run) -> str | None:
    """Why the run did not finish cleanly, naming the limit that ended it; None when it did."""
    if run.error:
        return run.error
    result = run.result
    if result.status == "timeout":
        which = {"cpu_seconds": "CPU-time", "wall_seconds": "wall-clock"}.get(result.limit_hit or "", "time")
        limit = (result.limits or {}).get(result.limit_hit or "")
        amount = f" of {limit:g} s" if isinstance(limit, int | float) else ""
        return (
            f"The run was stopped by the sandbox's {which} limit{amount} before the tasks finished: something "
            "never gave way (an endless loop, or a wait that never ends)"
        )
    if not result.ok:
        return run.describe_failure()[:1].upper() + run.describe_failure()[1:]
    return None


def own_text(impostors: list[str], refused: int, outside: int) -> str:
    """What went wrong with who logged what."""
    parts = []
    if impostors:
        parts.append(f"Labels logged by another task: {', '.join(impostors[:5])}.")
    if outside:
        parts.append(f"log() was called {outside} time(s) from outside the tasks it was given to.")
    if refused:
        parts.append(f"The grading server refused {refused} step report(s) that did not come from a task's own `log`.")
    return " ".join(parts)


def runs_in_blocks(labels: list[str], task_names: list[str]) -> bool:
    """True when each task's labels come out as one unbroken run (no interleaving at all)."""
    owners = [owner(label, task_names) for label in labels]
    changes = sum(1 for a, b in zip(owners, owners[1:], strict=False) if a != b)
    return len(owners) > 1 and changes == len(set(owners)) - 1


def order_text(got: list[str], expected: list[str]) -> str:
    """The measured order next to the expected one, and where they first differ."""
    if got == expected:
        return f"Measured order: {' '.join(got)}."
    first = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected))
    )
    return (
        f"Measured order: {' '.join(got) or '(nothing logged)'}\n\nExpected:       {' '.join(expected)}\n\n"
        f"They first differ at position {first + 1}."
    )


def parse_prediction(code: str) -> list[str]:
    """The predicted lines: one per line, blank lines and # comments ignored, surrounding spaces stripped."""
    return [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]


def measured_output(program: str, timeout: float, limits: Mapping[str, Any]) -> list[str]:
    """Run the author's program in the sandbox and return what it printed (cached per process)."""
    if program not in _KEYS:
        run = run_harness(
            "await_interleaving",
            {"program.py": program},
            {"mode": "predict", "timeout": timeout},
            {**DEFAULT_LIMITS, **limits},
        )
        if run.error or run.recording.phase("run") is None or not run.result.ok:
            raise GradingError(f"the challenge's program did not run cleanly: {run.describe_failure()}")
        _KEYS[program] = [label.strip() for _, label in events(run) if label.strip()]
    return _KEYS[program]


def prediction_text(right_prefix: int, predicted: int, actual: int) -> str:
    """How the predicted lines compare with the printed ones, naming extra or missing lines."""
    if right_prefix == actual and predicted > actual:
        extra = predicted - actual
        return (
            f"All {actual} lines the program printed are in your answer, in order, but your answer goes on with "
            f"{extra} more line{'s' if extra != 1 else ''}: the program prints only {actual}."
        )
    if right_prefix == predicted and predicted < actual:
        missing = actual - predicted
        return (
            f"Your {predicted} line{'s' if predicted != 1 else ''} match the start of what the program printed, "
            f"but it printed {actual}: {missing} line{'s are' if missing != 1 else ' is'} missing."
        )
    if right_prefix == 0:
        return "Your first line already differs from what the program printed."
    if right_prefix == 1:
        return "Only your first line matches what the program printed; line 2 differs."
    return f"Your first {right_prefix} lines match what the program printed; line {right_prefix + 1} differs."


def grade_prediction(code: str, p: Mapping[str, Any]) -> Verdict:
    """Compare the learner's predicted output with the program's measured output."""
    actual = measured_output(p["program"], p["timeout"], p["limits"])
    predicted = parse_prediction(code)
    passed = predicted == actual
    right_prefix = next((i for i, (a, b) in enumerate(zip(predicted, actual, strict=False)) if a != b), None)
    if right_prefix is None:
        right_prefix = min(len(predicted), len(actual))
    check = Check(
        "prediction",
        passed,
        {
            "predicted_lines": len(predicted),
            "program_lines": len(actual),
            "right_before_first_difference": right_prefix,
        },
        prediction_text(right_prefix, len(predicted), len(actual)),
    )
    if passed:
        feedback = (
            f"Right: the program, run in the sandbox, printed exactly these {len(actual)} lines. Each coroutine "
            "ran until its next `await`, and only there did the loop switch to another."
        )
    elif sorted(predicted) == sorted(actual):
        feedback = (
            f"{check.message} You have the right lines in another order. Walk through it as the event loop "
            "does: a task runs until it reaches an `await` that has to wait; only then does the next ready task "
            "run. Creating a task does not run it; `await asyncio.sleep(0)` gives way once."
        )
    else:
        feedback = f"{check.message} Write one printed line per line of your answer, exactly as the program prints it."
    quality = 5 if passed else (2 if sorted(predicted) == sorted(actual) else 1)
    return Verdict(passed, quality, (check,), feedback, answer_key={"lines": compare_lines(predicted, actual)})


def compare_lines(predicted: list[str], actual: list[str]) -> list[dict[str, Any]]:
    """Predicted against printed, line by line: the page shows `actual` only once the learner may see it."""
    rows = []
    for i in range(max(len(predicted), len(actual))):
        mine = predicted[i] if i < len(predicted) else None
        printed = actual[i] if i < len(actual) else None
        rows.append({"predicted": mine, "actual": printed, "match": mine is not None and mine == printed})
    return rows
