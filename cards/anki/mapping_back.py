"""From the app's cards and a learner's SM-2 states back to Anki notes, card schedules and revlog rows. No Django.

The inverse of mapping.py, so that a note imported from Anki and exported again is the same note:

- cards with one Anki guid become that note again: its cloze cards one "Cloze" note whose text keeps
  its {{c1::...}} (Card.question holds the note's text, Card.answer its "Back Extra"); a pair whose
  second card (ordinal 1) asks the first one's answer one "Basic (and reversed card)"; any other card
  one "Basic" note. The note keeps the guid; a card that no longer fits it (edited in the admin since)
  becomes a note of its own, with a guid derived from the note's guid and its ordinal;
- a card written here becomes a "Basic" note whose guid is derived from its deck and key: the same
  on every export, so Anki updates the note instead of adding it again.

Scheduling (docs/cards.md, "Exporting to Anki", has the table): a state the learner has answered
becomes a review card, EF * 1000 its factor, the interval its ivl, the due date its due day counted
from the collection's creation day; an unanswered card stays new. Answers become revlog rows,
quality 0-2 Again, 3 Hard, 4 Good, 5 Easy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from cards.cloze import cloze_numbers

from .mapping import MIN_EASINESS, REVLOG_RELEARN, REVLOG_REVIEW

BASIC = "Basic"
REVERSED = "Basic (and reversed card)"
CLOZE = "Cloze"

# SM-2's qualities as Anki's buttons: below 3 fails (Again); 3, 4, 5 pass as Hard, Good, Easy. The
# import maps the buttons back to 1, 3, 4, 5, so 3, 4 and 5 come back as they went; 0 and 2 come back 1.
EASE_FOR_QUALITY = {0: 1, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4}
AGAIN = 1

# The review log's sources (cards.review.models.ReviewLog.Source), named here to keep this module free of Django.
REVIEW, REDRILL, CHALLENGE, IMPORT = "review", "redrill", "challenge", "import"
EXPORTED_SOURCES = (REVIEW, REDRILL, CHALLENGE, IMPORT)  # not "undo": an undo row is no answer


@dataclass(frozen=True, slots=True)
class SourceCard:
    """One of the app's cards, its text already as Anki gets it (HTML)."""

    id: int
    deck: str  # the deck's slug
    key: str
    question: str
    answer: str
    cloze: int | None
    guid: str  # Card.anki_guid: "" for a card written here
    ord: int | None  # Card.anki_ord
    tags: tuple[str, ...]
    modified: int  # when its text last changed (Card.updated_at), seconds since the epoch


@dataclass(frozen=True, slots=True)
class NoteOut:
    """One Anki note to write, and which of the app's cards each of its Anki cards is."""

    notetype: str  # BASIC, REVERSED or CLOZE
    deck: str  # the slug of the deck its cards are in
    guid: str
    fields: tuple[str, str]
    tags: tuple[str, ...]
    cards: Mapping[int, int]  # Anki card ordinal (template, or cloze number - 1) -> SourceCard.id
    # Its cards' last change, as Anki's own export keeps a note's: Anki's import (update if newer) then
    # keeps what a learner edited in Anki since, and takes what changed here.
    modified: int


def derived_guid(*parts: str) -> str:
    """A stable guid from `parts`: the same parts give the same note in Anki, export after export."""
    return hashlib.sha256("\x1f".join(("studyapp", *parts)).encode("utf-8")).hexdigest()[:20]


def _tags(cards: Sequence[SourceCard]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag for card in cards for tag in card.tags))


def _modified(cards: Sequence[SourceCard]) -> int:
    return max(card.modified for card in cards)


def _basic(card: SourceCard, guid: str) -> NoteOut:
    return NoteOut(BASIC, card.deck, guid, (card.question, card.answer), card.tags, {0: card.id}, card.modified)


def _cloze(guid: str, text: str, extra: str, cards: Sequence[SourceCard]) -> NoteOut:
    """A cloze note: Anki makes one card per deletion of `text`; each of `cards` is the one its number asks."""
    numbers = cloze_numbers(text)
    ords = {card.cloze - 1: card.id for card in cards if card.cloze in numbers}
    return NoteOut(CLOZE, cards[0].deck, guid, (text, extra), _tags(cards), ords, _modified(cards))


def _anki_notes(guid: str, cards: Sequence[SourceCard]) -> list[NoteOut]:
    """The notes the cards of one imported Anki note make: that note again, if they still fit together."""
    made: list[tuple[str, NoteOut]] = []  # (what tells it apart within the Anki note, the note)
    clozes: dict[tuple[str, str], list[SourceCard]] = {}
    for card in cards:
        if card.cloze is not None:
            clozes.setdefault((card.question, card.answer), []).append(card)
    for (text, extra), group in clozes.items():
        made.append((f"c{group[0].cloze}", _cloze(guid, text, extra, group)))
    others = sorted((card for card in cards if card.cloze is None), key=lambda card: card.ord or 0)
    front = next((card for card in others if not card.ord), None)
    back = next((card for card in others if card.ord == 1), None)
    if front and back and (back.question, back.answer) == (front.answer, front.question):
        fields = (front.question, front.answer)
        ords = {0: front.id, 1: back.id}
        pair = NoteOut(REVERSED, front.deck, guid, fields, _tags([front, back]), ords, _modified([front, back]))
        made.append(("0", pair))
        others = [card for card in others if card not in (front, back)]
    made += [(str(card.ord or 0), _basic(card, guid)) for card in others]
    # The first note keeps the Anki note's guid; any other gets one of its own, so that none collide in Anki.
    return [
        note if number == 0 else dataclasses.replace(note, guid=derived_guid(guid, part))
        for number, (part, note) in enumerate(made)
    ]


