"""Images in Anki packages: stored by content, fields pointed at the stored copies, served by the app.

Packages are built with Anki's own library (the image files added to its media folder, as Anki's
editor does); MEDIA_ROOT is a temporary folder per test. The serving view is requested through the
whole middleware stack with DEBUG off (as gunicorn runs it in run.sh and in the web image).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from io import StringIO
from pathlib import Path

import pytest
import zstandard
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from cards.anki import importer, media
from cards.anki.package import Limits
from cards.models import Card, Deck
from cards.text import HTML, render_text
from studyapp.markdown import render_markdown, sanitize_html
from tests.anki.builders import CURRENT, LEGACY, NoteSpec, build, rewrite
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# A real 1x1 PNG, a JPEG's first bytes, a GIF and a WebP header: image_kind reads the magic numbers.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d"
    "0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
NOT_AN_IMAGE = b"#!/bin/sh\necho this is not a picture\n"
MEDIA = {"cat.png": PNG, "my dog.jpg": JPEG, "wave.gif": GIF, "evil.png": NOT_AN_IMAGE, "logo.svg": SVG}

NOTES = [
    NoteSpec("Basic", ['What is this? <img src="cat.png">', '<img src="my dog.jpg" width="120" alt="a dog">']),
    NoteSpec("Basic", ['<img src="evil.png">Not a picture', '<img src="logo.svg"> and <img src="wave.gif">']),
    NoteSpec(
        "Basic",
        [
            '<img src="https://evil.example/x.png">remote <img src="data:image/png;base64,iVBORw0KGgo=">inline',
            '<img src="gone.png">missing <img src="../../etc/passwd">up <img src="cat.png">again',
        ],
    ),
    NoteSpec(
        "Basic",
        [
            '<span style="font-weight: bold; color: red">bold</span> <span style="font-style:italic">it</span> '
            '<div style="text-decoration: underline line-through; background: url(x)">ul</div>',
            "<b>kept</b>",
        ],
    ),
]


def stored_url(data: bytes, kind: str) -> str:
    return f"/media/cards/{hashlib.sha256(data).hexdigest()}.{kind}"


def with_media(col) -> None:
    for name, data in MEDIA.items():
        col.media.write_data(name, data)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media-apkg")
    return {fmt: build(folder / f"{fmt}.apkg", NOTES, fmt=fmt, setup=with_media).path for fmt in (CURRENT, LEGACY)}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_apkg", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def card(question_start: str) -> Card:
    return Card.objects.get(question__startswith=question_start)


@pytest.mark.parametrize("fmt", [CURRENT, LEGACY])
def test_images_are_stored_by_content_and_fields_point_at_them(packages, media_root, fmt):
    out, err = run(packages[fmt], "--deck", "pictures")
    assert "images: 3 stored (3 new, 0 already there), 6 left out" in out
    # The files: named by the SHA-256 of their bytes, the kind from the bytes, exactly the package's bytes.
    for data, kind in ((PNG, "png"), (JPEG, "jpg"), (GIF, "gif")):
        path = media_root / "cards" / f"{hashlib.sha256(data).hexdigest()}.{kind}"
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o777 == 0o644  # readable by the web process, whoever imported
    assert sorted(p.name for p in (media_root / "cards").iterdir()) == sorted(
        f"{hashlib.sha256(d).hexdigest()}.{k}" for d, k in ((PNG, "png"), (JPEG, "jpg"), (GIF, "gif"))
    )  # nothing else: no temporary file, no refused file

    first = card("What is this?")
    assert first.question == f'What is this? <img src="{stored_url(PNG, "png")}">'
    # A name with a space, as Anki writes it; width and alt kept.
    assert first.answer == f'<img src="{stored_url(JPEG, "jpg")}" alt="a dog" width="120">'
    assert card("Not a picture").answer == f' and <img src="{stored_url(GIF, "gif")}">'


def test_what_is_left_out_is_dropped_with_a_warning_each(packages):
    _, err = run(packages[CURRENT], "--deck", "pictures")
    assert "warning: 1 image(s) left out of the cards, not an image the app shows" in err and "'evil.png'" in err
    assert "warning: 1 image(s) left out of the cards, SVG images are not imported" in err and "'logo.svg'" in err
    assert "remote images are not fetched" in err and "'https://evil.example/x.png'" in err
    assert "data: URIs are not imported" in err
    assert "not in the package's media: 'gone.png', '../../etc/passwd'" in err
    evil = card("Not a picture")
    assert evil.question == "Not a picture"  # the renamed script is not an <img>, nor stored
    remote = card("remote")
    assert remote.question == "remote inline"
    assert remote.answer == f'missing up <img src="{stored_url(PNG, "png")}">again'
    assert "evil.example" not in remote.question and "data:" not in remote.question


def test_a_percent_encoded_name_finds_its_file(tmp_path, media_root):
    """Older Anki versions wrote names percent-encoded in the field (`my%20cat.png` for `my cat.png`)."""
    path = build(tmp_path / "encoded.apkg", [NoteSpec("Basic", ['<img src="my%20cat.png">', "A"])], fmt=LEGACY).path
    rewrite(path, replace={"media": b'{"7": "my cat.png"}'}, add={"7": PNG})
    report = importer.import_package(path, deck_slug="encoded")
    assert report.images == 1 and not report.warnings
    assert Card.objects.get().question == f'<img src="{stored_url(PNG, "png")}">'


def test_inline_styles_never_pass_and_bold_italic_underline_become_tags(packages):
    run(packages[LEGACY], "--deck", "pictures")
    styled = Card.objects.get(answer="<b>kept</b>")
    assert styled.question == "<span><b>bold</b></span> <span><i>it</i></span> <div><u><s>ul</s></u></div>"
    assert "style" not in styled.question and "color" not in styled.question


def test_importing_again_stores_nothing_twice(packages, media_root):
    run(packages[CURRENT], "--deck", "pictures")
    out, _ = run(packages[CURRENT], "--deck", "pictures")
    assert "0 cards created, 0 updated, 4 unchanged" in out  # the same text: the same URLs
    assert "images: 3 stored (0 new, 3 already there)" in out
    out, _ = run(packages[LEGACY], "--deck", "other")  # other notes, the same images
    assert "4 cards created" in out and "images: 3 stored (0 new, 3 already there)" in out
    assert len(list((media_root / "cards").iterdir())) == 3


def test_the_review_page_shows_the_stored_image(packages, client):
    run(packages[CURRENT], "--deck", "pictures")
    first = card("What is this?")
    assert str(render_text(first.question, HTML)) == f'What is this? <img src="{stored_url(PNG, "png")}">'
    client.force_login(make_user())
    page = client.get("/review/").content.decode()  # the first new card by position: the note with the cat
    assert f'What is this? <img src="{stored_url(PNG, "png")}">' in page


@pytest.mark.parametrize(
    "html",
    [
        '<img src="https://evil.example/x.png">',
        '<img src="http://127.0.0.1:8000/media/cards/' + "a" * 64 + '.png">',
        '<img src="//evil.example/media/cards/' + "a" * 64 + '.png">',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        '<img src="DATA:image/svg+xml,<svg onload=alert(1)>">',
        '<img src="javascript:alert(1)">',
        '<img src="/media/cards/../../db.sqlite3">',
        '<img src="/media/cards/' + "a" * 64 + '.svg">',
        '<img src="/media/cards/' + "a" * 64 + '.png?x=1">',
        '<img src="/accounts/logout/">',
        "<img>",
        '<img srcset="https://evil.example/x.png 2x">',
    ],
)
def test_the_allow_list_keeps_no_image_but_the_apps_own(html):
    for rendered in (sanitize_html(html), str(render_markdown(html)), sanitize_html(f"<p>{html}</p>")):
        assert "<img" not in rendered, rendered


def test_the_allow_list_keeps_the_apps_images_with_alt_and_sizes_only():
    src = stored_url(PNG, "png")
    html = (
        f'<img src="{src}" alt="x &quot; y" width="10" height="big" style="width:9999px" onerror="alert(1)" class="c">'
    )
    assert sanitize_html(html) == f'<img src="{src}" alt="x &quot; y" width="10">'
    assert str(render_markdown(f"![a cat]({src})")) == f'<p><img src="{src}" alt="a cat"></p>'
    assert sanitize_html('<p style="color:red" class="x">t</p>') == "<p>t</p>"


# ---- serving, DEBUG off ---------------------------------------------------------------------------------


@pytest.fixture
def stored(media_root) -> str:
    url, new = media.store(PNG, "png")
    assert new and url == stored_url(PNG, "png")
    return url


def test_a_stored_image_is_served_with_its_type_and_headers_with_debug_off(client: Client, settings, stored):
    assert settings.DEBUG is False
    response = client.get(stored)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(PNG))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (
        "sandbox" in response["Content-Security-Policy"] and "default-src 'none'" in response["Content-Security-Policy"]
    )
    assert response["ETag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'
    again = client.get(stored, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["Cache-Control"] == response["Cache-Control"]
    head = client.head(stored)
    assert head.status_code == 200 and head["Content-Type"] == "image/png"
    assert client.post(stored).status_code == 405


@pytest.mark.parametrize("kind, data, content_type", [("jpg", JPEG, "image/jpeg"), ("gif", GIF, "image/gif")])
def test_each_kind_gets_its_content_type(client, media_root, kind, data, content_type):
    url, _ = media.store(data, kind)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == content_type


def test_the_page_policy_lets_images_come_from_the_app_only(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    img_src = next(part.split()[1:] for part in policy.split(";") if part.split()[0] == "img-src")
    assert "'self'" in img_src and not [source for source in img_src if source.startswith("http")]


def test_nothing_but_a_stored_image_name_is_served(client: Client, media_root, stored, settings, tmp_path):
    digest = hashlib.sha256(PNG).hexdigest()
    # Files that exist but are not stored images: next to cards/, in the upload folder, elsewhere.
    (media_root / "secret.png").write_bytes(PNG)
    (media_root / "cards" / "notes.txt").write_text("private")
    (media_root / "cards" / f"{'b' * 64}.svg").write_bytes(SVG)
    settings.ANKI_UPLOAD_DIR = media_root / "uploads"
    settings.ANKI_UPLOAD_DIR.mkdir()
    (settings.ANKI_UPLOAD_DIR / f"{'c' * 32}.apkg").write_bytes(b"PK")
    for path in (
        "/media/secret.png",
        "/media/cards/notes.txt",
        f"/media/cards/{'b' * 64}.svg",
        f"/media/cards/{digest.upper()}.png",
        f"/media/cards/{digest}.PNG",
        f"/media/cards/{digest}.jpg",  # the right hash, not its kind
        f"/media/cards/{digest[:-1]}.png",
        f"/media/cards/{'d' * 64}.png",  # the right shape, no such file
        "/media/cards/../secret.png",
        "/media/cards/%2e%2e/secret.png",
        "/media/cards/..%2fsecret.png",
        "/media/cards/%2e%2e%2f%2e%2e%2fstudyapp%2fsettings.py",
        "/media/cards/..%5c..%5cstudyapp%5csettings.py",
        f"/media/cards/{digest}.png%00.txt",
        f"/media/cards/{digest}.png/",
        f"/media/uploads/{'c' * 32}.apkg",
        f"/media/cards/cards/{digest}.png",
        "/media/cards/",
        "/media/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"private" not in response.content and not response.content.startswith(b"\x89PNG"), path


# ---- limits and failures ----------------------------------------------------------------------------------


def test_an_image_over_the_size_limit_is_left_out(packages, media_root):
    assert (len(PNG), len(GIF), len(JPEG)) == (66, 43, 86)
    report = importer.import_package(packages[CURRENT], deck_slug="small", limits=Limits(max_media_file_bytes=80))
    assert report.images == 2  # the PNG and the GIF; not the JPEG
    assert not list((media_root / "cards").glob("*.jpg"))
    warnings = " ".join(report.warnings)
    assert "too large or damaged: 'my dog.jpg' is larger than the limit of 80 bytes for one image" in warnings
    assert Card.objects.get(question__startswith="What is this?").answer == ""


def test_images_past_the_per_import_limit_are_left_out(packages, media_root):
    report = importer.import_package(packages[CURRENT], deck_slug="small", limits=Limits(max_media_bytes=len(PNG)))
    assert report.images == 1 and (media_root / "cards" / f"{hashlib.sha256(PNG).hexdigest()}.png").exists()
    warnings = " ".join(report.warnings)
    assert "'my dog.jpg' would take the package's images past the limit of 66 bytes" in warnings


def test_a_zstd_media_bomb_is_stopped_while_reading_and_nothing_is_written(tmp_path, media_root):
    """In the current format each media file is zstd-compressed: its zip header gives the compressed size, so
    only the bytes actually decompressed can show a bomb, and they count against the package's total limit."""
    path = build(
        tmp_path / "bomb.apkg",
        [NoteSpec("Basic", ['<img src="big.png">', "A"])],
        setup=lambda col: col.media.write_data("big.png", PNG),
    ).path
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["0"] = zstandard.ZstdCompressor().compress(PNG[:8] + b"\x00" * 5_000_000)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    declared = sum(len(data) for data in members.values()) + 200_000  # the headers pass; the collection unpacks
    with pytest.raises(importer.ImportFailure, match=r"unpacks to more than the limit of .* bytes \(a zip bomb\?\)"):
        importer.import_package(path, limits=Limits(max_unpacked_bytes=declared + 1_000_000))
    assert not Card.objects.exists() and not Deck.objects.exists()
    assert not (media_root / "cards").exists()


