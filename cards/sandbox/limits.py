"""Per-run limits of the sandbox (the app's defaults come from its SANDBOX_* settings, via config)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Hard limits for one sandboxed run. Tighten per challenge with ``dataclasses.replace``.

    memory_mb: memory of the whole process tree (memory cgroup, counting /tmp's pages);
        without a memory cgroup, RLIMIT_AS of each process.
    cpu_seconds: CPU time of the whole tree (cgroup accounting), and RLIMIT_CPU per process.
    wall_seconds: wall-clock time from start until the whole tree is gone.
    output_bytes: stdout plus stderr; more ends the run with status "output_limit".
    tmp_mb, tmp_inodes: size and inode count of the private /tmp (also /dev/shm).
    max_processes: processes and threads of the run (pids cgroup and RLIMIT_NPROC).
    """

    memory_mb: int = 256
    cpu_seconds: float = 5
    wall_seconds: float = 10
    output_bytes: int = 1 << 20
    tmp_mb: int = 16
    max_processes: int = 64
    tmp_inodes: int = 4096
    open_files: int = 256
    stack_mb: int = 8

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxLimits.{field.name} must be a positive number, not {value!r}")

    def tightened(self, **changes: Any) -> SandboxLimits:
        """A copy with ``changes`` applied, each clamped to be no looser than this one's value."""
        clamped = {name: min(value, getattr(self, name)) for name, value in changes.items()}
        return dataclasses.replace(self, **clamped)

    def to_dict(self) -> dict[str, float]:
        """The limits as a JSON-able dict."""
        return dataclasses.asdict(self)