def notes_for(cards: Sequence[SourceCard]) -> list[NoteOut]:
    """The Anki notes for `cards` (in the order they are introduced), each note where its first card is."""
    groups: dict[tuple[str, ...], list[SourceCard]] = {}
    for card in cards:
        if card.guid:
            key: tuple[str, ...] = ("anki", card.deck, card.guid)
        elif card.cloze is not None:  # cloze cards written here share a note by their text
            key = ("cloze", card.deck, card.question, card.answer)
        else:
            key = ("card", str(card.id))
        groups.setdefault(key, []).append(card)
    notes: list[NoteOut] = []
    for key, group in groups.items():
        if key[0] == "anki":
            notes += _anki_notes(group[0].guid, group)
        elif key[0] == "cloze":
            first = group[0]
            notes.append(_cloze(derived_guid(first.deck, first.key), first.question, first.answer, group))
        else:
            notes.append(_basic(group[0], derived_guid(group[0].deck, group[0].key)))
    # One Anki note imported into two decks, both exported: a guid is one note in Anki, so the second
    # copy gets a guid of its own.
    seen: set[str] = set()
    for number, note in enumerate(notes):
        if note.guid in seen:
            notes[number] = dataclasses.replace(note, guid=derived_guid(note.guid, note.deck))
        seen.add(notes[number].guid)
    return notes


# --- scheduling -------------------------------------------------------------------------------


def factor(easiness: Decimal | str) -> int:
    """EF as Anki's ease in permille: 2.50 -> 2500 (never below Anki's floor, 1300)."""
    return int(max(Decimal(easiness), MIN_EASINESS) * 1000)


@dataclass(frozen=True, slots=True)
class Answer:
    """One row of the learner's review log, as the export reads it."""

    source: str
    quality: int
    answered_at: dt.datetime
    reviewed_on: dt.date
    duration_ms: int | None
    before: Mapping
    after: Mapping
    anki_revlog_id: int | None


@dataclass(frozen=True, slots=True)
class RevlogOut:
    """A revlog row (id: milliseconds since the epoch, unique in the collection)."""

    id: int
    ease: int
    interval: int
    last_interval: int
    factor: int
    time_ms: int
    type: int


def _redrill(answer: Answer) -> bool:
    """A same-day re-drill: it changed nothing in the schedule (a challenge verdict can be one too)."""
    if answer.source == REDRILL:
        return True
    return (
        answer.source == CHALLENGE
        and bool(answer.before.get("redrill"))
        and answer.before.get("last_reviewed_on") == answer.reviewed_on.isoformat()
    )


def revlog_row(answer: Answer) -> RevlogOut:
    """The revlog row of one answer; an imported row goes back as Anki had it (its id, button and kind).

    Scheduled answers (and challenge verdicts) are review rows: the import counts SM-2's repetitions
    from those, so a round trip keeps them. A same-day re-drill is a relearning step, which moves nothing.
    """
    anki = answer.after.get("anki") if answer.source == IMPORT else None
    if isinstance(anki, Mapping):
        ease, kind = int(anki.get("ease", EASE_FOR_QUALITY[answer.quality])), int(anki.get("type", REVLOG_REVIEW))
    else:
        ease, kind = EASE_FOR_QUALITY[answer.quality], REVLOG_RELEARN if _redrill(answer) else REVLOG_REVIEW
    easiness = answer.after.get("easiness") or answer.before.get("easiness")
    return RevlogOut(
        id=answer.anki_revlog_id or int(answer.answered_at.timestamp() * 1000),
        ease=ease,
        interval=int(answer.after.get("interval") or 0),
        last_interval=int(answer.before.get("interval") or 0),
        factor=factor(easiness) if easiness else 0,
        time_ms=answer.duration_ms or 0,
        type=kind,
    )


@dataclass(frozen=True, slots=True)
class ReviewCard:
    """An Anki review card's scheduling fields (cards.type and cards.queue 2)."""

    interval: int
    due: int  # days since the collection's creation day
    factor: int
    reps: int
    lapses: int


def review_card(
    *,
    repetitions: int,
    easiness: Decimal,
    interval: int,
    due_on: dt.date,
    created_on: dt.date,
    rows: Sequence[RevlogOut],
) -> ReviewCard:
    """The Anki card for an answered state. Its due day counts from `created_on`, the collection's creation
    day in the learner's zone, as the import counts it back. An interval of 0 (an Anki learning card
    imported as due today) goes as 1: an Anki review card has a whole day at least."""
    lapses = sum(1 for row in rows if row.type == REVLOG_REVIEW and row.ease == AGAIN)
    return ReviewCard(
        interval=max(interval, 1),
        due=(due_on - created_on).days,
        factor=factor(easiness),
        reps=max(len(rows), repetitions),
        lapses=lapses,
    )
