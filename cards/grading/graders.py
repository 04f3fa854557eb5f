"""Imports every grader module so that each registers its kind. Add new graders here."""
from . import cpu_offload  # noqa: F401
from . import async_blocking  # noqa: F401
from . import bounded_fanout  # noqa: F401
from . import gil_parallelism  # noqa: F401
from . import await_interleaving  # noqa: F401
from . import spot_blocking  # noqa: F401
