"""Graders: one per challenge kind, each measuring what learners' code does in the sandbox.

The package itself holds the plain types and the code checks the web may use; `graders` holds
the registry and `grade()`, which load every grader and the sandbox (workers and commands only).
"""

from .base import (
    MAX_CODE_BYTES,
    Check,
    GradingError,
    InvalidSubmission,
    Verdict,
    check_code,
    check_label,
    count,
)

__all__ = [
    "MAX_CODE_BYTES",
    "Check",
    "GradingError",
    "InvalidSubmission",
    "Verdict",
    "check_code",
    "check_label",
    "count",
]
