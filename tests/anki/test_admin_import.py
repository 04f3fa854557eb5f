"""Importing a package from the admin: the web uploads and queues, a worker imports, the page follows it.

As in tests/challenges/test_admin.py: the upload is posted through the admin, its task is found on the
real Redis broker (REDIS_URL), on the default queue, and taken off it; then the task runs here as a
worker would run it (`.apply()`), for the same code, Redis included, with no mock. The last test runs
the real processes (tests/challenges_stack.py): a Celery worker imports while the test polls the
job's page over HTTP, and sees the progress of an import whose transaction has not committed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from cards.anki import importer, tasks
from cards.anki.models import AnkiImport
from cards.models import Card, Deck
from cards.review.models import ReviewLog, ReviewState
from tests.anki.builders import NoteSpec, add_revlog, build, schedule_review
from tests.challenges_stack import Stack, migrated_template, wait_for
from tests.factories import make_deck, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d"
    "0000000049454e44ae426082"
)
IMAGE_URL = f"/media/cards/{hashlib.sha256(PNG).hexdigest()}.png"


def reviewed(col, note) -> None:
    schedule_review(col, note, ivl=10, due_in=3, factor=2500)
    card_id = note.cards()[0].id  # Anki's ids are milliseconds: an answer ten days before the card's creation
    add_revlog(col, card_id, [(card_id - 10 * 86_400_000, 3, 10, 4, 2500, 8000, 1)])


NOTES = [
    NoteSpec("Basic", ['A cat: <img src="cat.png">', "<i>meow</i>"], tags=["animals"], then=reviewed),
    NoteSpec("Basic", ['<img src="gone.png">Missing', "A"]),
    NoteSpec("Cloze", ["{{c1::Paris}} is in {{c2::France}}", ""]),
]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("admin-apkg")
    return build(folder / "animals.apkg", NOTES, setup=lambda col: col.media.write_data("cat.png", PNG)).path


@pytest.fixture(autouse=True)
def folders(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ANKI_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def author(client):
    user = make_user(username="author", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def upload(client, path: Path, capture, **fields: str):
    data = {"package": SimpleUploadedFile(path.name, path.read_bytes()), "existing_deck": "", "new_deck": "", **fields}
    data.setdefault("learner", "")
    with capture(execute=True) as callbacks:
        response = client.post(reverse("admin:anki_ankiimport_add"), data)
    return response, callbacks


def queued_message(job: AnkiImport, queue: str = "default") -> dict:
    """The job's message in the real Redis broker (kombu keeps each queue as a list), taken off it."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    found = [raw for raw in client.lrange(queue, 0, -1) if json.loads(raw)["headers"]["id"] == job.task_id]
    assert len(found) == 1, f"no message for import {job.pk} in the {queue} queue"
    client.lrem(queue, 1, found[0])
    return json.loads(found[0])["headers"]


