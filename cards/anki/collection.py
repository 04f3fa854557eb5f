"""Reading an Anki collection (SQLite): note types, notes, cards, the review log. No Django.

Two schemas: 18 (collection.anki21b; note types, fields and templates in tables of their own, with
protobuf configs, and names that need a `unicase` collation to be queried) and 11 (collection.anki21
and collection.anki2; note types and decks as JSON in the `col` row). The database is opened
read-only; anything SQLite cannot read is a CollectionError.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import protobuf

SCHEMAS = range(11, 19)  # 11: legacy collections; 18: the current one
CLOZE_KIND = "cloze"
NORMAL_KIND = "normal"
FIELD_SEPARATOR = "\x1f"


class CollectionError(ValueError):
    """A collection that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class NoteType:
    id: int
    name: str
    kind: str  # NORMAL_KIND or CLOZE_KIND
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]  # (question format, answer format) by ordinal


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    guid: str
    notetype_id: int
    tags: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CardRow:
    id: int
    note_id: int
    deck_id: int
    ord: int
    type: int  # 0 new, 1 learning, 2 review, 3 relearning
    queue: int
    due: int  # review cards: days since the collection's creation
    interval: int  # days (review cards)
    factor: int  # ease, permille
    reps: int
    lapses: int


@dataclass(frozen=True, slots=True)
class RevlogRow:
    id: int  # milliseconds since the epoch: when the answer was given
    card_id: int
    ease: int  # 1 again, 2 hard, 3 good, 4 easy; 0 for a manual reschedule
    interval: int  # after: days if positive, seconds if negative (learning)
    last_interval: int
    factor: int
    time_ms: int
    type: int  # 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled


@dataclass(frozen=True, slots=True)
class Collection:
    created: int  # crt: the collection's creation, seconds since the epoch
    schema: int
    notetypes: dict[int, NoteType]
    decks: dict[int, str]  # id -> name, levels joined by "::"
    notes: tuple[Note, ...]
    cards: tuple[CardRow, ...]
    revlog: tuple[RevlogRow, ...]


def _unicase(a: str, b: str) -> int:
    a, b = a.casefold(), b.casefold()
    return (a > b) - (a < b)


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CollectionError(f"cannot open the collection: {exc}") from None
    with closing(connection):
        connection.create_collation("unicase", _unicase)
        yield connection


def read_collection(path: Path, max_field_bytes: int) -> Collection:
    """Everything the importer needs from the collection at `path` (an unpacked SQLite file)."""
    with _connect(path) as db:
        try:
            return _read(db, max_field_bytes)
        except sqlite3.DatabaseError as exc:
            raise CollectionError(
                f"the collection is not a readable SQLite database ({exc}): a corrupt package"
            ) from None


def _read(db: sqlite3.Connection, max_field_bytes: int) -> Collection:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"col", "notes", "cards", "revlog"} - tables
    if missing:
        raise CollectionError(f"not an Anki collection: no {', '.join(sorted(missing))} table")
    row = db.execute("SELECT crt, ver, models, decks FROM col").fetchone()
    if row is None:
        raise CollectionError("not an Anki collection: its col table is empty")
    created, schema, models_json, decks_json = row
    if schema not in SCHEMAS:
        raise CollectionError(
            f"unknown collection schema version {schema}: this importer reads 11 to 18; update the app"
        )
    if "notetypes" in tables:
        notetypes, decks = _notetypes_v18(db), _decks_v18(db)
    else:
        notetypes, decks = _notetypes_legacy(models_json), _decks_legacy(decks_json)
    notes = tuple(_notes(db, notetypes, max_field_bytes))
    cards = tuple(
        CardRow(*row)
        for row in db.execute(
            "SELECT id, nid, did, ord, type, queue, due, ivl, factor, reps, lapses FROM cards ORDER BY nid, ord"
        )
    )
    revlog = tuple(
        RevlogRow(*row)
        for row in db.execute("SELECT id, cid, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id")
    )
    return Collection(int(created), int(schema), notetypes, decks, notes, cards, revlog)


def _notes(db: sqlite3.Connection, notetypes: dict[int, NoteType], max_field_bytes: int) -> Iterator[Note]:
    for note_id, guid, mid, tags, flds in db.execute("SELECT id, guid, mid, tags, flds FROM notes ORDER BY id"):
        fields = tuple(str(flds).split(FIELD_SEPARATOR))
        for number, text in enumerate(fields):
            size = len(text.encode("utf-8"))
            if size > max_field_bytes:
                notetype = notetypes.get(mid)
                name = notetype.fields[number] if notetype and number < len(notetype.fields) else f"#{number + 1}"
                raise CollectionError(
                    f"note {guid}: its field {name!r} is {size:,} bytes, over the limit of {max_field_bytes:,}"
                )
        yield Note(int(note_id), str(guid), int(mid), tuple(str(tags).split()), fields)


def _notetypes_v18(db: sqlite3.Connection) -> dict[int, NoteType]:
    fields: dict[int, list[str]] = {}
    for ntid, name in db.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
        fields.setdefault(ntid, []).append(str(name))
    templates: dict[int, list[tuple[str, str]]] = {}
    for ntid, config in db.execute("SELECT ntid, config FROM templates ORDER BY ntid, ord"):
        message = _proto(config, "a card template")
        templates.setdefault(ntid, []).append((protobuf.first_str(message, 1), protobuf.first_str(message, 2)))
    notetypes = {}
    for ntid, name, config in db.execute("SELECT id, name, config FROM notetypes"):
        kind = CLOZE_KIND if protobuf.first_int(_proto(config, "a note type"), 1) == 1 else NORMAL_KIND
        notetypes[ntid] = NoteType(ntid, str(name), kind, tuple(fields.get(ntid, ())), tuple(templates.get(ntid, ())))
    return notetypes


def _proto(data: Any, what: str) -> dict[int, list[int | bytes]]:
    try:
        return protobuf.fields(bytes(data or b""))
    except protobuf.ProtobufError as exc:
        raise CollectionError(f"{what}'s settings are not readable ({exc})") from None


def _decks_v18(db: sqlite3.Connection) -> dict[int, str]:
    return {deck_id: str(name).replace("\x1f", "::") for deck_id, name in db.execute("SELECT id, name FROM decks")}


def _json(text: str, what: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise CollectionError(f"the collection's {what} are not readable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CollectionError(f"the collection's {what} are not a JSON object")
    return value


def _notetypes_legacy(models_json: str) -> dict[int, NoteType]:
    notetypes = {}
    try:
        for key, model in _json(models_json, "note types").items():
            fields = tuple(str(field["name"]) for field in sorted(model["flds"], key=lambda field: field["ord"]))
            templates = tuple(
                (str(t.get("qfmt", "")), str(t.get("afmt", ""))) for t in sorted(model["tmpls"], key=lambda t: t["ord"])
            )
            kind = CLOZE_KIND if model.get("type") == 1 else NORMAL_KIND
            notetypes[int(key)] = NoteType(int(key), str(model["name"]), kind, fields, templates)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CollectionError(f"the collection's note types are not readable ({exc!r})") from None
    return notetypes


def _decks_legacy(decks_json: str) -> dict[int, str]:
    try:
        return {int(key): str(deck["name"]) for key, deck in _json(decks_json, "decks").items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise CollectionError(f"the collection's decks are not readable ({exc!r})") from None
