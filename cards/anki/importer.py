"""An .apkg into the app's models, in one transaction: `import_package(path, deck_slug=..., user=...)`.

Cards are keyed on (deck, Anki note guid, card ordinal): importing the same package again updates
them in place (text, tags) and creates no duplicates. Field HTML is sanitised on the way in with the
app's one allow-list (studyapp.markdown.sanitize_html) and stored with text_format "html"; it goes
through the same allow-list again when shown (cards/text.py).

With a user, each card's Anki schedule becomes that learner's ReviewState (mapping.schedule) and
its revlog rows their ReviewLog rows (source "import", one per revlog id and learner). A state the
learner has moved on since the import that wrote it (its version differs from imported_version),
or one that no import wrote, is never overwritten.

Images: every `<img>` of a field that names a file of the package's media is stored (cards/anki/media.py,
content-addressed under MEDIA_ROOT/cards/) and the field points at the stored copy; an image that is
missing, too large, not a PNG/JPEG/GIF/WebP (SVG included), remote or a `data:` URI is left out of the
field, with a warning in the report. Images are stored before the transaction: see media.py for why a
failed import leaving them behind is harmless. Inline styles are mapped or dropped (fields.py).

`progress(step, done, total)`, if given, is called as the import goes (every PROGRESS_EVERY notes and at
each step's start and end); the last steps run inside the transaction, so whatever it records must be
visible outside it (the admin's task writes to the cache, cards/anki/tasks.py).

Anything wrong with the package is an ImportFailure, raised before anything is written; anything
that fails while writing rolls the whole import back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from cards.models import Card, Deck, Tag
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from studyapp.markdown import sanitize_html

from . import fields, mapping, media
from .collection import Collection, CollectionError, read_collection
from .package import Extracted, Limits, MediaError, MediaReader, PackageError, extract

# request_id of an imported log row: the same for the same learner and revlog row, whatever the run.
REQUEST_NAMESPACE = uuid.UUID("5b0f5c1e-6a77-4d0f-9d8e-2f1d0c3b7a10")
DECK_TITLE_MAX = Deck._meta.get_field("title").max_length
DECK_SLUG_MAX = Deck._meta.get_field("slug").max_length
PROGRESS_EVERY = 100  # notes between two calls of the progress callback
Progress = Callable[[str, int, int], None]  # (step, done, total)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_LISTED = 5  # names quoted in one warning
_BATCH = 500  # cards per INSERT


def _no_progress(step: str, done: int, total: int) -> None:
    pass


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
    # Images the cards show, and how many of them were new files (the others were stored before).
    images: int = 0
    images_stored: int = 0
    images_left_out: int = 0

    def summary(self) -> str:
        deck = "created" if self.deck_created else "existing"
        text = (
            f"deck {self.deck} ({deck}): {self.notes} notes, {self.created} cards created, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )
        if self.images or self.images_left_out:
            text += (
                f"; images: {self.images} stored ({self.images_stored} new, "
                f"{self.images - self.images_stored} already there), {self.images_left_out} left out"
            )
        return text

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
    anki_tags: tuple[str, ...] = ()  # the same tags as Anki spells them, in the same order


def read(path: Path, limits: Limits | None = None) -> Collection:
    """The package's collection, checked: every problem with the file is an ImportFailure."""
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="apkg-") as workdir:
        return _read(path, Path(workdir), limits)[1]


def _read(path: Path, workdir: Path, limits: Limits) -> tuple[Extracted, Collection]:
    try:
        extracted = extract(path, workdir, limits)
        return extracted, read_collection(extracted.database, limits.max_field_bytes)
    except (PackageError, CollectionError) as exc:
        raise ImportFailure(str(exc)) from None


