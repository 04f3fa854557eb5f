"""Gradings side by side, each in a process of its own, as the worker runs them (one grading per child).

Threads of one process would share its GIL with every grading's sampler, which then falls behind: a
load the worker never puts on a grader, so the tests do not either. A grader that could not watch
closely enough says so (GradingError) and the worker grades again (cards.challenges.tasks); so does
this, as often as the task would.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cards.grading import GradingError, Verdict
from cards.grading.graders import grade

RETRIES = 4  # as cards.challenges.tasks.MAX_RETRIES


def grade_as_the_worker_does(kind: str, code: str, params: Mapping[str, Any]) -> Verdict:
    for attempt in range(RETRIES + 1):
        try:
            return grade(kind, code, params)
        except GradingError as exc:
            if attempt == RETRIES:
                raise
            print(f"graded again after: {exc}", file=sys.stderr)
    raise AssertionError("unreachable")


def grade_side_by_side(kind: str, codes: Sequence[str], params: Mapping[str, Any], workers: int) -> list[Verdict]:
    """The verdicts of `codes`, graded `workers` at a time, each in its own process."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(grade_as_the_worker_does, [kind] * len(codes), codes, [dict(params)] * len(codes)))
