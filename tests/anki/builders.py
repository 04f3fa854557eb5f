"""Anki packages built at test time with Anki's own library (the `anki` package, a test dependency).

`build(path, notes, ...)` makes a collection with the given notes (and, optionally, scheduling and
revlog rows) and exports it as a package: the current format (collection.anki21b), the legacy one
(collection.anki21), or the oldest (collection.anki2, made from a legacy package by renaming its
collection, as the issue describes). `rewrite(path, ...)` changes members of an existing package.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anki.collection import Collection, ExportAnkiPackageOptions

CURRENT, LEGACY, OLDEST = "anki21b", "anki21", "anki2"


@dataclass
class NoteSpec:
    """A note to add: its note type (Anki's stock names), fields in order, tags, and an optional hook."""

    notetype: str
    fields: Sequence[str]
    tags: Sequence[str] = ()
    deck: str = "Default"
    # Called with (collection, note) after the note is added: to schedule its cards, add revlog rows...
    then: Callable[[Collection, Any], None] | None = None
    guid: str | None = None


@dataclass
class Built:
    path: Path
    note_ids: list[int] = field(default_factory=list)


def build(
    path: Path,
    notes: Sequence[NoteSpec],
    *,
    fmt: str = CURRENT,
    setup: Callable[[Collection], None] | None = None,
) -> Built:
    """A package at `path` (an .apkg) holding `notes`, scheduling included."""
    built = Built(path)
    with tempfile.TemporaryDirectory() as workdir:
        col = Collection(str(Path(workdir) / "collection.anki2"))
        try:
            if setup:
                setup(col)
            for spec in notes:
                notetype = col.models.by_name(spec.notetype)
                assert notetype is not None, spec.notetype
                note = col.new_note(notetype)
                for number, text in enumerate(spec.fields):
                    note.fields[number] = text
                note.tags = list(spec.tags)
                if spec.guid:
                    note.guid = spec.guid
                col.add_note(note, col.decks.id(spec.deck))
                built.note_ids.append(note.id)
                if spec.then:
                    spec.then(col, note)
            options = ExportAnkiPackageOptions(
                with_scheduling=True, with_deck_configs=False, with_media=True, legacy=fmt != CURRENT
            )
            col.export_anki_package(out_path=str(path), options=options, limit=None)
        finally:
            col.close()
    if fmt == OLDEST:
        rewrite(path, rename={"collection.anki21": "collection.anki2"}, drop={"collection.anki2", "meta"})
    return built


def rewrite(
    path: Path,
    *,
    replace: dict[str, bytes] | None = None,
    rename: dict[str, str] | None = None,
    drop: set[str] | frozenset[str] = frozenset(),
    add: dict[str, bytes] | None = None,
) -> Path:
    """Change members of the package at `path` in place: drop some, rename some, replace or add contents."""
    replace, rename, add = replace or {}, rename or {}, add or {}
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist() if name not in drop}
    out: dict[str, bytes] = {}
    for name, data in members.items():
        out[rename.get(name, name)] = replace.get(name, data)
    out.update(add)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in out.items():
            target.writestr(name, data)
    return path


def schedule_review(col: Collection, note: Any, *, ivl: int, due_in: int, factor: int, ords: Sequence[int] = (0,)):
    """Make the note's cards review cards: interval `ivl` days, due `due_in` days from Anki's today."""
    for card in note.cards():
        if card.ord in ords:
            card.type = card.queue = 2
            card.ivl = ivl
            card.due = col.sched.today + due_in
            card.factor = factor
            col.update_card(card)


def add_revlog(col: Collection, card_id: int, rows: Sequence[tuple[int, int, int, int, int, int, int]]) -> None:
    """Revlog rows (id ms, ease, ivl, lastIvl, factor, time ms, type) for one card."""
    for revlog_id, ease, ivl, last_ivl, factor, time_ms, kind in rows:
        col.db.execute(
            "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) VALUES (?,?,?,?,?,?,?,?,?)",
            revlog_id, card_id, -1, ease, ivl, last_ivl, factor, time_ms, kind,
        )  # fmt: skip


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
