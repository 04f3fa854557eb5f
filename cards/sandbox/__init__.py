"""Runs untrusted Python under bubblewrap with hard limits; knows nothing of grading.

Public API::

    from cards.sandbox import run_python, SandboxLimits, SandboxResult, SandboxUnavailable, NetworkNamespace

No Django import here except SandboxLimits.from_settings(), which reads settings.SANDBOX_* when Django is
configured. See docs/sandbox.md.
"""

from .host import check_available
from .jail import run_python
from .limits import SandboxLimits
from .netns import NetworkNamespace
from .result import STATUSES, SandboxResult, SandboxUnavailable

__all__ = [
    "STATUSES",
    "NetworkNamespace",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "check_available",
    "run_python",
]
