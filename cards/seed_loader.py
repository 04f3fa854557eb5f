"""Load seed decks kept as TOML in cards/seed/ into the database, idempotently.

A seed file holds one `[deck]` (slug, title, description) and `[[cards]]` with a
stable `key`, concept `tags`, and Markdown `question` / `answer`. Loading:

- creates the deck and any card whose key is missing;
- updates a card whose key exists but whose text, tags or position differ from
  the file (unless `update=False`), keeping its id, so learners' schedules stay;
- leaves alone cards that match, and cards of the deck that the file doesn't
  mention (written in the admin);
- runs in one transaction: a bad file loads nothing.

Loading twice changes nothing the second time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from .models import Card, Deck, Tag

SEED_DIR = Path(__file__).resolve().parent / "seed"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class SeedError(ValueError):
    """A seed file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class SeedCard:
    key: str
    question: str
    answer: str
    tags: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class SeedDeck:
    slug: str
    title: str
    description: str
    cards: tuple[SeedCard, ...]


@dataclass
class LoadReport:
    """What a load did (or, in a dry run, would do), by card key."""

    deck: str
    deck_created: bool = False
    deck_updated: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # differ from the file, left as they are (update=False)

    @property
    def changed(self) -> bool:
        return bool(self.deck_created or self.deck_updated or self.created or self.updated)

    def summary(self) -> str:
        deck = "created" if self.deck_created else "updated" if self.deck_updated else "unchanged"
        parts = [
            f"deck {self.deck} {deck}",
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} differing, left as they are")
        return ", ".join(parts)


def _text(raw: dict[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = raw.get(name, "")
    if not isinstance(value, str):
        raise SeedError(f"{where}: {name!r} must be a string")
    value = value.strip()
    if required and not value:
        raise SeedError(f"{where}: {name!r} is missing or empty")
    return value


def _slug(value: object, what: str, where: str, max_length: int) -> str:
    if not isinstance(value, str) or not _SLUG.match(value) or len(value) > max_length:
        raise SeedError(f"{where}: {what} {value!r} must be a lower-case slug (a-z, 0-9, '-'), at most {max_length}")
    return value


def parse_seed(data: dict[str, Any], source: str = "<seed>") -> SeedDeck:
    """Check a parsed seed document and return it as a SeedDeck, or raise SeedError."""
    deck = data.get("deck")
    if not isinstance(deck, dict):
        raise SeedError(f"{source}: a [deck] table is required")
    raw_cards = data.get("cards")
    if not isinstance(raw_cards, list) or not raw_cards:
        raise SeedError(f"{source}: at least one [[cards]] entry is required")
    cards: list[SeedCard] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cards):
        where = f"{source}: card #{index + 1}"
        if not isinstance(raw, dict):
            raise SeedError(f"{where}: must be a table")
        key = _slug(raw.get("key"), "key", where, Card._meta.get_field("key").max_length)
        where = f"{source}: card {key!r}"
        if key in seen:
            raise SeedError(f"{where}: the key is used twice")
        seen.add(key)
        tags = raw.get("tags", [])
        if not isinstance(tags, list) or not tags:
            raise SeedError(f"{where}: 'tags' must be a non-empty list of concept slugs")
        tag_names = tuple(_slug(tag, "tag", where, Tag._meta.get_field("name").max_length) for tag in tags)
        unknown = set(raw) - {"key", "tags", "question", "answer"}
        if unknown:
            raise SeedError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        cards.append(
            SeedCard(
                key=key,
                question=_text(raw, "question", where),
                answer=_text(raw, "answer", where),
                tags=tuple(dict.fromkeys(tag_names)),
                position=index,
            )
        )
    return SeedDeck(
        slug=_slug(deck.get("slug"), "deck slug", source, Deck._meta.get_field("slug").max_length),
        title=_text(deck, "title", f"{source}: [deck]"),
        description=_text(deck, "description", f"{source}: [deck]", required=False),
        cards=tuple(cards),
    )


def read_seed(path: Path) -> SeedDeck:
    """Read and check one seed file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SeedError(f"{path}: {error}") from None
    return parse_seed(data, str(path))


def seed_files(directory: Path = SEED_DIR) -> list[Path]:
    """The seed files in `directory`, in name order."""
    return sorted(directory.glob("*.toml"))


def load_deck(seed: SeedDeck, *, update: bool = True) -> LoadReport:
    """Create or update one deck and its cards (call inside a transaction)."""
    report = LoadReport(deck=seed.slug)
    deck, report.deck_created = Deck.objects.get_or_create(
        slug=seed.slug, defaults={"title": seed.title, "description": seed.description}
    )
    if not report.deck_created and (deck.title, deck.description) != (seed.title, seed.description) and update:
        deck.title, deck.description = seed.title, seed.description
        deck.save(update_fields=["title", "description"])
        report.deck_updated = True

    tags = _ensure_tags({name for card in seed.cards for name in card.tags})
    existing = {card.key: card for card in Card.objects.filter(deck=deck).prefetch_related("tags")}
    for item in seed.cards:
        card = existing.get(item.key)
        wanted_tags = {tags[name] for name in item.tags}
        if card is None:
            card = Card.objects.create(
                deck=deck, key=item.key, question=item.question, answer=item.answer, position=item.position
            )
            card.tags.set(wanted_tags)
            report.created.append(item.key)
            continue
        fields = {"question": item.question, "answer": item.answer, "position": item.position}
        stale = [name for name, value in fields.items() if getattr(card, name) != value]
        tags_differ = {tag.pk for tag in card.tags.all()} != {tag.pk for tag in wanted_tags}
        if not stale and not tags_differ:
            report.unchanged.append(item.key)
        elif not update:
            report.skipped.append(item.key)
        else:
            if stale:
                for name in stale:
                    setattr(card, name, fields[name])
                card.save(update_fields=[*stale, "updated_at"])
            if tags_differ:
                card.tags.set(wanted_tags)
            report.updated.append(item.key)
    return report


def _ensure_tags(names: set[str]) -> dict[str, Tag]:
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return {tag.name: tag for tag in Tag.objects.filter(name__in=names)}


def load_seed(decks: Iterable[SeedDeck], *, update: bool = True, dry_run: bool = False) -> list[LoadReport]:
    """Load every deck in one transaction; with `dry_run`, report and roll back."""
    with transaction.atomic():
        reports = [load_deck(deck, update=update) for deck in decks]
        if dry_run:
            transaction.set_rollback(True)
    return reports
