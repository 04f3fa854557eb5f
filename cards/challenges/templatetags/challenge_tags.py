"""`{% load challenge_tags %}`: a stored verdict (JSON) shaped for the challenge pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import template

from cards.grading import check_label

register = template.Library()


@dataclass
class Shown:
    """A measured value as a person reads it: `text`, or a small table (`header` and `rows`)."""

    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _label(key: str) -> str:
    return str(key).replace("_", " ")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _show(value: Any) -> Shown:
    """Yes/no, numbers and text as they are; a list as a list; records as a table; JSON only as a last resort."""
    if _is_scalar(value):
        return Shown(text=_scalar(value))
    if value in ([], {}):
        return Shown(text="none")
    if isinstance(value, list) and all(_is_scalar(item) for item in value):
        return Shown(text=", ".join(_scalar(item) for item in value))
    if isinstance(value, dict) and all(_is_scalar(item) for item in value.values()):
        return Shown(header=["", ""], rows=[[_label(key), _scalar(item)] for key, item in value.items()])
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        keys = list(dict.fromkeys(key for item in value for key in item))
        if all(_is_scalar(item.get(key)) for item in value for key in keys):
            return Shown(
                header=[_label(key) for key in keys],
                rows=[[_scalar(item.get(key)) if key in item else "" for key in keys] for item in value],
            )
    return Shown(text=json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


@register.filter
def verdict_checks(verdict: Any) -> list[dict[str, Any]]:
    """The verdict's checks with readable names and measurements; a message already in the feedback is not repeated."""
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
                "name": check_label(str(check.get("name", ""))),
                "passed": bool(check.get("passed")),
                "message": "" if message and message in feedback else message,
                "measured": [(_label(key), _show(value)) for key, value in measured.items()],
            }
        )
    return checks


@register.filter
def quality_note(quality: Any) -> str:
    """What an attempt's quality (0-5) means for the learner: it grades the challenge's practice card."""
    if not isinstance(quality, int):
        return ""
    if quality >= 5:
        effect = "the top grade: the challenge's practice card in your reviews moves furthest ahead"
    elif quality == 4:
        effect = "the challenge's practice card in your reviews moves ahead, a little less far than with 5"
    elif quality == 3:
        effect = "a pass, but the challenge's practice card comes back in today's review for another try"
    else:
        effect = "the challenge's practice card starts over in your reviews and comes back today"
    return f"Quality {quality} of 5 (the grade an attempt gives, as you grade a card): {effect}."


@register.filter
def prediction_rows(verdict: Any, key_visible: bool) -> list[dict[str, Any]]:
    """A prediction's lines against the printed ones, numbered; what was printed only once the key may be seen.

    Before that, each predicted line says only whether it matches the line printed at that place:
    the printed order is the answer.
    """
    key = verdict.get("answer_key") if isinstance(verdict, dict) else None
    lines = key.get("lines") if isinstance(key, dict) else None
    if not isinstance(lines, list):
        return []
    rows = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            continue
        predicted = line.get("predicted")
        if predicted is None and not key_visible:
            continue  # a line printed beyond the prediction: its mere existence is shown by the counts
        rows.append(
            {
                "number": number,
                "predicted": predicted,
                "match": bool(line.get("match")),
                "actual": line.get("actual") if key_visible else None,
            }
        )
    return rows


@register.filter
def blocking_key(verdict: Any) -> list[dict[str, Any]]:
    """The measured blocking lines a verdict kept (spot-the-blocking-call), for the answer section only."""
    key = verdict.get("answer_key") if isinstance(verdict, dict) else None
    lines = key.get("blocking_lines") if isinstance(key, dict) else None
    return [line for line in lines if isinstance(line, dict)] if isinstance(lines, list) else []


@register.filter
def program_output(verdict: Any) -> list[dict[str, str]]:
    """What the learner's program wrote, stream by stream; [] when the grader did not run their code."""
    output = verdict.get("output") if isinstance(verdict, dict) else None
    if not isinstance(output, dict) or not output:
        return []
    names = {"stdout": "Standard output (print)", "stderr": "Standard error (tracebacks, warnings)"}
    return [{"name": names[key], "text": str(output.get(key) or "")} for key in names if key in output]
