"""Graders: one per challenge kind, each measuring what learners' code does in the sandbox."""

from .base import (
    MAX_CODE_BYTES,
    Check,
    GradingError,
    InvalidSubmission,
    Verdict,
    check_code,
    grade,
)

__all__ = [
    "MAX_CODE_BYTES",
    "Check",
    "GradingError",
    "InvalidSubmission",
    "Verdict",
    "check_code",
    "grade",
]