def page(client, job: AnkiImport, htmx: bool = False) -> str:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(reverse("admin:anki_ankiimport_change", args=[job.pk]), **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_add_page_asks_for_the_package_deck_and_learner(client, author):
    response = client.get(reverse("admin:anki_ankiimport_add"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    for name in ("package", "existing_deck", "new_deck", "learner"):
        assert f'name="{name}"' in html
    assert 'accept=".apkg"' in html


def test_only_staff_who_may_write_cards_may_import(client):
    staff = make_user(username="staff", is_staff=True)
    client.force_login(staff)
    add = reverse("admin:anki_ankiimport_add")
    assert client.get(add).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="add_ankiimport"))
    assert client.get(add).status_code == 403  # importing writes cards: that permission too
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_card", "change_card"]))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached on the instance
    client.force_login(staff)
    assert client.get(add).status_code == 200
    client.force_login(make_user(username="learner"))
    assert client.get(add)["Location"].startswith("/admin/login/")


def test_an_upload_is_queued_on_the_default_queue_and_a_worker_imports_it(
    client, author, package, django_capture_on_commit_callbacks
):
    learner = make_user(username="ada")
    response, callbacks = upload(client, package, django_capture_on_commit_callbacks, new_deck="animals", learner="ada")
    job = AnkiImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:anki_ankiimport_change", args=[job.pk])
    assert len(callbacks) == 1  # queued only once the row is committed
    assert (job.status, job.deck_slug, job.learner, job.requested_by) == ("queued", "animals", learner, author)
    assert (job.file_name, job.file_size) == ("animals.apkg", package.stat().st_size)
    # The upload waits in the private folder, never under MEDIA_ROOT (which is served).
    stored = Path(settings.ANKI_UPLOAD_DIR) / job.upload
    assert stored.read_bytes() == package.read_bytes() and stored.stat().st_mode & 0o777 == 0o600
    assert not Path(settings.MEDIA_ROOT).exists()
    headers = queued_message(job)
    assert headers["task"] == "cards.anki.tasks.import_anki_package" and headers["argsrepr"] == f"({job.pk},)"
    # The web imported nothing.
    assert not Deck.objects.exists() and not Card.objects.exists()

    waiting = page(client, job)
    assert "is uploaded and queued" in waiting
    assert 'data-status="queued"' in waiting and 'hx-trigger="every 2s"' in waiting
    assert "vendor/htmx-2.0.11.min.js" in waiting and "<script>" not in waiting and ' style="' not in waiting

    assert tasks.import_anki_package.apply((job.pk,)).get() == "done"
    assert tasks.import_anki_package.apply((job.pk,)).get() == "already taken"  # a duplicate does nothing

    job.refresh_from_db()
    assert job.status == "done" and job.deck == Deck.objects.get(slug="animals")
    assert job.summary.startswith("deck animals (created): 3 notes, 4 cards created")
    assert "images: 1 stored (1 new, 0 already there), 1 left out" in job.summary
    assert job.schedule_summary.startswith("schedule: 1 states created")
    assert job.warnings == ["1 image(s) left out of the cards, not in the package's media: 'gone.png'"]
    assert not stored.exists() and job.upload == ""  # the upload is gone once the import is over
    assert Card.objects.get(question__startswith="A cat").question == f'A cat: <img src="{IMAGE_URL}">'
    assert ReviewState.objects.filter(user=learner).count() == 1 and ReviewLog.objects.filter(user=learner).count() == 1

    done = page(client, job)
    assert 'data-status="done"' in done and "hx-trigger" not in done
    assert "deck animals (created): 3 notes, 4 cards created" in done
    assert "schedule: 1 states created" in done
    assert "not in the package&#x27;s media: &#x27;gone.png&#x27;" in done
    assert reverse("admin:cards_deck_change", args=[job.deck.pk]) in done
    listing = client.get(reverse("admin:anki_ankiimport_changelist")).content.decode()
    assert "animals.apkg" in listing and "Done" in listing


def test_progress_comes_from_the_cache_while_the_import_holds_its_transaction(
    client, author, package, django_capture_on_commit_callbacks, monkeypatch
):
    make_user(username="ada")
    upload(client, package, django_capture_on_commit_callbacks, learner="ada")
    job = AnkiImport.objects.get()
    queued_message(job)
    seen = []
    record = tasks._Progress.__call__

    def and_look(self, step: str, done: int, total: int) -> None:
        record(self, step, done, total)
        if step in ("writing cards", "writing the schedule") and done == 0:
            # Inside the import's transaction: a row written now would not be seen by the web until the commit.
            assert connection.in_atomic_block
            row = AnkiImport.objects.values_list("status", "step").get(pk=job.pk)
            seen.append((step, row, page(client, job, htmx=True)))

    monkeypatch.setattr(tasks._Progress, "__call__", and_look)
    assert tasks.import_anki_package.apply((job.pk,)).get() == "done"

    assert [step for step, _, _ in seen] == ["writing cards", "writing the schedule"]
    for step, row, partial in seen:
        assert row == ("running", "starting")  # the row says nothing of the step: the page read the cache
        assert partial.lstrip().startswith('<section id="anki-import-status"')  # the partial only, for htmx
        assert 'data-status="running"' in partial and 'hx-trigger="every 2s"' in partial
        assert f"{step.capitalize()}: 0 of" in partial and "<progress" in partial
    assert tasks.read_progress(AnkiImport.objects.get(pk=job.pk))["step"] == "done"  # the cache key is gone


def test_a_bad_package_fails_with_its_reason_and_nothing_is_imported(
    client, author, tmp_path, django_capture_on_commit_callbacks
):
    bad = tmp_path / "notes.apkg"
    bad.write_bytes(b"front,back\nQ,A\n")
    upload(client, bad, django_capture_on_commit_callbacks)
    job = AnkiImport.objects.get()
    queued_message(job)
    assert tasks.import_anki_package.apply((job.pk,)).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed"
    # Named as the author knows it, not by the name it had in the upload folder.
    assert job.error_message == (
        "notes.apkg is not a zip archive, or a truncated one: not an Anki package. Nothing was imported."
    )
    assert not Deck.objects.exists() and not Card.objects.exists()
    assert list(Path(settings.ANKI_UPLOAD_DIR).iterdir()) == []
    html = page(client, job)
    assert 'data-status="failed"' in html and "Nothing was imported." in html and "hx-trigger" not in html


def test_a_failure_while_writing_rolls_everything_back_and_says_so(
    client, author, package, django_capture_on_commit_callbacks, monkeypatch
):
    make_user(username="ada")
    make_deck(slug="existing")
    upload(client, package, django_capture_on_commit_callbacks, existing_deck=str(Deck.objects.get().pk), learner="ada")
    job = AnkiImport.objects.get()
    assert job.deck_slug == "existing"
    queued_message(job)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_write_schedule", explode)  # after the cards are written, in the transaction
    assert tasks.import_anki_package.apply((job.pk,)).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "Nothing was imported." in job.error_message
    assert "disk full" not in job.error_message  # the traceback goes to the worker's log, not the page
    assert not Card.objects.exists() and not ReviewState.objects.exists()
    assert list(Path(settings.ANKI_UPLOAD_DIR).iterdir()) == []


@pytest.mark.parametrize(
    "name, fields, error",
    [
        ("backup.colpkg", {}, "collection package (.colpkg"),
        ("deck.zip", {}, "ending in .apkg"),
        ("deck.apkg", {"new_deck": "Not a slug!"}, "Enter a valid"),
        ("deck.apkg", {"new_deck": "new", "existing_deck": "EXISTING"}, "not both"),
        ("deck.apkg", {"learner": "nobody"}, "No user named &#x27;nobody&#x27;"),
    ],
)
def test_the_form_refuses_what_cannot_be_imported(
    client, author, package, tmp_path, django_capture_on_commit_callbacks, name, fields, error
):
    deck = make_deck(slug="existing-deck")
    fields = {key: str(deck.pk) if value == "EXISTING" else value for key, value in fields.items()}
    renamed = tmp_path / name
    renamed.write_bytes(package.read_bytes())
    response, callbacks = upload(client, renamed, django_capture_on_commit_callbacks, **fields)
    assert response.status_code == 200 and error in response.content.decode()
    assert not AnkiImport.objects.exists() and not callbacks
    assert not Path(settings.ANKI_UPLOAD_DIR).exists()


def test_a_package_over_the_upload_limit_is_refused(
    client, author, package, settings, django_capture_on_commit_callbacks
):
    settings.ANKI_UPLOAD_MAX_MB = 0
    response, _ = upload(client, package, django_capture_on_commit_callbacks)
    assert "over the limit of 0" in response.content.decode() and not AnkiImport.objects.exists()


def test_a_running_job_past_its_time_limit_is_shown_as_stale(client, author):
    from django.utils import timezone

    job = AnkiImport.objects.create(
        file_name="old.apkg",
        status="running",
        started_at=timezone.now() - timezone.timedelta(seconds=tasks.STALE_SECONDS + 5),
    )
    html = page(client, job)
    assert 'data-status="stale"' in html and "nothing was imported" in html and "hx-trigger" not in html


# ---- the real processes ---------------------------------------------------------------------------------

BIG_NOTES = 1500


@pytest.fixture(scope="module")
def big_package(tmp_path_factory) -> Path:
    notes = [
        NoteSpec("Basic", [f'Question {i} <img src="cat.png">', f"Answer {i}"], tags=["big"], then=reviewed)
        for i in range(BIG_NOTES)
    ]
    folder = tmp_path_factory.mktemp("big-apkg")
    return build(folder / "big.apkg", notes, setup=lambda col: col.media.write_data("cat.png", PNG)).path


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("anki-admin-db"))


