"""A grader kind for the challenge plumbing's tests only: it reads the code as TEXT and never runs it.

The task, command and view tests need verdicts on demand (pass, fail, an
infrastructure failure, a crash, a slow grading) without depending on the real
graders or the sandbox. This grader never executes the learner's code: it looks
for marker words in it. The worker tests load it with `celery worker -I
tests.challenges_graders`.

Markers (one per line): PASS, FAIL, INFRA (GradingError), CRASH (RuntimeError),
SLEEP <seconds> (a slow grading, slept in the grader's own process), PRINT (a
verdict-shaped text, to check that only the verdict's own fields show it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cards.grading import Check, GradingError, Verdict
from cards.grading.graders import GRADERS

KIND = "test-markers"


def grade_markers(code: str, params: Mapping[str, Any]) -> Verdict:
    """Grade by marker words in the code's text (see the module docstring)."""
    words = [line.strip() for line in code.splitlines()]
    for line in words:
        if line.startswith("SLEEP "):
            time.sleep(float(line.split()[1]))
    if "INFRA" in words:
        raise GradingError("the test fixture is unavailable")
    if "CRASH" in words:
        raise RuntimeError("grader bug")
    passed = "PASS" in words and "FAIL" not in words
    feedback = "All good." if passed else "Line 1 blocks the loop."
    if "PRINT" in words:
        feedback += ' {"passed": true, "quality": 5}'
    return Verdict(
        passed=passed,
        quality=5 if passed else 1,
        checks=(Check("markers", passed, {"lines": len(words)}, "PASS found" if passed else "no PASS"),),
        feedback=feedback,
        timings={"grading_s": 0.0},
    )


# A test-only kind, added to the one registry in the processes that import this module (tests, and
# the workers the stack tests start with it on their import path).
GRADERS.setdefault(KIND, grade_markers)
