"""Decks as an Anki package (.apkg), written by Anki's own library: `export_decks(decks, path, user=None)`.

The package is made as Anki makes one: a fresh collection in a temporary folder, the notes added
to it (mapping_back.py says which), then `Collection.export_anki_package`. Each deck is an Anki deck
named after its title. Text goes as Anki shows it: a card written here in Markdown as HTML that needs
no stylesheet (code highlighted with inline styles, studyapp.markdown.render_markdown_standalone), a
card imported from Anki as it is stored.

The note types are Anki's stock Basic, Basic (and reversed card) and Cloze, with fixed ids: Anki takes
a note in a package as an update of the one it has only when guid and note type both match, so every
export must carry the same note types.

With a user, that learner's schedule and review log go too (mapping_back.py; docs/cards.md,
"Exporting to Anki"), and only that learner's. The file appears whole or not at all: the package is
written under a temporary name in the same folder and renamed.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
import secrets
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from anki.collection import AddNoteRequest, Collection, ExportAnkiPackageOptions
from anki.errors import BackendIOError
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from cards.models import Card, Deck
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from studyapp.markdown import render_markdown_standalone

from . import mapping_back, media
from .mapping_back import NoteOut, SourceCard

# Fixed note type ids (Anki's are creation times in ms: these are in 2017, before this app existed).
NOTETYPE_IDS = {
    mapping_back.BASIC: 1_500_000_000_001,
    mapping_back.REVERSED: 1_500_000_000_002,
    mapping_back.CLOZE: 1_500_000_000_003,
}
CARD_REVIEW = 2  # cards.type and cards.queue of a review card
ANKI_ROLLOVER_HOUR = 4  # Anki's default: its day begins at 4 am local time (config "rollover")


class ExportFailure(ValueError):
    """The package cannot be written where asked; the message says why. Nothing was written."""


@dataclass
class ExportReport:
    path: Path
    decks: list[str]
    notes: Counter[str] = field(default_factory=Counter)  # note type -> notes
    cards: int = 0
    user: str | None = None
    scheduled: int = 0  # cards with the learner's schedule (review cards in Anki); the others are new
    revlog: int = 0
    images: int = 0  # image files packed
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {name}" for name, count in sorted(self.notes.items()))
        text = (
            f"{', '.join(self.decks)} -> {self.path}: {sum(self.notes.values())} notes"
            f"{f' ({kinds})' if kinds else ''}, {self.cards} cards"
        )
        if self.user is not None:
            text += (
                f"; {self.user}'s schedule: {self.scheduled} cards scheduled, {self.cards - self.scheduled} new; "
                f"review log: {self.revlog} rows"
            )
        if self.images:
            text += f"; {self.images} image{'s' if self.images != 1 else ''}"
        return text


def export_deck(deck: Deck, out_path: Path, *, user: AbstractBaseUser | None = None) -> ExportReport:
    """Write `deck` as an Anki package at `out_path`, with `user`'s schedule and review log if given."""
    return export_decks([deck], out_path, user=user)


