"""An .apkg file: a zip holding a collection (SQLite), a media map and the media files. No Django.

`extract(path, workdir)` checks the package and writes its newest collection, decompressed, to
`workdir`; every problem is a PackageError whose message names it, raised before anything is
imported. Checked, in this order:

- the name: a `.colpkg` is a whole collection (a backup), not a deck package;
- the zip itself (not a zip, or a truncated one: its central directory is at the end);
- from the headers, before anything is unpacked: the member count, the total unpacked size,
  and member names (plain file names only);
- `meta` (protobuf PackageMetadata): the format version, 1 (collection.anki2), 2 (collection.anki21)
  or 3 (collection.anki21b, zstd); no meta means a legacy package;
- the media map (`media`: JSON in legacy packages, zstd protobuf MediaEntries in version 3): every
  name a plain file name, no `../`, no folder, no NUL;
- while unpacking: the bytes actually read, decompressed zstd included, against the same total
  limit (a header can lie).

Media files are read one at a time afterwards, by name, through `MediaReader` (only the images
the notes show are wanted): each against the same total, then a per-file and a per-package limit
on media (`Limits.max_media_file_bytes`, `max_media_bytes`). An image over those is a MediaError,
which the importer turns into a warning; only the total (a zip bomb) stops the import. In a
version 3 package each media file is zstd-compressed on its own, under its index in the media list
("0", "1"...); in legacy packages the media map's keys are the members' names.

The newest collection present is read: collection.anki21b, else collection.anki21, else
collection.anki2 (in new packages that one is a placeholder saying "please update").
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from . import protobuf

NEWEST_FIRST = ("collection.anki21b", "collection.anki21", "collection.anki2")
COLLECTION_FOR_VERSION = {1: "collection.anki2", 2: "collection.anki21", 3: "collection.anki21b"}
SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 1 << 16


class PackageError(ValueError):
    """A package that cannot be imported; the message says why, for the person importing it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a package may unpack to: checked from the zip's headers first, then while reading."""

    max_members: int = 20_000
    max_unpacked_bytes: int = 1 << 30  # 1 GiB, collection and media together
    max_field_bytes: int = 256 * 1024  # one note field, UTF-8 (checked by the collection reader)
    max_media_file_bytes: int = 10 * 1024 * 1024  # one image, unpacked: a larger one is left out, with a warning
    max_media_bytes: int = 512 * 1024 * 1024  # the images one import stores, together


@dataclass(frozen=True, slots=True)
class Extracted:
    """The package's collection, unpacked to `database`, and what else the package said."""

    database: Path
    member: str  # which collection file it came from
    format_version: int  # 1, 2 or 3
    media_names: tuple[str, ...]
    media_members: dict[str, str] = field(default_factory=dict)  # media name -> the zip member holding it
    unpacked: int = 0  # bytes unpacked so far, against Limits.max_unpacked_bytes


class MediaError(ValueError):
    """One media file that cannot be used (too large, damaged); the message says why. The import goes on."""


def _version(archive: zipfile.ZipFile, names: set[str]) -> int:
    if "meta" not in names:
        return 2 if "collection.anki21" in names else 1
    try:
        meta = protobuf.fields(archive.read("meta"))
    except protobuf.ProtobufError:
        raise PackageError("its meta file is not readable (not an Anki package, or a damaged one)") from None
    version = protobuf.first_int(meta, 1)
    if version not in COLLECTION_FOR_VERSION:
        raise PackageError(
            f"unknown package format version {version}: this importer reads versions 1 to 3 "
            "(collection.anki2, collection.anki21, collection.anki21b); export again from Anki, or update the app"
        )
    return version


def check_media_name(name: str) -> None:
    """A media name must be a plain file name: it becomes a file's name, so no path may sneak in."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or ".." in name.replace("\\", "/").split("/")
        or (len(name) > 1 and name[1] == ":")
    ):
        raise PackageError(f"media name with a path: {name!r} (media names must be plain file names)")


class _Budget:
    """The bytes the package may still unpack to, counted as they are read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise PackageError(f"the package unpacks to more than the limit of {self.limit:,} bytes (a zip bomb?)")


def _copy(source: BinaryIO, target: BinaryIO, budget: _Budget) -> None:
    while chunk := source.read(_CHUNK):
        budget.take(len(chunk))
        target.write(chunk)


def _read_member(archive: zipfile.ZipFile, name: str, budget: _Budget) -> bytes:
    with archive.open(name) as member:
        data = bytearray()
        while chunk := member.read(_CHUNK):
            budget.take(len(chunk))
            data += chunk
    return bytes(data)


def _zstd_reader(data: BinaryIO) -> BinaryIO:
    return zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)