SETUP = """
from django.contrib.auth import get_user_model
from tests.factories import make_user
get_user_model().objects.create_superuser("author", "", "a-long-test-password")
make_user(username="ada")
"""


@pytest.mark.slow
def test_a_real_worker_imports_while_the_page_shows_its_progress(tmp_path, template, big_package):
    media, uploads = tmp_path / "media", tmp_path / "uploads"
    with Stack(tmp_path, template, MEDIA_ROOT=str(media), ANKI_UPLOAD_DIR=str(uploads)) as stack:
        stack.start_worker("importer")
        base = stack.start_web()
        stack.shell(SETUP)
        session = requests.Session()
        session.get(f"{base}/admin/login/", timeout=30)
        session.post(
            f"{base}/admin/login/?next=/admin/",
            data={
                "username": "author",
                "password": "a-long-test-password",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=30,
        )
        add = f"{base}/admin/anki/ankiimport/add/"
        session.get(add, timeout=30)
        started = time.monotonic()
        with big_package.open("rb") as file:
            response = session.post(
                add,
                data={
                    "csrfmiddlewaretoken": session.cookies["csrftoken"],
                    "new_deck": "big",
                    "learner": "ada",
                    "_save": "Save",
                },
                files={"package": ("big.apkg", file, "application/octet-stream")},
                headers={"Referer": add},
                timeout=60,
            )
        assert time.monotonic() - started < 10  # the request uploads and queues; it never imports
        assert response.status_code == 200 and re.search(r"/admin/anki/ankiimport/\d+/change/$", response.url)
        job_url = response.url

        states: list[tuple[str, str]] = []

        def finished() -> bool:
            partial = session.get(job_url, headers={"HX-Request": "true"}, timeout=30).text
            status = re.search(r'data-status="(\w+)"', partial).group(1)
            shown = re.search(r'<label for="anki-import-bar">([^<]*)</label>', partial)
            states.append((status, shown.group(1).strip() if shown else ""))
            return status not in ("queued", "running")

        wait_for(finished, 120, "the worker to import the package", interval=0.02)
        assert states[-1][0] == "done", states[-5:]
        running = [shown for status, shown in states if status == "running"]
        # Seen while the import's transaction was open (the row says only "starting" until the end).
        assert any(shown.startswith(("Writing cards: ", "Writing the schedule: ")) for shown in running), running
        page_html = session.get(job_url, timeout=30).text
        assert f"deck big (created): {BIG_NOTES} notes, {BIG_NOTES} cards created" in page_html
        assert stack.query("SELECT count(*) FROM cards_card") == [(BIG_NOTES,)]
        assert stack.query("SELECT count(*) FROM cards_reviewstate") == [(BIG_NOTES,)]
        assert stack.query("SELECT status, upload, worker FROM anki_ankiimport")[0][:2] == ("done", "")
        assert list(uploads.iterdir()) == []  # the upload is deleted
        image = session.get(base + IMAGE_URL, timeout=30)  # written by the worker, served by the web
        assert image.status_code == 200 and image.content == PNG and image.headers["Content-Type"] == "image/png"