def export_decks(decks: Sequence[Deck], out_path: Path, *, user: AbstractBaseUser | None = None) -> ExportReport:
    """Write `decks`, each its own Anki deck, as one Anki package at `out_path` (see the module's docstring)."""
    out_path = Path(out_path)
    partial = _reserve(out_path)
    mode = stat.S_IMODE(partial.stat().st_mode)  # as the umask makes a new file; Anki writes its own 0600
    try:
        report = _export(decks, partial, user)
        partial.chmod(mode)
        partial.replace(out_path)
    except (OSError, BackendIOError) as exc:
        raise ExportFailure(f"cannot write {out_path}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    report.path = out_path
    return report


def _reserve(path: Path) -> Path:
    """The temporary file next to `path` the package is written to, created now: every problem with
    `path` is an ExportFailure before any work, and the rename at the end is atomic (same folder)."""
    if path.is_dir():
        raise ExportFailure(f"{path} is a directory: give the package's file name, e.g. {path / 'deck.apkg'}")
    if path.suffix.lower() != ".apkg":
        # Anki goes by the name: a .colpkg would replace the learner's whole collection.
        raise ExportFailure(f"{path.name} does not end in .apkg: Anki opens deck packages by that name")
    if not path.parent.is_dir():
        raise ExportFailure(f"no such directory: {path.parent}")
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        partial.open("xb").close()
    except OSError as exc:
        raise ExportFailure(f"cannot write in {path.parent}: {exc.strerror or exc}") from None
    return partial


def _export(decks: Sequence[Deck], path: Path, user: AbstractBaseUser | None) -> ExportReport:
    cards = list(Card.objects.filter(deck__in=decks).select_related("deck").prefetch_related("tags"))
    cards.sort(key=lambda card: (card.deck.title, card.deck.slug, card.position, card.pk))
    images: set[str] = set()
    notes = mapping_back.notes_for([_source(card, images) for card in cards])
    report = ExportReport(path, [deck.slug for deck in decks], cards=len(cards))
    report.notes.update(note.notetype for note in notes)
    with tempfile.TemporaryDirectory(prefix="apkg-export-") as workdir:
        col = Collection(str(Path(workdir) / "collection.anki2"))
        try:
            anki_cards = _add_notes(col, notes, _deck_names(decks))
            if user is not None:
                _add_schedule(col, user, decks, anki_cards, report)
            _pack_images(images, Path(col.media.dir()), report)
            options = ExportAnkiPackageOptions(
                with_scheduling=user is not None, with_deck_configs=False, with_media=True, legacy=False
            )
            col.export_anki_package(out_path=str(path), options=options, limit=None)
        finally:
            col.close()
    return report


# A stored image in a card's (sanitised) HTML: the allow-list lets `<img>` through only with a src of
# this form, and escapes any "<img" in text, so this matches the images and nothing else.
_STORED_IMAGE = re.compile(
    r'(<img\b[^>]*?\bsrc=")' + re.escape(media.url_of("")) + r"(?P<name>[0-9a-f]{64}\.(?:png|jpg|gif|webp))\""
)


def _text(text: str, text_format: str, images: set[str]) -> str:
    html = render_markdown_standalone(text) if text_format == Card.TextFormat.MARKDOWN else text

    def packed(match: re.Match[str]) -> str:
        # Anki finds a note's media by file name, in the package's media folder (see _pack_images).
        images.add(match["name"])
        return f'{match[1]}{match["name"]}"'

    return _STORED_IMAGE.sub(packed, html)


def _pack_images(names: set[str], into: Path, report: ExportReport) -> None:
    """Copy the images the notes show into the collection's media folder: the package carries them."""
    missing = []
    for name in sorted(names):
        try:
            shutil.copyfile(media.folder() / name, into / name)
        except FileNotFoundError:
            missing.append(name)
        else:
            report.images += 1
    if missing:
        report.warnings.append(
            f"{len(missing)} image file(s) missing from MEDIA_ROOT, left out of the package: {', '.join(missing[:5])}"
        )


def _source(card: Card, images: set[str]) -> SourceCard:
    return SourceCard(
        id=card.pk,
        deck=card.deck.slug,
        key=card.key,
        question=_text(card.question, card.text_format, images),
        answer=_text(card.answer, card.text_format, images),
        cloze=card.cloze,
        guid=card.anki_guid,
        ord=card.anki_ord,
        # As Anki spelled them when they came from an import (`Async::Event_Loop`), else the app's names.
        tags=tuple(tag.anki_name or tag.name for tag in card.tags.all()),
        modified=int(card.updated_at.timestamp()),
    )


def _deck_names(decks: Sequence[Deck]) -> dict[str, str]:
    """Each deck's Anki name by its slug: its title, or title and slug where two decks share a title."""
    titles = Counter(deck.title for deck in decks)
    return {deck.slug: deck.title if titles[deck.title] == 1 else f"{deck.title} ({deck.slug})" for deck in decks}


def _notetypes(col: Collection) -> dict[str, dict]:
    """Anki's stock note types, with fixed ids in place of the random ones a new collection gives them.

    Their fields and templates get no ids at all, as in note types made before Anki had them: Anki then
    matches them by name, so "Merge note types" on import can update notes of the learner's own Basic.
    """
    made = {}
    for name, notetype_id in NOTETYPE_IDS.items():
        stock = col.models.by_name(name)
        notetype = copy.deepcopy(stock)
        col.models.remove(stock["id"])
        notetype["id"] = notetype_id
        for part in [*notetype["flds"], *notetype["tmpls"]]:
            part["id"] = None
        col.models.update(notetype)  # keeps the id it is given (add_dict would make a new one)
        made[name] = col.models.get(notetype_id)
    return made


def _add_notes(col: Collection, notes: list[NoteOut], deck_names: dict[str, str]) -> dict[int, int]:
    """Add the notes (new cards come in the order they are added); return the app's card id -> Anki card id."""
    notetypes = _notetypes(col)
    deck_ids = {slug: col.decks.id(name) for slug, name in deck_names.items()}
    requests = []
    for spec in notes:
        note = col.new_note(notetypes[spec.notetype])
        note.fields[0], note.fields[1] = spec.fields
        note.tags = list(spec.tags)
        note.guid = spec.guid
        requests.append(AddNoteRequest(note=note, deck_id=deck_ids[spec.deck]))
    col.add_notes(requests)  # one transaction for all of them (add_note would make one each)
    # add_notes stamps every note "now": each gets its cards' last change instead (NoteOut.modified).
    col.db.executemany(
        "UPDATE notes SET mod = ? WHERE id = ?",
        [(spec.modified, r.note.id) for spec, r in zip(notes, requests, strict=True)],
    )
    anki_card = {(note_id, ord): card_id for card_id, note_id, ord in col.db.all("SELECT id, nid, ord FROM cards")}
    return {
        card_id: anki_card[(request.note.id, ord)]
        for spec, request in zip(notes, requests, strict=True)
        for ord, card_id in spec.cards.items()
        if (request.note.id, ord) in anki_card
    }


def _add_schedule(
    col: Collection, user: AbstractBaseUser, decks: Sequence[Deck], anki_cards: dict[int, int], report: ExportReport
) -> None:
    """The learner's answered states as review cards and their answers as revlog rows; only theirs.

    `anki_cards` maps the app's cards to Anki's; a card without one (a cloze card whose deletion its text
    no longer has) has no schedule in Anki."""
    report.user = user.get_username()
    profile = queue.profile_for(user)
    states = [
        state
        for state in ReviewState.objects.for_user(user).filter(card__deck__in=decks)
        if state.card_id in anki_cards and state.last_reviewed_on is not None  # never answered: still new
    ]
    logs = ReviewLog.objects.filter(
        user=user,
        card__deck__in=decks,
        source__in=mapping_back.EXPORTED_SOURCES,
        quality__isnull=False,
        undone_by__isnull=True,  # an undone answer counts nowhere
    ).order_by("answered_at", "id")
    rows: dict[int, list[mapping_back.RevlogOut]] = {}
    used: set[int] = set()
    for log in logs:
        if log.card_id not in anki_cards:
            continue
        row = mapping_back.revlog_row(
            mapping_back.Answer(
                log.source, log.quality, log.answered_at, log.reviewed_on, log.duration_ms, log.before, log.after,
                log.anki_revlog_id,
            )
        )  # fmt: skip
        while row.id in used:  # two answers in one millisecond: revlog ids are unique
            row = dataclasses.replace(row, id=row.id + 1)
        used.add(row.id)
        rows.setdefault(log.card_id, []).append(row)
    # The collection starts on the learner's day (never after a due date), at noon in their zone: Anki
    # counts review days from that day, and so does the import back here. Anki's own day begins at its
    # rollover hour (4 am): before it, Anki is still on yesterday, and a collection begun after Anki's
    # today would count its due days from a today it has not reached (one day late).
    now = timezone.now().astimezone(profile.zone())
    anki_today = (now - dt.timedelta(hours=col.get_config("rollover", ANKI_ROLLOVER_HOUR))).date()
    created_on = min([queue.local_today(profile, now), anki_today, *(state.due_on for state in states)])
    noon = dt.datetime.combine(created_on, dt.time(12), profile.zone())
    col.crt = int(noon.timestamp())
    col.set_config("creationOffset", -int(noon.utcoffset().total_seconds()) // 60)  # minutes west of UTC
    cards = []
    for state in states:
        review = mapping_back.review_card(
            repetitions=state.repetitions,
            easiness=state.easiness,
            interval=state.interval,
            due_on=state.due_on,
            created_on=created_on,
            rows=rows.get(state.card_id, []),
        )
        card = col.get_card(anki_cards[state.card_id])
        card.type = card.queue = CARD_REVIEW
        card.ivl, card.due, card.factor, card.reps, card.lapses = (
            review.interval, review.due, review.factor, review.reps, review.lapses,
        )  # fmt: skip
        cards.append(card)
    col.update_cards(cards)
    report.scheduled = len(states)
    revlog = [
        (row.id, anki_cards[card_id], -1, row.ease, row.interval, row.last_interval, row.factor, row.time_ms, row.type)
        for card_id, card_rows in rows.items()
        for row in card_rows
    ]
    # No API adds revlog rows (Anki writes them as it reviews): one statement for all of them.
    col.db.executemany(
        "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) VALUES (?,?,?,?,?,?,?,?,?)", revlog
    )
    report.revlog = len(revlog)