def _quoted(names: list[str]) -> str:
    shown = ", ".join(repr(name[:80]) for name in names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


# Why an image was left out of the cards, as the report's warnings say it.
_DATA_URI = "data: URIs are not imported (only the package's own files are)"
_REMOTE = "remote images are not fetched (only the package's own files are imported)"
_MISSING = "not in the package's media"
_SVG = "SVG images are not imported (an SVG can carry script)"
_NOT_AN_IMAGE = "not an image the app shows (PNG, JPEG, GIF or WebP), whatever the name says"
_UNREADABLE = "too large or damaged"


def _stored_image(reader: MediaReader, src: str) -> tuple[str | None, bool, str, str]:
    """(URL, whether the file is new, "", "") for an image stored, or (None, False, why, what) for one left out."""
    if src.lower().startswith("data:"):
        return None, False, _DATA_URI, src[:40] + "..."
    if _SCHEME.match(src) or src.startswith("//"):
        return None, False, _REMOTE, src
    # Anki writes names percent-encoded in fields (my%20cat.png); a name may also contain a '%' itself.
    name = src if src in reader else unquote(src)
    if name not in reader:
        return None, False, _MISSING, src
    try:
        data = reader.read(name)
    except MediaError as exc:
        return None, False, _UNREADABLE, str(exc)
    kind = media.image_kind(data)
    if kind is None:
        return None, False, (_SVG if media.looks_like_svg(name, data) else _NOT_AN_IMAGE), name
    url, new = media.store(data, kind)
    return url, new, "", ""


def _store_images(
    path: Path, extracted: Extracted, sources: list[str], limits: Limits, report: ImportReport, progress: Progress
) -> dict[str, str]:
    """Store the images of `sources` (the cards' `<img>` src values); return each src -> its stored URL.

    What is left out is counted and named in the report's warnings, by reason.
    """
    if not sources:
        return {}
    urls: dict[str, str] = {}
    new_files: set[str] = set()
    left_out: dict[str, list[str]] = defaultdict(list)
    progress("storing images", 0, len(sources))
    try:
        with MediaReader(path, extracted, limits) as reader:
            for number, src in enumerate(sources, 1):
                url, new, why, what = _stored_image(reader, src)
                if url is None:
                    left_out[why].append(what)
                else:
                    urls[src] = url
                    if new:
                        new_files.add(url)
                if number % PROGRESS_EVERY == 0:
                    progress("storing images", number, len(sources))
    except PackageError as exc:  # the package unpacks to more than its limit: stop
        raise ImportFailure(str(exc)) from None
    except OSError as exc:
        raise ImportFailure(f"cannot store the package's images in {media.folder()}: {exc.strerror or exc}") from None
    progress("storing images", len(sources), len(sources))
    report.images = len(set(urls.values()))
    report.images_stored = len(new_files)
    report.images_left_out = sum(len(names) for names in left_out.values())
    for why, names in left_out.items():
        listed = "; ".join(names[:_LISTED]) if why == _UNREADABLE else _quoted(names)
        report.warnings.append(f"{len(names)} image(s) left out of the cards, {why}: {listed}")
    return urls


def _plan(collection: Collection) -> tuple[list[_Planned], list[str]]:
    """The app's cards the notes make, their text still as in Anki (see _cleaned), and warnings."""
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
        spelled: dict[str, str] = {}  # app tag -> the first Anki tag that makes it
        for anki_tag in note.tags:
            if name := mapping.tag_name(anki_tag):
                spelled.setdefault(name, anki_tag)
        tags, anki_tags = tuple(spelled), tuple(spelled.values())
        for text in mapping.card_texts(note, notetype, cards_of.get(note.id, ())):
            planned.append(_Planned(note.guid, text, tags, anki_card.get((note.id, text.ord)), anki_tags))
    warnings = []
    if others:
        listed = ", ".join(
            f"{name!r} ({count} note{'s' if count != 1 else ''})" for name, count in sorted(others.items())
        )
        warnings.append(f"note types imported from their first two fields only: {listed}")
    return planned, warnings


def _cleaned(planned: list[_Planned], images: dict[str, str], progress: Progress) -> list[_Planned]:
    """The cards' texts as the app stores them: images pointed at their stored copies (or left out), inline
    styles mapped (fields.rewrite), then through the one allow-list (sanitize_html)."""
    done: dict[str, str] = {}  # a cloze note's text is every one of its cards' question

    def clean(text: str) -> str:
        if text not in done:
            done[text] = sanitize_html(fields.rewrite(text, images.get))
        return done[text]

    cleaned = []
    for number, plan in enumerate(planned):
        if number % PROGRESS_EVERY == 0:
            progress("preparing cards", number, len(planned))
        text = mapping.CardText(plan.text.ord, clean(plan.text.question), clean(plan.text.answer), plan.text.cloze)
        cleaned.append(dataclasses.replace(plan, text=text))
    progress("preparing cards", len(planned), len(planned))
    return cleaned


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
    progress: Progress | None = None,
    scratch: Path | None = None,
) -> ImportReport:
    """Import the .apkg at `path` into the deck `deck_slug` (created if missing), for `user` if given.

    `progress(step, done, total)` is called as it goes (see the module's docstring). The collection is
    unpacked into a temporary folder in `scratch` (default: the system's temporary folder).
    """
    if deck_slug is not None:
        try:
            validate_slug(deck_slug)
        except Exception:  # noqa: BLE001 (a ValidationError: say it plainly)
            raise ImportFailure(f"--deck {deck_slug!r} is not a slug (letters, digits, '-' and '_')") from None
    limits = limits or Limits()
    step = progress or _no_progress
    step("reading the package", 0, 1)
    report = ImportReport(deck="")
    with tempfile.TemporaryDirectory(prefix="apkg-", dir=scratch) as workdir:
        extracted, collection = _read(path, Path(workdir), limits)
        if not collection.notes:
            raise ImportFailure("the package has no notes (0 notes): nothing to import")
        planned, report.warnings = _plan(collection)
        if not planned:
            raise ImportFailure("the package's notes make no cards (clozes without a deletion?): nothing to import")
        sources = [
            src
            for plan in planned
            for text in (plan.text.question, plan.text.answer)
            for src in fields.image_sources(text)
        ]
        # Before the transaction: files a failed import leaves are harmless (media.py says why).
        images = _store_images(path, extracted, list(dict.fromkeys(sources)), limits, report, step)
    planned = _cleaned(planned, images, step)
    slug, title = _deck_for(collection, deck_slug)
    with transaction.atomic():
        step("writing cards", 0, len(planned))
        deck, created = Deck.objects.get_or_create(slug=slug, defaults={"title": title})
        report.deck, report.deck_created, report.notes = deck.slug, created, len(collection.notes)
        cards = _write_cards(deck, planned, report, step)
        if user is not None:
            step("writing the schedule", 0, len(collection.cards))
            by_anki_card = {plan.anki_card: cards[(plan.guid, plan.text.ord)] for plan in planned if plan.anki_card}
            _write_schedule(user, collection, by_anki_card, report, now)
            step("writing the schedule", len(collection.cards), len(collection.cards))
    return report


