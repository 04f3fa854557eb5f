"""Images from Anki packages: stored once each, by content, and served from the app's own origin.

`store(data)` keeps an image under MEDIA_ROOT/cards/<sha256 of the bytes>.<kind> and returns its
URL, MEDIA_URL + "cards/<sha256>.<kind>" (/media/cards/...); a card's HTML points there, and the
allow-list (studyapp.markdown.sanitize_html) keeps an `<img>` only with such a src. Only real
images are kept, by their first bytes, whatever the name says: PNG, JPEG, GIF, WebP. SVG is
refused (it is a document that can carry script); so is anything else.

Content-addressed: the same image in two packages, or imported twice, is one file; a name never
changes meaning, so `serve` lets browsers cache it for a year (immutable). Files are written to a
temporary name in the same folder and renamed into place, so a reader never sees half a file.

Files are written before the import's transaction: an import that then fails leaves its images
behind, unreferenced. That is harmless (a name only ever holds its own bytes, and the next import
of the same image reuses the file); nothing deletes images, so no card can point at a missing one.

`serve` is the view for MEDIA_URL + "cards/<name>", with DEBUG off as with DEBUG on (gunicorn
serves it in run.sh and in the web image): only names of that exact shape under MEDIA_ROOT/cards/,
the right Content-Type, `X-Content-Type-Options: nosniff`, a policy that lets the file run nothing
if opened on its own, 404 for anything else. No log-in: a name is the SHA-256 of the image, known
only from a card that shows it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

FOLDER = "cards"
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
NAME = re.compile(r"([0-9a-f]{64})\.(png|jpg|gif|webp)")
# Opened on its own (not as an <img>), a file may run nothing, load nothing and be framed by no one.
FILE_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
CACHE_CONTROL = "public, max-age=31536000, immutable"


def image_kind(data: bytes) -> str | None:
    """ "png", "jpg", "gif" or "webp" from the file's first bytes (its magic number); None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def looks_like_svg(name: str, data: bytes) -> bool:
    head = data[:1024].lstrip().lower()
    return name.lower().endswith((".svg", ".svgz")) or (head.startswith((b"<svg", b"<?xml")) and b"<svg" in head)


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / FOLDER


def url_of(name: str) -> str:
    return f"{settings.MEDIA_URL}{FOLDER}/{name}"


def store(data: bytes, kind: str) -> tuple[str, bool]:
    """Keep `data` (an image of `kind`, see image_kind) and return (its URL, whether the file is new)."""
    if kind not in CONTENT_TYPES:
        raise ValueError(f"not an image kind the app serves: {kind!r}")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    target = folder() / name
    if target.is_file():
        return url_of(name), False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # Readable by the web process, whoever wrote it (in the images the worker writes as root).
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return url_of(name), True


def _headers(response: HttpResponse, digest: str) -> HttpResponse:
    response["ETag"] = f'"{digest}"'
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_POLICY
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@require_safe
def serve(request: HttpRequest, name: str) -> HttpResponse:
    """One stored image (GET or HEAD): MEDIA_ROOT/cards/<sha256>.<kind>, nothing else."""
    match = NAME.fullmatch(name)
    if match is None:
        raise Http404("no such image")
    digest, kind = match.groups()
    path = folder() / name
    if not path.is_file():
        raise Http404("no such image")
    if request.headers.get("If-None-Match", "").strip() in (f'"{digest}"', f'W/"{digest}"'):
        return _headers(HttpResponseNotModified(), digest)
    try:
        handle = path.open("rb")
    except OSError:
        raise Http404("no such image") from None
    response = FileResponse(handle, content_type=CONTENT_TYPES[kind])
    return _headers(response, digest)