def test_media_that_cannot_be_stored_is_a_clear_failure_and_nothing_is_written(packages, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where MEDIA_ROOT should be")
    settings.MEDIA_ROOT = blocker
    with pytest.raises(CommandError, match="cannot store the package's images in .*not-a-folder/cards") as caught:
        run(packages[CURRENT], "--deck", "pictures")
    assert "Nothing was imported" in str(caught.value)
    assert not Card.objects.exists() and not Deck.objects.exists()


def test_a_failure_while_writing_leaves_no_card_pointing_at_an_image(packages, media_root, monkeypatch):
    """Images are stored before the transaction; if it then fails, they stay as unreferenced files (harmless:
    content-addressed), and no card exists to point at anything."""

    def explode(*args, **kwargs):
        raise RuntimeError("the database went away mid-import")

    monkeypatch.setattr(importer, "_write_cards", explode)
    with pytest.raises(RuntimeError):
        importer.import_package(packages[CURRENT], deck_slug="pictures")
    assert not Card.objects.exists() and not Deck.objects.exists()
    assert len(list((media_root / "cards").iterdir())) == 3
    monkeypatch.undo()
    report = importer.import_package(packages[CURRENT], deck_slug="pictures")
    assert report.images == 3 and report.images_stored == 0  # the next import uses the files left behind
    for found in Card.objects.values_list("question", "answer"):
        for src in re.findall(r'src="([^"]+)"', " ".join(found)):
            assert (media_root / src.removeprefix("/media/")).is_file()


def test_stored_files_appear_whole_or_not_at_all(media_root, monkeypatch):
    """Written to a temporary name and renamed: a failure mid-write leaves no file under the final name."""
    import os

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        media.store(GIF, "gif")
    assert list((media_root / "cards").iterdir()) == []
