"""Helpers for the grader tests: read a challenge folder, grade many answers at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cards.challenges.loader import read_spec
from cards.grading import Verdict
from cards.grading.graders import grade

CHALLENGES = Path(__file__).resolve().parent.parent / "cards" / "challenges" / "catalog"


@dataclass(frozen=True)
class ChallengeFiles:
    slug: str
    kind: str
    params: dict[str, Any]
    starter: str
    reference: str
    prompt: str


def challenge(slug: str) -> ChallengeFiles:
    """The challenge kept in cards/challenges/SLUG, read the way the loader reads it."""
    spec = read_spec(CHALLENGES / slug)
    return ChallengeFiles(
        slug=slug,
        kind=spec.grader_kind,
        params=dict(spec.grader_params),
        starter=spec.starter_code,
        reference=spec.reference_solution,
        prompt=spec.prompt,
    )


def grade_all(kind: str, answers: dict[str, str], params: dict[str, Any], workers: int = 3) -> dict[str, Verdict]:
    """Grade every answer (name -> code), `workers` at a time, as concurrent workers would."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(grade, kind, code, params) for name, code in answers.items()}
        return {name: future.result() for name, future in futures.items()}


def explain(verdict: Verdict) -> str:
    """A verdict as text, for assertion messages."""
    checks = "; ".join(f"{c.name}={c.passed} {dict(c.measured)}" for c in verdict.checks)
    return f"passed={verdict.passed} q={verdict.quality} [{checks}] timings={dict(verdict.timings)}\n{verdict.feedback}"
