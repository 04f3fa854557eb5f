"""An .apkg into the app's models, in one transaction: `import_package(path, deck_slug=..., user=...)`.

Cards are keyed on (deck, Anki note guid, card ordinal): importing the same package again updates
them in place (text, tags) and creates no duplicates. Field HTML is sanitised on the way in with the
app's one allow-list (studyapp.markdown.sanitize_html) and stored with text_format "html"; it goes
through the same allow-list again when shown (cards/text.py).

With a user, each card's Anki schedule becomes that learner's ReviewState (mapping.schedule) and
its revlog rows their ReviewLog rows (source "import", one per revlog id and learner). A state the
learner has moved on since the import that wrote it (its version differs from imported_version),
or one that no import wrote, is never overwritten.

Anything wrong with the package is an ImportFailure, raised before anything is written; anything
that fails while writing rolls the whole import back.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from cards.models import Card, Deck, Tag
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from studyapp.markdown import sanitize_html

from . import mapping
from .collection import Collection, CollectionError, read_collection
from .package import Limits, PackageError, extract

# request_id of an imported log row: the same for the same learner and revlog row, whatever the run.
REQUEST_NAMESPACE = uuid.UUID("5b0f5c1e-6a77-4d0f-9d8e-2f1d0c3b7a10")
DECK_TITLE_MAX = Deck._meta.get_field("title").max_length
DECK_SLUG_MAX = Deck._meta.get_field("slug").max_length


class ImportFailure(ValueError):
    """The package cannot be imported; the message says why. Nothing was written."""


@dataclass
class ImportReport:
    deck: str
    deck_created: bool = False
    notes: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    # With a user:
    states_created: int = 0
    states_updated: int = 0
    states_kept: int = 0  # the learner had moved on: left as they are
    logs_created: int = 0
    logs_existing: int = 0

    def summary(self) -> str:
        deck = "created" if self.deck_created else "existing"
        return (
            f"deck {self.deck} ({deck}): {self.notes} notes, {self.created} cards created, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )

    def schedule_summary(self) -> str:
        return (
            f"schedule: {self.states_created} states created, {self.states_updated} updated, "
            f"{self.states_kept} kept (moved on since the last import); review log: "
            f"{self.logs_created} rows imported, {self.logs_existing} already there"
        )


@dataclass(frozen=True, slots=True)
class _Planned:
    """One app card to create or update, with the Anki card it comes from (None: none in the package)."""

    guid: str
    text: mapping.CardText
    tags: tuple[str, ...]
    anki_card: int | None


def read(path: Path, limits: Limits | None = None) -> Collection:
    """The package's collection, checked: every problem with the file is an ImportFailure."""
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="apkg-") as workdir:
        try:
            extracted = extract(path, Path(workdir), limits)
            return read_collection(extracted.database, limits.max_field_bytes)
        except (PackageError, CollectionError) as exc:
            raise ImportFailure(str(exc)) from None


def _plan(collection: Collection) -> tuple[list[_Planned], list[str]]:
    cards_of: dict[int, list[int]] = defaultdict(list)
    anki_card: dict[tuple[int, int], int] = {}
    for card in collection.cards:
        cards_of[card.note_id].append(card.ord)
        anki_card[(card.note_id, card.ord)] = card.id
    planned: list[_Planned] = []
    others: Counter[str] = Counter()
    for note in collection.notes:
        notetype = collection.notetypes.get(note.notetype_id)
        if notetype is None:
            raise ImportFailure(f"note {note.guid} has a note type the package does not define ({note.notetype_id})")
        if mapping.classify(notetype) == mapping.OTHER:
            others[notetype.name] += 1
        tags = tuple(dict.fromkeys(name for name in map(mapping.tag_name, note.tags) if name))
        for text in mapping.card_texts(note, notetype, cards_of.get(note.id, ())):
            clean = mapping.CardText(text.ord, sanitize_html(text.question), sanitize_html(text.answer), text.cloze)
            planned.append(_Planned(note.guid, clean, tags, anki_card.get((note.id, text.ord))))
    warnings = []
    if others:
        listed = ", ".join(
            f"{name!r} ({count} note{'s' if count != 1 else ''})" for name, count in sorted(others.items())
        )
        warnings.append(f"note types imported from their first two fields only: {listed}")
    return planned, warnings


