"""Every grader, under the kind a challenge names (Challenge.grader_kind): the one registry, and `grade()`.

Add a grader here. Importing this module imports every grader (and what they need to run the
sandbox), so the web never imports it: the grading tasks and the loader's kind check import it
inside the functions that only a worker or a management command calls (pyproject.toml's import
contracts list them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .async_blocking.grader import grade_async_blocking_call
from .await_interleaving import grade_await_interleaving
from .base import Grader, GradingError, Verdict, check_code
from .bounded_fanout import grade_bounded_fanout
from .cpu_offload import grade_cpu_offload
from .gil_parallelism import grade_gil_parallelism
from .spot_blocking import grade_spot_blocking

GRADERS: dict[str, Grader] = {
    "async_blocking_call": grade_async_blocking_call,
    "await_interleaving": grade_await_interleaving,
    "bounded_fanout": grade_bounded_fanout,
    "cpu_offload": grade_cpu_offload,
    "gil_parallelism": grade_gil_parallelism,
    "spot_blocking": grade_spot_blocking,
}


def grade(kind: str, code: str | bytes, params: Mapping[str, Any] | None = None) -> Verdict:
    """Grade `code` with the grader of `kind`: the one path for worker, command and tests."""
    try:
        grader = GRADERS[kind]
    except KeyError:
        raise GradingError(f"no grader of kind {kind!r}; known kinds: {', '.join(sorted(GRADERS))}") from None
    return grader(check_code(code), dict(params or {}))
