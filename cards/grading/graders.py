"""Every grader, under the kind a challenge names (Challenge.grader_kind): the one registry.

Add a grader here. Importing this module imports every grader (and what they need to run the
sandbox), so the web never imports it: grading.grade() and the loader's kind check import it
inside the functions that only a worker or a management command calls (pyproject.toml's import
contracts list them).
"""

from __future__ import annotations

from .async_blocking.grader import grade_async_blocking_call
from .await_interleaving import grade_await_interleaving
from .base import Grader
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
