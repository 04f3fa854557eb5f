"""Bad packages: each a CommandError that says what is wrong, and nothing written (one transaction)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import zipfile
from io import StringIO
from pathlib import Path

import pytest
import zstandard
from anki.collection import Collection
from django.core.management import call_command
from django.core.management.base import CommandError

from cards.anki import importer
from cards.anki.package import Limits
from cards.models import Card, Deck, Tag
from cards.review.models import ReviewLog, ReviewState
from tests.anki.builders import CURRENT, LEGACY, NoteSpec, build, rewrite, zip_members
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def nothing_written() -> bool:
    return not (Deck.objects.exists() or Card.objects.exists() or Tag.objects.exists() or ReviewLog.objects.exists())


def fails(path: Path, message: str, *args: str) -> None:
    with pytest.raises(CommandError, match=message) as caught:
        call_command("import_apkg", str(path), *args, stdout=StringIO(), stderr=StringIO())
    assert "Nothing was imported" in str(caught.value)
    assert nothing_written()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("good")
    notes = [NoteSpec("Basic", ["Q", "A"], tags=["t"])]
    return {fmt: build(folder / f"{fmt}.apkg", notes, fmt=fmt).path for fmt in (CURRENT, LEGACY)}


def copy(source: Path, tmp_path: Path, name: str = "p.apkg") -> Path:
    target = tmp_path / name
    shutil.copy(source, target)
    return target


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.apkg"
    path.write_bytes(b"front,back\nQ,A\n")
    fails(path, "not a zip archive, or a truncated one")


def test_a_truncated_zip(good, tmp_path):
    data = good[CURRENT].read_bytes()
    path = tmp_path / "cut.apkg"
    path.write_bytes(data[: len(data) // 2])
    fails(path, "not a zip archive, or a truncated one")


def test_a_missing_file(tmp_path):
    fails(tmp_path / "nope.apkg", "cannot read .*nope.apkg")


def test_a_colpkg(tmp_path):
    (tmp_path / "c").mkdir()
    col = Collection(str(tmp_path / "c" / "collection.anki2"))
    note = col.new_note(col.models.by_name("Basic"))
    note["Front"], note["Back"] = "Q", "A"
    col.add_note(note, 1)
    path = tmp_path / "backup.colpkg"
    col.export_collection_package(str(path), include_media=False, legacy=False)
    col.close()
    fails(path, r"collection package \(\.colpkg.*export the deck as 'Anki Deck Package")


def test_an_unknown_format_version(good, tmp_path):
    path = rewrite(copy(good[CURRENT], tmp_path), replace={"meta": b"\x08\x09"})  # PackageMetadata.version = 9
    fails(path, "unknown package format version 9")


def test_a_meta_that_is_not_protobuf(good, tmp_path):
    path = rewrite(copy(good[CURRENT], tmp_path), replace={"meta": b"\xff"})
    fails(path, "meta file is not readable")


def test_no_collection(good, tmp_path):
    path = rewrite(copy(good[LEGACY], tmp_path), drop={"collection.anki21", "collection.anki2"})
    fails(path, "no collection in the package")


def test_a_corrupt_sqlite_file(good, tmp_path):
    data = zip_members(good[LEGACY])["collection.anki21"]
    garbled = data[:100] + bytes(len(data) - 100)  # the header survives, the pages are zeros
    fails(rewrite(copy(good[LEGACY], tmp_path), replace={"collection.anki21": garbled}), "corrupt package")
    fails(rewrite(copy(good[LEGACY], tmp_path, "b.apkg"), replace={"collection.anki21": b"x" * 4096}), "not an SQLite")


def test_a_corrupt_compressed_collection(good, tmp_path):
    compressed = zip_members(good[CURRENT])["collection.anki21b"]
    fails(rewrite(copy(good[CURRENT], tmp_path), replace={"collection.anki21b": b"not zstd"}), "not valid zstd")
    cut = rewrite(copy(good[CURRENT], tmp_path, "cut.apkg"), replace={"collection.anki21b": compressed[:40]})
    fails(cut, r"collection.anki21b is not an SQLite database \(a corrupt package\)")
    sqlite_bytes = zstandard.ZstdDecompressor().decompress(compressed, max_output_size=1 << 26)
    garbled = zstandard.ZstdCompressor().compress(sqlite_bytes[:100] + bytes(len(sqlite_bytes) - 100))
    fails(rewrite(copy(good[CURRENT], tmp_path, "b.apkg"), replace={"collection.anki21b": garbled}), "corrupt")


def test_a_collection_that_is_not_anki(good, tmp_path):
    database = tmp_path / "other.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE t (x)")
    path = rewrite(copy(good[LEGACY], tmp_path), replace={"collection.anki21": database.read_bytes()})
    fails(path, "not an Anki collection")


def _media_entries(*names: str) -> bytes:
    """zstd(MediaEntries { repeated MediaEntry entries = 1 { string name = 1; uint32 size = 2 } })."""
    message = b""
    for name in names:
        raw = name.encode()
        entry = b"\x0a" + bytes([len(raw)]) + raw + b"\x10\x01"
        message += b"\x0a" + bytes([len(entry)]) + entry
    return zstandard.ZstdCompressor().compress(message)


@pytest.mark.parametrize("name", ["../evil.txt", "sub/dir.png", "..\\win.png", "/etc/passwd", "C:evil"])
def test_a_media_name_with_a_path(good, tmp_path, name):
    media = json.dumps({"0": name}).encode()
    legacy = rewrite(copy(good[LEGACY], tmp_path), replace={"media": media}, add={"0": b"x"})
    fails(legacy, "media name with a path")
    current = rewrite(copy(good[CURRENT], tmp_path, "c.apkg"), replace={"media": _media_entries("ok.png", name)})
    fails(current, "media name with a path")


def test_a_member_with_a_path(good, tmp_path):
    fails(rewrite(copy(good[LEGACY], tmp_path), add={"../escape": b"x"}), "has a path: '../escape'")


def test_too_many_members(good, tmp_path):
    path = copy(good[LEGACY], tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        for number in range(Limits().max_members):
            archive.writestr(str(number), b"")
    fails(path, "more than the limit of 20,000")


def test_too_large_unpacked_from_the_headers(good, tmp_path):
    path = rewrite(copy(good[LEGACY], tmp_path), add={"0": bytes(3_000_000)})  # deflates to a few KB
    assert path.stat().st_size < 100_000
    with pytest.raises(importer.ImportFailure, match="unpacks to 3,.* bytes, more than the limit of 2,000,000"):
        importer.import_package(path, limits=Limits(max_unpacked_bytes=2_000_000))
    assert nothing_written()


def test_a_zstd_bomb_is_stopped_while_reading(good, tmp_path):
    bomb = zstandard.ZstdCompressor(level=19).compress(b"SQLite format 3\x00" + bytes(20_000_000))
    path = rewrite(copy(good[CURRENT], tmp_path), replace={"collection.anki21b": bomb})
    total = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    assert total < 1_000_000  # the headers look harmless
    with pytest.raises(importer.ImportFailure, match="unpacks to more than the limit of 5,000,000 bytes"):
        importer.import_package(path, limits=Limits(max_unpacked_bytes=5_000_000))
    assert nothing_written()


def test_no_notes(tmp_path):
    fails(build(tmp_path / "empty.apkg", []).path, r"no notes \(0 notes\)")


def test_a_field_over_the_size_limit(tmp_path):
    big = "<p>" + "x" * (Limits().max_field_bytes + 1) + "</p>"
    path = build(tmp_path / "big.apkg", [NoteSpec("Basic", ["Q", "A"]), NoteSpec("Basic", ["Q2", big])]).path
    fails(path, r"field 'Back' is 262,152 bytes, over the limit of 262,144")


def test_a_failure_while_writing_rolls_everything_back(good, monkeypatch):
    user = make_user()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_write_logs", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        call_command("import_apkg", str(good[CURRENT]), "--user", user.username, stdout=io.StringIO())
    assert nothing_written() and not ReviewState.objects.exists()
