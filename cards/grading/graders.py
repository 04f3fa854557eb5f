"""Imports every grader module so that each registers its kind. Add new graders here."""

from . import (
    async_blocking,  # noqa: F401
    await_interleaving,  # noqa: F401
    bounded_fanout,  # noqa: F401
    cpu_offload,  # noqa: F401
    gil_parallelism,  # noqa: F401
    spot_blocking,  # noqa: F401
)
