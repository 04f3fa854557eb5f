"""Runs untrusted Python under bubblewrap with hard limits; knows nothing of grading.

Public API::

    from cards.sandbox import run_python, SandboxLimits, SandboxResult, SandboxUnavailable, NetworkNamespace
    from cards.sandbox import SandboxConfig, configure, layout

No Django here: where the sandbox lives and a run's default limits are passed in (`configure`, done by the
app at start from its SANDBOX_* settings). See docs/sandbox.md.
"""

from .config import SandboxConfig, configure
from .host import check_available, layout
from .jail import run_python
from .limits import SandboxLimits
from .netns import NetworkNamespace
from .result import STATUSES, SandboxResult, SandboxUnavailable

__all__ = [
    "STATUSES",
    "NetworkNamespace",
    "SandboxConfig",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "check_available",
    "configure",
    "layout",
    "run_python",
]
