"""What a sandboxed run returns, and the error raised when no sandbox can be had."""

from __future__ import annotations

import signal as signal_module
from dataclasses import dataclass, field
from typing import Any, Literal

# ok            exit code 0, no limit hit.
# error         non-zero exit code or a crash (a signal, e.g. SIGSEGV from a C stack overflow).
# timeout       the wall-clock limit (limit_hit "wall_seconds") or the CPU limit ("cpu_seconds") ended it.
# memory        the memory cgroup's OOM killer ended it (limit_hit "memory_mb").
# output_limit  stdout plus stderr went past output_bytes; the run was killed ("output_bytes").
# stopped       the caller asked for the run to end (its stop descriptor became readable): a grader that
#               had seen enough to decide; the run was killed ("stopped").
Status = Literal["ok", "error", "timeout", "memory", "output_limit", "stopped"]
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "memory", "output_limit", "stopped")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here (no bubblewrap, no namespaces, not root, no sandbox venv).

    Raised instead of ever running code unsandboxed; the message says what is missing.
    """


@dataclass(frozen=True)
class SandboxResult:
    """The outcome of one run, every field measured from outside the sandbox."""

    status: Status
    exit_code: int | None
    signal: int | None
    stdout_bytes: bytes
    stderr_bytes: bytes
    wall_seconds: float
    cpu_seconds: float | None
    limit_hit: str | None = None
    output_truncated: bool = False
    memory_peak_bytes: int | None = None
    limits: dict[str, float] = field(default_factory=dict)
    cgroups: bool = False

    @property
    def stdout(self) -> str:
        """stdout decoded as UTF-8; undecodable bytes become U+FFFD."""
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """stderr decoded as UTF-8; undecodable bytes become U+FFFD."""
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """True when the code exited 0 within every limit."""
        return self.status == "ok"

    @property
    def signal_name(self) -> str | None:
        """The name of the signal that ended the process (SIGKILL, SIGSEGV, ...), if any."""
        if self.signal is None:
            return None
        try:
            return signal_module.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the result (text fields decoded)."""
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "signal_name": self.signal_name,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "wall_seconds": round(self.wall_seconds, 4),
            "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 4),
            "limit_hit": self.limit_hit,
            "output_truncated": self.output_truncated,
            "memory_peak_bytes": self.memory_peak_bytes,
            "limits": dict(self.limits),
            "cgroups": self.cgroups,
        }