def _write_cards(
    deck: Deck, planned: list[_Planned], report: ImportReport, progress: Progress = _no_progress
) -> dict[tuple[str, int], Card]:
    existing = {
        (card.anki_guid, card.anki_ord): card
        for card in Card.objects.filter(deck=deck).exclude(anki_guid="").prefetch_related("tags")
    }
    spelling: dict[str, str] = {}
    for plan in planned:
        for name, anki_tag in zip(plan.tags, plan.anki_tags, strict=True):
            spelling.setdefault(name, anki_tag)
    names = sorted(spelling)
    Tag.objects.bulk_create([Tag(name=name, anki_name=spelling[name]) for name in names], ignore_conflicts=True)
    # A tag that existed before (a seed concept, an earlier import) keeps the Anki spelling it has, if any.
    unspelled = Tag.objects.filter(name__in=names, anki_name="").values_list("pk", "name")
    Tag.objects.bulk_update([Tag(pk=pk, anki_name=spelling[name]) for pk, name in unspelled], ["anki_name"])
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
    for start in range(0, len(new), _BATCH):
        Card.objects.bulk_create(new[start : start + _BATCH])
        progress("writing cards", start + min(_BATCH, len(new) - start), len(planned))
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
    progress("writing cards", len(planned), len(planned))
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