def _deck_for(collection: Collection, slug: str | None) -> tuple[str, str]:
    """(slug, title) of the deck to import into: the one named, else the Anki deck most cards are in."""
    counts = Counter(card.deck_id for card in collection.cards)
    name = collection.decks.get(counts.most_common(1)[0][0], "") if counts else ""
    name = name or "Anki import"
    if slug is None:
        slug = mapping.slug(name.replace("::", " "), DECK_SLUG_MAX) or "anki-import"
    return slug, name[:DECK_TITLE_MAX]


def import_package(
    path: Path,
    *,
    deck_slug: str | None = None,
    user: AbstractBaseUser | None = None,
    limits: Limits | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import the .apkg at `path` into the deck `deck_slug` (created if missing), for `user` if given."""
    if deck_slug is not None:
        try:
            validate_slug(deck_slug)
        except Exception:  # noqa: BLE001 (a ValidationError: say it plainly)
            raise ImportFailure(f"--deck {deck_slug!r} is not a slug (letters, digits, '-' and '_')") from None
    collection = read(path, limits)
    if not collection.notes:
        raise ImportFailure("the package has no notes (0 notes): nothing to import")
    planned, warnings = _plan(collection)
    if not planned:
        raise ImportFailure("the package's notes make no cards (clozes without a deletion?): nothing to import")
    slug, title = _deck_for(collection, deck_slug)
    with transaction.atomic():
        deck, created = Deck.objects.get_or_create(slug=slug, defaults={"title": title})
        report = ImportReport(deck=deck.slug, deck_created=created, notes=len(collection.notes), warnings=warnings)
        cards = _write_cards(deck, planned, report)
        if user is not None:
            by_anki_card = {plan.anki_card: cards[(plan.guid, plan.text.ord)] for plan in planned if plan.anki_card}
            _write_schedule(user, collection, by_anki_card, report, now)
    return report


def _write_cards(deck: Deck, planned: list[_Planned], report: ImportReport) -> dict[tuple[str, int], Card]:
    existing = {
        (card.anki_guid, card.anki_ord): card
        for card in Card.objects.filter(deck=deck).exclude(anki_guid="").prefetch_related("tags")
    }
    names = sorted({name for plan in planned for name in plan.tags})
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    position = (
        Card.objects.filter(deck=deck).order_by("-position").values_list("position", flat=True).first() or 0
    ) + 1
    new: list[Card] = []
    changed: list[Card] = []
    retag: dict[tuple[str, int], tuple[str, ...]] = {}
    result: dict[tuple[str, int], Card] = {}
    for plan in planned:
        key = (plan.guid, plan.text.ord)
        values = {
            "question": plan.text.question,
            "answer": plan.text.answer,
            "text_format": Card.TextFormat.HTML,
            "cloze": plan.text.cloze,
        }
        card = existing.get(key)
        if card is None:
            card = Card(
                deck=deck,
                key=mapping.card_key(plan.guid, plan.text.ord),
                anki_guid=plan.guid,
                anki_ord=plan.text.ord,
                position=position,
                **values,
            )
            position += 1
            new.append(card)
            retag[key] = plan.tags
        else:
            text_changed = any(getattr(card, name) != value for name, value in values.items())
            tags_changed = sorted(tag.name for tag in card.tags.all()) != sorted(plan.tags)
            if text_changed:
                for name, value in values.items():
                    setattr(card, name, value)
                card.updated_at = timezone.now()  # auto_now applies on save(), not in bulk_update()
                changed.append(card)
            if tags_changed:
                retag[key] = plan.tags
            if text_changed or tags_changed:
                report.updated += 1
            else:
                report.unchanged += 1
        result[key] = card
    Card.objects.bulk_create(new, batch_size=500)
    report.created = len(new)
    if changed:
        Card.objects.bulk_update(changed, ["question", "answer", "text_format", "cloze", "updated_at"], batch_size=500)
    through = Card.tags.through
    retagged = [result[key].pk for key in retag]
    through.objects.filter(card_id__in=retagged).delete()
    through.objects.bulk_create(
        [through(card_id=result[key].pk, tag_id=tag_ids[name]) for key, tags in retag.items() for name in tags],
        batch_size=1000,
    )
    return result


_STATE_FIELDS = (
    "repetitions", "easiness", "interval", "due_on", "last_reviewed_on", "introduced_on", "last_answered_at",
)  # fmt: skip


def _write_schedule(
    user: AbstractBaseUser,
    collection: Collection,
    cards: dict[int, Card],
    report: ImportReport,
    now: dt.datetime | None,
) -> None:
    """The learner's states and review log from the package's scheduling (mapping.schedule, mapping.log_entries)."""
    profile = queue.profile_for(user)
    today = queue.local_today(profile, now)
    zone = profile.zone()

    def local_date(moment: dt.datetime) -> dt.date:
        return moment.astimezone(zone).date()

    created_on = local_date(dt.datetime.fromtimestamp(collection.created, dt.UTC))
    revlog: dict[int, list] = defaultdict(list)
    for row in collection.revlog:
        revlog[row.card_id].append(row)
    states = {
        state.card_id: state
        for state in ReviewState.objects.select_for_update().filter(
            user=user, card_id__in=[card.pk for card in cards.values()]
        )
    }
    new_states: list[ReviewState] = []
    changed_states: list[ReviewState] = []
    entries: list[tuple[Card, mapping.LogEntry]] = []
    for anki_card in collection.cards:
        card = cards.get(anki_card.id)
        if card is None:
            continue
        rows = revlog.get(anki_card.id, [])
        entries += [(card, entry) for entry in mapping.log_entries(rows, local_date)]
        planned = mapping.schedule(anki_card, rows, created_on=created_on, today=today, local_date=local_date)
        if planned is None:
            continue  # a new card in Anki: new here too
        values = {name: getattr(planned, name) for name in _STATE_FIELDS}
        state = states.get(card.pk)
        if state is None:
            new_states.append(ReviewState(user=user, card=card, version=0, imported_version=0, **values))
        elif state.imported_version is None or state.imported_version != state.version:
            report.states_kept += 1  # the learner's own schedule, or moved on since the last import
        elif any(getattr(state, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(state, name, value)
            state.redrill = False
            state.version += 1
            state.imported_version = state.version
            changed_states.append(state)
    ReviewState.objects.bulk_create(new_states, batch_size=500)
    ReviewState.objects.bulk_update(
        changed_states, [*_STATE_FIELDS, "redrill", "version", "imported_version"], batch_size=500
    )
    report.states_created, report.states_updated = len(new_states), len(changed_states)
    _write_logs(user, entries, report)


def _write_logs(user: AbstractBaseUser, entries: list[tuple[Card, mapping.LogEntry]], report: ImportReport) -> None:
    ids = [entry.revlog_id for _, entry in entries]
    seen: set[int] = set()
    for start in range(0, len(ids), 5000):
        seen.update(
            ReviewLog.objects.filter(user=user, anki_revlog_id__in=ids[start : start + 5000]).values_list(
                "anki_revlog_id", flat=True
            )
        )
    rows = [
        ReviewLog(
            user=user,
            card=card,
            source=ReviewLog.Source.IMPORT,
            quality=entry.quality,
            request_id=uuid.uuid5(REQUEST_NAMESPACE, f"{user.pk}:{entry.revlog_id}"),
            before=entry.before,
            after=entry.after,
            reviewed_on=entry.reviewed_on,
            answered_at=entry.answered_at,
            duration_ms=entry.duration_ms,
            anki_revlog_id=entry.revlog_id,
        )
        for card, entry in entries
        if entry.revlog_id not in seen
    ]
    ReviewLog.objects.bulk_create(rows, batch_size=1000)
    report.logs_created, report.logs_existing = len(rows), len(seen)
