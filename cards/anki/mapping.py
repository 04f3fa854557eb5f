"""From Anki's notes and schedules to the app's cards and SM-2 states. No Django.

Note types (by their shape, not their names, which users rename and translate):

- cloze (Anki's cloze kind): one card per deletion (c1, c2, ...): the question holds the cloze
  field's text, the answer the first other field the answer template shows ("Back Extra");
- a normal type whose every template shows one field on the front and one other field on the
  back (`{{Front}}` / `{{FrontSide}}<hr id=answer>{{Back}}`): one card per template, so Basic
  gives one card and Basic-and-reversed two (the second asks the back);
- any other (type-in-the-answer, optional reverse, image occlusion, custom templates): one card
  per note, from its first two fields, and the importer warns, naming the note types.

Scheduling (see docs/cards.md, "Importing from Anki", for the table): Anki's ease in permille
over 1000, at least 1.30, is EF; a review card's due day counts from the collection's creation;
learning and relearning cards are due today; repetitions are the successful reviews since the
last lapse, from the revlog.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cards.cloze import cloze_numbers

from .collection import CLOZE_KIND, CardRow, Note, NoteType, RevlogRow

BASIC = "basic"
CLOZE = "cloze"
OTHER = "other"

MIN_EASINESS = Decimal("1.30")
DEFAULT_EASINESS = Decimal("2.50")
MAX_DURATION_MS = 10 * 60 * 1000  # as the review page clamps its own
TAG_MAX_LENGTH = 50

# revlog.type
REVLOG_LEARN, REVLOG_REVIEW, REVLOG_RELEARN, REVLOG_FILTERED, REVLOG_MANUAL, REVLOG_RESCHEDULED = range(6)
# cards.type
CARD_NEW, CARD_LEARNING, CARD_REVIEW, CARD_RELEARNING = range(4)
# Anki's buttons to SM-2 qualities: Again fails (below 3), Hard passes with difficulty.
QUALITY_FOR_EASE = {1: 1, 2: 3, 3: 4, 4: 5}

_REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CardText:
    """One card of a note, as the app stores it (text still as in Anki: the importer sanitises it)."""

    ord: int  # Anki's card ordinal: the template, or the deletion's number - 1
    question: str
    answer: str
    cloze: int | None = None


def _simple_sides(template: tuple[str, str], fields: Sequence[str]) -> tuple[int, int] | None:
    """(front field, back field) of a template that shows one field on each side, else None."""
    sides = []
    for side, text in enumerate(template):
        names = []
        for match in _REFERENCE.finditer(text):
            inner = match[1].strip()
            if not inner or inner[0] in "#^/!=":
                return None  # conditionals, comments, delimiters: not a simple template
            name = inner.rsplit(":", 1)[-1].strip() if ":" in inner else inner
            if ":" in inner and inner.split(":", 1)[0].strip() not in ("text",):
                return None  # type:, cloze:, furigana, hint...: shown some other way
            if side == 1 and name == "FrontSide":
                continue
            names.append(name)
        if len(names) != 1 or names[0] not in fields:
            return None
        sides.append(fields.index(names[0]))
    if sides[0] == sides[1]:
        return None
    return sides[0], sides[1]


def classify(notetype: NoteType) -> str:
    """BASIC, CLOZE or OTHER (see the module's docstring)."""
    if notetype.kind == CLOZE_KIND:
        return CLOZE
    if notetype.templates and all(_simple_sides(t, notetype.fields) for t in notetype.templates):
        return BASIC
    return OTHER


def _cloze_field(notetype: NoteType) -> int:
    for question, _ in notetype.templates:
        for match in _REFERENCE.finditer(question):
            inner = match[1].strip()
            if inner.startswith("cloze:"):
                name = inner.rsplit(":", 1)[-1].strip()
                if name in notetype.fields:
                    return notetype.fields.index(name)
    return 0


def _extra_field(notetype: NoteType, text_field: int) -> int | None:
    for _, answer in notetype.templates:
        for match in _REFERENCE.finditer(answer):
            name = match[1].strip().rsplit(":", 1)[-1].strip()
            if name in notetype.fields and notetype.fields.index(name) != text_field:
                return notetype.fields.index(name)
    others = [number for number in range(len(notetype.fields)) if number != text_field]
    return others[0] if others else None


def _field(note: Note, number: int | None) -> str:
    return note.fields[number] if number is not None and number < len(note.fields) else ""


def card_texts(note: Note, notetype: NoteType, ords: Iterable[int]) -> list[CardText]:
    """The app's cards for `note`, one per Anki card ordinal in `ords` that the note type can make.

    `ords` are the ordinals of the note's cards in the package; with none, the ones its note type
    would make (every template; every deletion).
    """
    ords = sorted(set(ords))
    kind = classify(notetype)
    if kind == CLOZE:
        text_field = _cloze_field(notetype)
        text, extra = _field(note, text_field), _field(note, _extra_field(notetype, text_field))
        numbers = cloze_numbers(text)
        wanted = ords or [number - 1 for number in numbers]
        return [CardText(ord, text, extra, ord + 1) for ord in wanted if ord + 1 in numbers]
    if kind == BASIC:
        wanted = ords or list(range(len(notetype.templates)))
        texts = []
        for ord in wanted:
            if ord < len(notetype.templates):
                sides = _simple_sides(notetype.templates[ord], notetype.fields)
                assert sides is not None  # noqa: S101 (classify() said so)
                texts.append(CardText(ord, _field(note, sides[0]), _field(note, sides[1])))
        return texts
    first = ords[0] if ords else 0
    return [CardText(first, _field(note, 0), _field(note, 1))]


def card_key(guid: str, ord: int) -> str:
    """The app's card key (a slug) for card `ord` of the note `guid`: stable across imports."""
    return f"anki-{hashlib.sha1(guid.encode('utf-8')).hexdigest()[:16]}-{ord}"  # noqa: S324 (not security)


def slug(text: str, max_length: int = TAG_MAX_LENGTH) -> str:
    """ASCII slug: accents dropped, lower case, runs of anything else one "-"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-")
    return value[:max_length].strip("-")


def tag_name(anki_tag: str) -> str:
    """An Anki tag as the app's tag: `async::event-loop` -> `async-event-loop`; "" if nothing is left.

    Each level is slugged (accents dropped, lower case, other characters a "-") and the levels are
    joined with "-"; the result is cut to 50 characters. `Async::Event_Loop` -> `async-event_loop`.
    """
    return slug("-".join(slug(level, 200) for level in anki_tag.split("::") if level.strip()))


def easiness(factor: int) -> Decimal:
    """Anki's ease (permille) as EF: /1000, two decimals (half up), at least 1.30; none yet: 2.50."""
    if factor <= 0:
        return DEFAULT_EASINESS
    return max(MIN_EASINESS, (Decimal(factor) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def answered_at(row: RevlogRow) -> dt.datetime:
    return dt.datetime.fromtimestamp(row.id / 1000, dt.UTC)


def is_answer(row: RevlogRow) -> bool:
    """A learner's answer (not a manual reschedule, which has no button)."""
    return row.ease in QUALITY_FOR_EASE and row.type not in (REVLOG_MANUAL, REVLOG_RESCHEDULED)


def repetitions(rows: Iterable[RevlogRow]) -> int:
    """Successful reviews (a review answered Hard, Good or Easy) since the last lapse (a review answered Again)."""
    count = 0
    for row in rows:
        if row.type != REVLOG_REVIEW or not is_answer(row):
            continue
        count = 0 if row.ease == 1 else count + 1
    return count


@dataclass(frozen=True, slots=True)
class Schedule:
    repetitions: int
    easiness: Decimal
    interval: int
    due_on: dt.date
    last_reviewed_on: dt.date | None
    introduced_on: dt.date | None
    last_answered_at: dt.datetime | None


def schedule(
    card: CardRow,
    rows: Sequence[RevlogRow],
    *,
    created_on: dt.date,
    today: dt.date,
    local_date: Callable[[dt.datetime], dt.date],
) -> Schedule | None:
    """The learner's SM-2 state for an Anki card; None for a new card (it comes in as new).

    `rows` are the card's revlog rows in time order, `created_on` the collection's creation date
    and `today` the date, both in the learner's zone, and `local_date` the learner's date of a moment.
    """
    if card.type == CARD_NEW:
        return None
    answers = [row for row in rows if is_answer(row)]
    if card.type == CARD_REVIEW:
        due_on = created_on + dt.timedelta(days=card.due)
        interval = max(card.interval, 0)
    else:  # learning or relearning: due today (a relearning card keeps its interval)
        due_on = today
        interval = max(card.interval, 0) if card.type == CARD_RELEARNING else 0
    last_at = answered_at(answers[-1]) if answers else None
    if answers:
        last_on, first_on = local_date(answered_at(answers[-1])), local_date(answered_at(answers[0]))
    else:  # no history in the package: reviewed when the interval began, never after today
        last_on = first_on = min(today, due_on - dt.timedelta(days=interval))
    return Schedule(
        repetitions=repetitions(rows),
        easiness=easiness(card.factor),
        interval=interval,
        due_on=due_on,
        last_reviewed_on=last_on,
        introduced_on=first_on,
        last_answered_at=last_at,
    )


def _days(interval: int) -> int:
    return interval if interval > 0 else 0  # negative: seconds, a learning step within the day


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One revlog row as the app's review log keeps it (source "import")."""

    revlog_id: int
    card_id: int
    quality: int
    answered_at: dt.datetime
    reviewed_on: dt.date
    duration_ms: int
    before: dict
    after: dict


def log_entries(rows: Sequence[RevlogRow], local_date: Callable[[dt.datetime], dt.date]) -> list[LogEntry]:
    """The answers among one card's revlog `rows` (time order), with the state before and after each.

    The states are what the revlog says: the interval in days before and after, EF after, and the
    due date after. Manual reschedules are not answers and are left out.
    """
    entries = []
    previous_on: dt.date | None = None
    for row in rows:
        if not is_answer(row):
            continue
        at = answered_at(row)
        on = local_date(at)
        interval = _days(row.interval)
        entries.append(
            LogEntry(
                revlog_id=row.id,
                card_id=row.card_id,
                quality=QUALITY_FOR_EASE[row.ease],
                answered_at=at,
                reviewed_on=on,
                duration_ms=min(max(row.time_ms, 0), MAX_DURATION_MS),
                before={
                    "interval": _days(row.last_interval),
                    "last_reviewed_on": previous_on.isoformat() if previous_on else None,
                },
                after={
                    "interval": interval,
                    "easiness": str(easiness(row.factor)),
                    "due_on": (on + dt.timedelta(days=interval)).isoformat(),
                    "last_reviewed_on": on.isoformat(),
                    "anki": {"ease": row.ease, "type": row.type},
                },
            )
        )
        previous_on = on
    return entries