def _media_names(archive: zipfile.ZipFile, names: set[str], version: int, budget: _Budget) -> dict[str, str]:
    """The media list: each media name with the zip member that holds its bytes."""
    if "media" not in names:
        return {}
    raw = _read_member(archive, "media", budget)
    try:
        if version == 3:
            with _zstd_reader(io.BytesIO(raw)) as reader:
                data = bytearray()
                while chunk := reader.read(_CHUNK):
                    budget.take(len(chunk))
                    data += chunk
            entries = protobuf.fields(bytes(data)).get(1, [])
            # Anki reads entry number i from the member named str(i) (rslib: SafeMediaEntry.fetch_file).
            media = [
                (protobuf.first_str(protobuf.fields(entry), 1), str(index))
                for index, entry in enumerate(entries)
                if isinstance(entry, bytes)
            ]
        else:
            mapping = json.loads(raw.decode("utf-8") or "{}")
            if not isinstance(mapping, dict):
                raise ValueError("not a JSON object")
            media = [(str(value), str(key)) for key, value in mapping.items()]
    except (ValueError, protobuf.ProtobufError, zstandard.ZstdError) as exc:
        raise PackageError(f"its media list is not readable ({exc})") from None
    for name, _ in media:
        check_media_name(name)
    return dict(media)


def extract(path: Path, workdir: Path, limits: Limits | None = None) -> Extracted:
    """Check the package at `path` and unpack its newest collection into `workdir`."""
    limits = limits or Limits()
    if path.suffix.lower() == ".colpkg":
        raise PackageError(
            f"{path.name} is a collection package (.colpkg: a whole Anki profile's backup), not a deck package; "
            "in Anki, export the deck as 'Anki Deck Package (*.apkg)' and import that"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
            raise PackageError(f"cannot read {path}: {exc.strerror}") from None
        raise PackageError(f"{path.name} is not a zip archive, or a truncated one: not an Anki package") from None
    with archive:
        try:
            return _extract(archive, workdir, limits)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise PackageError(f"{path.name} is a damaged zip archive ({exc})") from None
        except zipfile.LargeZipFile as exc:  # pragma: no cover (zip64 is allowed by default)
            raise PackageError(str(exc)) from None


def _extract(archive: zipfile.ZipFile, workdir: Path, limits: Limits) -> Extracted:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise PackageError(f"the package has {len(infos):,} files, more than the limit of {limits.max_members:,}")
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_unpacked_bytes:
        raise PackageError(
            f"the package unpacks to {declared:,} bytes, more than the limit of {limits.max_unpacked_bytes:,}"
        )
    for info in infos:
        name = info.filename
        if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
            raise PackageError(f"a file in the package has a path: {name!r} (an Anki package has none)")
    names = {info.filename for info in infos}
    version = _version(archive, names)
    budget = _Budget(limits.max_unpacked_bytes)
    media = _media_names(archive, names, version, budget)
    member = next((name for name in NEWEST_FIRST if name in names), None)
    if member is None:
        raise PackageError("no collection in the package (collection.anki21b, collection.anki21 or collection.anki2)")
    if "meta" in names and version == 3 and member != COLLECTION_FOR_VERSION[3]:
        raise PackageError("the package says format version 3 but has no collection.anki21b")
    database = workdir / "collection.sqlite"
    with archive.open(member) as source, database.open("wb") as target:
        if member.endswith("b"):
            try:
                with _zstd_reader(source) as reader:
                    _copy(reader, target, budget)
            except zstandard.ZstdError as exc:
                raise PackageError(f"{member} is not valid zstd-compressed data ({exc})") from None
        else:
            _copy(source, target, budget)
    with database.open("rb") as head:
        if head.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise PackageError(f"{member} is not an SQLite database (a corrupt package)")
    return Extracted(
        database=database,
        member=member,
        format_version=version,
        media_names=tuple(media),
        media_members=media,
        unpacked=budget.used,
    )


class MediaReader:
    """The package's media files, read by name after `extract()`: `read(name)` gives the bytes.

    A file over `max_media_file_bytes`, past `max_media_bytes` for the package, or unreadable is a
    MediaError (leave it out, say so); the total unpacked size is still a PackageError (stop).
    Use as a context manager: it holds the zip open.
    """

    def __init__(self, path: Path, extracted: Extracted, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.members = extracted.media_members
        self.compressed = extracted.format_version == 3
        self.budget = _Budget(self.limits.max_unpacked_bytes)
        self.budget.used = extracted.unpacked
        self.media_bytes = 0
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise PackageError(f"cannot read {path.name} again ({exc})") from None
        self.present = {info.filename for info in self.archive.infolist()}

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str) -> bytes:
        member = self.members.get(name)
        if member is None or member not in self.present:
            raise MediaError(f"{name!r} is not in the package's media")
        limit = self.limits.max_media_file_bytes
        data = bytearray()
        try:
            with self.archive.open(member) as raw, _zstd_reader(raw) if self.compressed else raw as source:
                while chunk := source.read(_CHUNK):
                    self.budget.take(len(chunk))
                    data += chunk
                    if len(data) > limit:
                        raise MediaError(f"{name!r} is larger than the limit of {limit:,} bytes for one image")
        except (zipfile.BadZipFile, EOFError, zstandard.ZstdError, OSError) as exc:
            raise MediaError(f"{name!r} is damaged in the package ({exc})") from None
        if self.media_bytes + len(data) > self.limits.max_media_bytes:
            raise MediaError(
                f"{name!r} would take the package's images past the limit of {self.limits.max_media_bytes:,} bytes"
            )
        self.media_bytes += len(data)
        return bytes(data)
