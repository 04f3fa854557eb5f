"""Load the challenges kept as files in cards/challenges/catalog/<slug>/ into the database, idempotently.

Each folder holds:

- ``challenge.toml``: ``title``, ``prompt`` (Markdown; or a ``prompt.md`` file
  beside it), ``position``, ``concepts`` (card keys, ``"key"`` or
  ``"deck/key"``), and the grader as ``[grader]`` with ``kind`` and a
  ``[grader.params]`` table (``grader_kind`` / ``[grader_params]`` at the top
  level are read too); ``slug`` defaults to the folder's name;
- ``reference.py``: a solution that must pass; ``starter.py``: the code the
  learner starts from (optional). An answer that is not Python (a predicted
  output, line numbers) is ``reference.txt`` / ``starter.txt`` instead, so that
  every ``.py`` file in the app compiles (the image build checks it strictly).

Loading creates or updates the challenge with that slug, its practice card (in
the "Challenges" deck: the card that brings the challenge back in the daily
review) and its links to concept cards. Loading twice changes nothing the
second time. Challenges written only in the admin (slugs with no folder) are
left alone.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from cards.models import Card, Deck

from .models import Challenge

CHALLENGES_DIR = Path(__file__).resolve().parent / "catalog"
PRACTICE_DECK_SLUG = "challenges"
PRACTICE_DECK_TITLE = "Challenges"
# Practice cards are introduced after the concept cards they build on.
PRACTICE_POSITION_BASE = 10_000


class ChallengeFileError(ValueError):
    """A challenge folder that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class ChallengeSpec:
    """One challenge as read from its folder, before it touches the database."""

    slug: str
    title: str
    prompt: str
    starter_code: str
    reference_solution: str
    grader_kind: str
    grader_params: dict[str, Any]
    concepts: tuple[str, ...] = ()
    position: int = 0


@dataclass
class LoadReport:
    """What a load did, for the command's output."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    missing_concepts: dict[str, list[str]] = field(default_factory=dict)


def answer_file(folder: Path, stem: str) -> Path | None:
    """`stem`.py (code) or `stem`.txt (an answer that is not Python) in `folder`; None if neither is there."""
    found = [path for path in (folder / f"{stem}.py", folder / f"{stem}.txt") if path.exists()]
    if len(found) > 1:
        raise ChallengeFileError(f"{folder}: both {stem}.py and {stem}.txt; keep one")
    return found[0] if found else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ChallengeFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_spec(folder: Path) -> ChallengeSpec:
    """Read and check one challenge folder."""
    toml_path = folder / "challenge.toml"
    try:
        data = tomllib.loads(_read_text(toml_path))
    except FileNotFoundError:
        raise ChallengeFileError(f"{toml_path}: missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise ChallengeFileError(f"{toml_path}: {exc}") from None

    grader = data.get("grader", {})
    kind = grader.get("kind") if isinstance(grader, dict) else None
    kind = kind or data.get("grader_kind")
    params = (grader.get("params") if isinstance(grader, dict) else None) or data.get("grader_params") or {}
    prompt = data.get("prompt")
    if prompt is None and (folder / "prompt.md").exists():
        prompt = _read_text(folder / "prompt.md")
    reference_path = answer_file(folder, "reference")
    if reference_path is None:
        raise ChallengeFileError(f"{folder / 'reference.py'}: missing (every challenge needs a passing reference)")
    starter_path = answer_file(folder, "starter")

    problems = [
        f"'{name}' is missing"
        for name, value in (("title", data.get("title")), ("prompt", prompt), ("grader kind", kind))
        if not value
    ]
    if not isinstance(params, dict):
        problems.append("grader params must be a table")
    concepts = data.get("concepts", [])
    if not isinstance(concepts, list) or not all(isinstance(key, str) for key in concepts):
        problems.append("'concepts' must be a list of card keys")
    if problems:
        raise ChallengeFileError(f"{toml_path}: {'; '.join(problems)}")
    return ChallengeSpec(
        slug=str(data.get("slug") or folder.name),
        title=str(data["title"]),
        prompt=str(prompt),
        starter_code=_read_text(starter_path) if starter_path is not None else "",
        reference_solution=_read_text(reference_path),
        grader_kind=str(kind),
        grader_params=dict(params),
        concepts=tuple(concepts),
        position=int(data.get("position", 0)),
    )


def read_specs(root: Path = CHALLENGES_DIR) -> list[ChallengeSpec]:
    """Every challenge folder under `root` (a folder with a challenge.toml), in name order."""
    if not root.is_dir():
        return []
    specs = [read_spec(path.parent) for path in sorted(root.glob("*/challenge.toml"))]
    slugs = [spec.slug for spec in specs]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise ChallengeFileError(f"{root}: the slug(s) {', '.join(duplicates)} are used by more than one folder")
    return specs


def check_grader_kinds(specs: Iterable[ChallengeSpec]) -> None:
    """Refuse challenges whose grader kind is not in the registry (grading.graders.GRADERS)."""
    from cards.grading.graders import GRADERS  # here: only `manage.py load_challenges` checks kinds

    unknown = [f"{spec.slug} ({spec.grader_kind})" for spec in specs if spec.grader_kind not in GRADERS]
    if unknown:
        raise ChallengeFileError(
            f"unknown grader kind for {', '.join(unknown)}; known kinds: {', '.join(sorted(GRADERS)) or 'none'}"
        )


def find_concept_cards(keys: Iterable[str]) -> tuple[list[Card], list[str]]:
    """The cards named by `keys` ("key" or "deck/key"), and the keys that match no single card."""
    found, missing = [], []
    for key in keys:
        deck_slug, _, card_key = key.rpartition("/")
        cards = Card.objects.filter(key=card_key).exclude(deck__slug=PRACTICE_DECK_SLUG)
        if deck_slug:
            cards = cards.filter(deck__slug=deck_slug)
        matches = list(cards[:2])
        if len(matches) == 1:
            found.append(matches[0])
        else:
            missing.append(key if not matches else f"{key} (in several decks: write deck/key)")
    return found, missing


def practice_card_text(slug: str, title: str) -> tuple[str, str]:
    """The practice card's question and answer (Markdown)."""
    question = f"**Challenge: {title}**\n\nSolve it on [the challenge page](/challenges/{slug}/)."
    answer = (
        "Your grade for this card comes from the challenge's verdict when you submit code; "
        "grade yourself here only if you solved it again in your head."
    )
    return question, answer


