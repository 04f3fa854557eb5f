"""The sandbox's configuration on this host: where its pieces live and a run's default limits.

Passed in, never read here: the app builds it from its settings (studyapp/settings.py, SANDBOX_*) and
calls `configure` once at start (cards.challenges.apps); code without Django (benches, the sandbox's own tests)
keeps the defaults below, which are what scripts/install_sandbox.sh makes, or configures its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .limits import SandboxLimits


@dataclass(frozen=True)
class SandboxConfig:
    """root: the install's folder (its venv, sandbox-exec, the mount point); uid_base and uid_count: the
    uids runs use; lock_dir: where a run claims its uid; cgroup_parent: the cgroup (v2) under which runs
    get their own groups ("" for the worker's own cgroup); limits: a run's limits unless it passes its own.
    """

    root: Path = Path("/opt/studyapp-sandbox")
    uid_base: int = 61000
    uid_count: int = 32
    lock_dir: Path = Path("/run/studyapp-sandbox")
    cgroup_parent: str = ""
    limits: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        if self.uid_base <= 0 or self.uid_count <= 0:
            raise ValueError(f"uid_base and uid_count must be positive, not {self.uid_base} and {self.uid_count}")


_current = SandboxConfig()


def configure(config: SandboxConfig) -> None:
    """Use `config` for every later run in this process."""
    global _current
    if not isinstance(config, SandboxConfig):
        raise TypeError(f"expected a SandboxConfig, not {type(config).__name__}")
    _current = config


def current() -> SandboxConfig:
    """The configuration runs use now."""
    return _current


def replaced(**changes: object) -> SandboxConfig:
    """The current configuration with `changes` (for tests and tools that move one piece)."""
    return dataclasses.replace(_current, **changes)
