"""What every grader returns, and the registry that maps a grader kind to its code.

A grader measures what a learner's code does in the sandbox and returns a
Verdict. Graders know nothing of Django: they take the code and the
challenge's parameters and give back plain values that the worker, the
`grade` command and the tests all share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_CODE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One measured question: its name, whether it held, what was measured, and why."""

    name: str
    passed: bool
    measured: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The grader's answer. `quality` (0..5) feeds the challenge's SM-2 schedule.

    `output` is what the learner's own program wrote ({"stdout": ..., "stderr": ...}, capped;
    only from graders that run the learner's code). `answer_key` is what a learner may see
    only once they have passed or given up (the measured order of a program's lines, the
    measured blocking lines): the pages keep it hidden until then.
    """

    passed: bool
    quality: int
    checks: tuple[Check, ...]
    feedback: str
    timings: Mapping[str, float] = field(default_factory=dict)
    output: Mapping[str, str] = field(default_factory=dict)
    answer_key: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [asdict(check) for check in self.checks]
        data["checks"] = [{**c, "measured": dict(c["measured"])} for c in data["checks"]]
        data["timings"] = dict(self.timings)
        data["output"] = dict(self.output)
        data["answer_key"] = dict(self.answer_key)
        return data


class GradingError(Exception):
    """The grader itself could not run (sandbox unavailable, fixture failed): not the learner's fault."""


class InvalidSubmission(ValueError):
    """The code cannot be graded at all (too large, not UTF-8 text): a clear message for the learner."""


Grader = Callable[[str, Mapping[str, Any]], Verdict]


# What each check is called on the page (a verdict stores the identifier).
CHECK_LABELS = {
    "runs": "Runs without an error",
    "syntax_error": "Valid Python",
    "answer": "Answer",
    "results": "Right results",
    "loop": "Event loop stays free",
    "loop_not_waiting": "Loop never waits on the work",
    "line": "The blocking line",
    "blocking_lines": "Blocking lines found",
    "bounded_concurrency": "Requests within the limit",
    "cpu_left_the_loop_process": "CPU work off the event loop",
    "each_task_logs_its_own": "Each task logs its own lines",
    "order": "Order",
    "overlap": "The work overlaps",
    "parallel_processes": "Runs in parallel processes",
    "prediction": "Prediction",
}


def check_label(name: str) -> str:
    """A check's name as a person reads it ("loop_not_waiting" -> "Loop never waits on the work")."""
    return CHECK_LABELS.get(name) or name.replace("_", " ").capitalize()


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun it counts, singular for one: "1 second", "2 seconds", "1 process"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def check_code(code: str | bytes) -> str:
    """Return the code as text, or raise InvalidSubmission saying what is wrong with it."""
    if isinstance(code, bytes):
        if len(code) > MAX_CODE_BYTES:
            raise InvalidSubmission(f"The code is {len(code):,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (64 KiB).")
        try:
            code = code.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSubmission(f"The code is not UTF-8 text (byte {exc.start} cannot be decoded).") from None
    size = len(code.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CODE_BYTES:
        raise InvalidSubmission(f"The code is {size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (64 KiB).")
    if "\x00" in code:
        raise InvalidSubmission("The code contains a NUL byte; it looks like binary data, not Python source.")
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSubmission("The code contains characters that are not valid Unicode text.") from None
    return code