def practice_card_for(slug: str, title: str, position: int) -> Card:
    """Create or update the practice card of the challenge `slug` (deck "challenges", key = slug)."""
    deck = _practice_deck()
    question, answer = practice_card_text(slug, title)
    values = {"question": question, "answer": answer, "position": PRACTICE_POSITION_BASE + position}
    card = Card.objects.filter(deck=deck, key=slug[:80]).first()
    if card is None:
        return Card.objects.create(deck=deck, key=slug[:80], **values)
    if _apply(card, values):
        card.save()
    return card


def _practice_deck() -> Deck:
    deck, _ = Deck.objects.get_or_create(
        slug=PRACTICE_DECK_SLUG,
        defaults={"title": PRACTICE_DECK_TITLE, "description": "One card per live code challenge."},
    )
    return deck


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    """Set `values` on `obj`; say whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def load_spec(spec: ChallengeSpec, report: LoadReport, *, update: bool = True) -> Challenge:
    """Create or update one challenge, its practice card and its concept links.

    With update=False an existing challenge is kept as it is (authors' admin edits
    survive); only a missing practice card is added.
    """
    existing = Challenge.objects.filter(slug=spec.slug).first()
    if existing is not None and not update:
        if existing.practice_card_id is None:
            existing.practice_card = practice_card_for(existing.slug, existing.title, existing.position)
            existing.save(update_fields=["practice_card"])
        report.kept.append(spec.slug)
        return existing
    card_before = Card.objects.filter(deck__slug=PRACTICE_DECK_SLUG, key=spec.slug[:80]).values().first()
    card = practice_card_for(spec.slug, spec.title, spec.position)
    card_changed = card_before != Card.objects.filter(pk=card.pk).values().first()

    values = {
        "title": spec.title,
        "prompt": spec.prompt,
        "starter_code": spec.starter_code,
        "reference_solution": spec.reference_solution,
        "grader_kind": spec.grader_kind,
        "grader_params": spec.grader_params,
        "position": spec.position,
        "practice_card": card,
    }
    challenge = Challenge.objects.filter(slug=spec.slug).first()
    created = challenge is None
    if challenge is None:
        challenge = Challenge.objects.create(slug=spec.slug, **values)
        changed = True
    else:
        changed = _apply(challenge, values)
        if changed:
            challenge.save()

    concepts, missing = find_concept_cards(spec.concepts)
    if missing:
        report.missing_concepts[spec.slug] = missing
    if set(challenge.concepts.values_list("pk", flat=True)) != {c.pk for c in concepts}:
        challenge.concepts.set(concepts)
        changed = True

    if created:
        report.created.append(spec.slug)
    elif changed or card_changed:
        report.updated.append(spec.slug)
    else:
        report.unchanged.append(spec.slug)
    return challenge


def load_challenges(root: Path = CHALLENGES_DIR, *, update: bool = True) -> LoadReport:
    """Load every challenge folder under `root` in one transaction; nothing is written if one is broken.

    update=False only creates the challenges that do not exist yet (see load_spec).
    """
    specs = read_specs(root)
    check_grader_kinds(specs)
    report = LoadReport()
    with transaction.atomic():
        for spec in specs:
            load_spec(spec, report, update=update)
    return report
