"""The blocking-call challenge (kind `async_blocking_call`): fixture server, harness, measurements, grader."""

from .grader import KIND, grade_async_blocking_call

__all__ = ["KIND", "grade_async_blocking_call"]
