"""Graders: one per challenge kind, each measuring what learners' code does in the sandbox."""

from .base import (
    GRADERS,
    MAX_CODE_BYTES,
    Check,
    GradingError,
    InvalidSubmission,
    Verdict,
    check_code,
    grade,
    register,
)

__all__ = [
    "GRADERS",
    "MAX_CODE_BYTES",
    "Check",
    "GradingError",
    "InvalidSubmission",
    "Verdict",
    "check_code",
    "grade",
    "register",
]
