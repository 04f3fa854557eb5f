"""`{% load challenge_tags %}`: a stored verdict (JSON) shaped for the challenge pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


def _show(value: Any) -> str:
    """A measured value as a person reads it: yes/no, plain numbers and text, compact JSON otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    if value in ([], {}, None):
        return "none"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@register.filter
def verdict_checks(verdict: Any) -> list[dict[str, Any]]:
    """The verdict's checks with their measurements as text; a message already in the feedback is not repeated."""
    if not isinstance(verdict, dict):
        return []
    feedback = str(verdict.get("feedback") or "")
    checks = []
    for check in verdict.get("checks") or []:
        if not isinstance(check, dict):
            continue
        message = str(check.get("message") or "")
        measured = check.get("measured") if isinstance(check.get("measured"), dict) else {}
        checks.append(
            {
                "name": str(check.get("name", "")),
                "passed": bool(check.get("passed")),
                "message": "" if message and message in feedback else message,
                "measured": [(str(key), _show(value)) for key, value in measured.items()],
            }
        )
    return checks
