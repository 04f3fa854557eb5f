"""The checks scripts/test_images.sh runs against the compose stack it brought up with podman.

    python scripts/image_checks.py --project NAME --base http://127.0.0.1:PORT --compose "podman-compose ..."

Standard library and PyYAML only (it runs on podman-compose's interpreter). Each check prints one line
(`ok` or `FAIL` and why); the first failure ends the run with exit status 1. Everything it learns
about the stack comes from outside: HTTP as a browser would send it, `podman exec` into the containers,
`podman logs`, and the configuration podman-compose resolves from docker-compose.yml.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import json
import re
import secrets
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CATALOG = "/app/cards/challenges/catalog"  # in the images (COPY . /app)
# The challenge graded over HTTP: its grader reads the sandboxed process from outside (SYS_PTRACE).
HTTP_CHALLENGE = "async-blocking-call"
# The challenge graded while the worker restarts: several seconds of grading to restart in the middle of.
RESTART_CHALLENGE = "bounded-fanout"
SANDBOX_UID_BASE = 61000  # the settings' default, which docker-compose.yml keeps


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(message, flush=True)


def run(args: list[str], *, check: bool = True, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    if kwargs.get("input") is None:
        kwargs.pop("input", None)
        kwargs["stdin"] = subprocess.DEVNULL  # CI has no standard input to pass on
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise CheckFailed(f"{shlex.join(args)} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-800:]}")
    return proc


# ---- the stack, as podman sees it


class Stack:
    def __init__(self, project: str, compose: list[str]) -> None:
        self.project = project
        self.compose = compose
        self.config = yaml.safe_load(run([*compose, "config"]).stdout)

    def container(self, service: str) -> str:
        names = run(
            [
                "podman", "ps", "-a", "--format", "{{.Names}}",
                "--filter", f"label=io.podman.compose.project={self.project}",
                "--filter", f"label=io.podman.compose.service={service}",
            ]
        ).stdout.split()  # fmt: skip
        if not names:
            raise CheckFailed(f"no container for the {service} service")
        return names[0]

    def network(self) -> str:
        return f"{self.project}_default"

    def exec(self, service: str, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 300):
        return run(["podman", "exec", "-i", self.container(service), *args], input=stdin, check=check, timeout=timeout)

    def django(self, service: str, code: str) -> dict:
        """Run Python in a service's container with Django set up; it prints `RESULT <json>`."""
        proc = self.exec(service, "python", "manage.py", "shell", "-c", code)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :])
        raise CheckFailed(f"no result from {service}: {proc.stdout[-400:]} {proc.stderr[-400:]}")


# ---- HTTP, as a browser without JavaScript


class Forms(HTMLParser):
    """Every <form> on a page: its action and the name/value of its inputs, textareas and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._open = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}, "buttons": []})
            self._open = True
        elif not self._open:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1]["fields"][a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._open = False


def form_posting_to(html: str, path: str) -> dict:
    parser = Forms()
    parser.feed(html)
    for form in parser.forms:
        if urllib.parse.urlsplit(form["action"]).path == path:
            return form
    raise CheckFailed(f"no form posting to {path} on the page")


class Browser:
    """Cookies kept by hand: the app's are Secure (production), and this is a plain-HTTP trial."""

    def __init__(self, base: str) -> None:
        self.base = urllib.parse.urlsplit(base)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        headers = {"Host": "localhost"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def get(self, path: str, expect: int = 200) -> str:
        status, _, text = self.request("GET", path)
        if status != expect:
            raise CheckFailed(f"GET {path}: {status}, expected {expect}: {text[:300]}")
        return text

    def post(self, path: str, fields: dict) -> tuple[int, dict, str]:
        return self.request("POST", path, fields)


def check_healthz(browser: Browser, stack: Stack) -> None:
    deadline = time.monotonic() + 90
    while True:
        status, _, text = browser.request("GET", "/healthz")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if status != 200:
        raise CheckFailed(f"/healthz answered {status}: {text}")
    health = json.loads(text)
    for name in ("database", "redis", "worker"):
        if not health["checks"][name]["ok"]:
            raise CheckFailed(f"/healthz: {name} not ok: {text}")
    node = "worker@" + stack.exec("worker", "hostname").stdout.strip()
    workers = [w["hostname"] for w in health["checks"]["worker"]["workers"]]
    if node not in workers:
        raise CheckFailed(f"/healthz lists workers {workers}, not the worker container's {node}")
    say(f"ok    /healthz is 200 with database, redis and worker ({node}, the worker container)")


def sign_up(browser: Browser) -> str:
    parser = Forms()
    parser.feed(browser.get("/accounts/signup/"))
    form = next((f for f in parser.forms if "password1" in f["fields"]), None)
    if form is None:
        raise CheckFailed("no sign-up form on /accounts/signup/")
    username = "imagetest-" + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    fields = {**form["fields"], "username": username, "email": "", "password1": password, "password2": password}
    fields["timezone"] = "UTC"
    fields.pop("reminders", None)
    status, headers, text = browser.post("/accounts/signup/", fields)
    if status not in (302, 303) or "sessionid" not in browser.cookies:
        raise CheckFailed(f"sign-up answered {status} ({headers.get('location')}): {text[:400]}")
    home = browser.get("/")
    if username not in home:
        raise CheckFailed("signed up, but the home page does not name the new user")
    say(f"ok    sign-up over HTTP: {username} created and logged in")
    return username


def answer_one_review(browser: Browser, stack: Stack, username: str) -> None:
    page = browser.get("/review/")
    form = form_posting_to(page, "/review/answer/")
    grades = [value for name, value in form["buttons"] if name == "quality"]
    if not grades:
        raise CheckFailed("the review page offers no grade buttons")
    status, headers, text = browser.post("/review/answer/", {**form["fields"], "quality": "4"})
    if status not in (200, 302, 303):
        raise CheckFailed(f"answering a card: {status}: {text[:300]}")
    logs = stack.django(
        "web",
        "import json\nfrom cards.review.models import ReviewLog\n"
        f"print('RESULT', json.dumps(ReviewLog.objects.filter(user__username={username!r}).count()))",
    )
    if logs != 1:
        raise CheckFailed(f"after one answer the database holds {logs} review log(s) for {username}")
    say("ok    one review answer over HTTP: recorded once (1 review log)")


def submit(browser: Browser, slug: str, code: str) -> int:
    page = browser.get(f"/challenges/{slug}/")
    form = form_posting_to(page, f"/challenges/{slug}/submit/")
    status, headers, text = browser.post(f"/challenges/{slug}/submit/", {**form["fields"], "code": code})
    match = re.search(r"/submissions/(\d+)/", headers.get("location", ""))
    if status not in (302, 303) or not match:
        raise CheckFailed(f"submitting {slug}: {status}: {text[:400]}")
    return int(match.group(1))


def submission_state(browser: Browser, pk: int) -> tuple[str, bool]:
    page = browser.get(f"/submissions/{pk}/")
    match = re.search(r'id="submission-status"[^>]*class="([^"]*)"[^>]*data-status="(\w+)"', page)
    if not match:
        raise CheckFailed(f"/submissions/{pk}/ shows no status")
    return match.group(2), "is-passed" in match.group(1).split()


def wait_graded(browser: Browser, pk: int, seconds: float) -> tuple[str, bool]:
    deadline = time.monotonic() + seconds
    while True:
        status, passed = submission_state(browser, pk)
        if status not in ("queued", "running") or time.monotonic() > deadline:
            return status, passed
        time.sleep(0.5)


def reference(slug: str) -> str:
    folder = REPO / "cards/challenges/catalog" / slug
    return next(folder.glob("reference.*")).read_text()


def graded_once(stack: Stack, pk: int) -> dict:
    return stack.django(
        "web",
        "import json\nfrom cards.challenges.models import Submission\nfrom cards.challenges import practice\n"
        "from cards.review.models import ReviewLog\n"
        f"s = Submission.objects.get(pk={pk})\n"
        f"logs = ReviewLog.objects.filter(request_id=practice.request_id_for({pk})).count()\n"
        "print('RESULT', json.dumps({'status': s.status, 'attempts': s.attempts, 'passed': s.passed, 'logs': logs,"
        " 'practice_card': s.challenge.practice_card_id is not None}))",
    )


def worker_logged(stack: Stack, pk: int) -> bool:
    proc = run(["podman", "logs", stack.container("worker")], check=False)
    return re.search(rf'"submission_id": {pk}\b', proc.stdout + proc.stderr) is not None


def submit_over_http(browser: Browser, stack: Stack) -> None:
    started = time.monotonic()
    pk = submit(browser, HTTP_CHALLENGE, reference(HTTP_CHALLENGE))
    status, passed = wait_graded(browser, pk, 120)
    if status != "graded" or not passed:
        raise CheckFailed(f"submission {pk} ({HTTP_CHALLENGE}, the reference) ended {status}, passed={passed}")
    if not worker_logged(stack, pk):
        raise CheckFailed(f"the worker container's log does not mention submission {pk}")
    say(
        f"ok    submission {pk} ({HTTP_CHALLENGE}) over HTTP: graded by the worker container, passed "
        f"({time.monotonic() - started:.1f} s from submit to verdict)"
    )


def restart_mid_grading(browser: Browser, stack: Stack, hard: bool) -> None:
    """Restart the worker while it grades: gracefully (podman-compose restart: Celery's warm shutdown
    finishes the grading) or hard (SIGKILL: the lease lapses and beat's sweep queues it again)."""
    worker = stack.container("worker")
    pk = submit(browser, RESTART_CHALLENGE, reference(RESTART_CHALLENGE))
    deadline = time.monotonic() + 60
    while submission_state(browser, pk)[0] != "running":
        if time.monotonic() > deadline:
            raise CheckFailed(f"submission {pk} never started running")
        time.sleep(0.1)
    started = time.monotonic()
    if hard:
        run(["podman", "kill", "--signal", "KILL", worker])
        run(["podman", "wait", worker], check=False, timeout=30)
        run(["podman", "start", worker])
        how = "killed (SIGKILL) and started again"
    else:
        run([*stack.compose, "restart", "worker"], timeout=200)
        how = "restarted (podman-compose restart)"
    status, passed = wait_graded(browser, pk, 240)
    row = graded_once(stack, pk)
    expected_logs = 1 if row["practice_card"] else 0
    if status != "graded" or not passed or row["status"] != "graded" or row["logs"] != expected_logs:
        raise CheckFailed(f"submission {pk} after the worker was {how}: {status}, passed={passed}, {row}")
    if not hard and row["attempts"] != 1:
        raise CheckFailed(f"a graceful restart should let the grading finish, once: {row}")
    if hard and row["attempts"] < 2:  # the kill came in the middle: a second attempt did the grading
        raise CheckFailed(f"the killed grading was not taken up again: {row}")
    say(
        f"ok    worker {how} mid-grading: submission {pk} graded once "
        f"(attempts {row['attempts']}, {row['logs']} review log) {time.monotonic() - started:.0f} s later"
    )


# ---- an Anki import: web -> shared volume -> worker -> shared volume -> web

# A 1x1 PNG; each run appends random bytes after its end (viewers ignore them), so its stored file is this run's.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d"
    "0000000049454e44ae426082"
)


def tiny_apkg(image: bytes) -> bytes:
    """A legacy Anki package (collection.anki2, schema 11) with one Basic note showing one image: stdlib only."""
    models = {
        "1": {
            "name": "Basic",
            "type": 0,
            "flds": [{"name": "Front", "ord": 0}, {"name": "Back", "ord": 1}],
            "tmpls": [{"ord": 0, "qfmt": "{{Front}}", "afmt": "{{FrontSide}}<hr id=answer>{{Back}}"}],
        }
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "collection.anki2"
        db = sqlite3.connect(path)
        db.executescript(
            "CREATE TABLE col (id INTEGER PRIMARY KEY, crt INTEGER, ver INTEGER, models TEXT, decks TEXT);"
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, guid TEXT, mid INTEGER, tags TEXT, flds TEXT);"
            "CREATE TABLE cards (id INTEGER PRIMARY KEY, nid INTEGER, did INTEGER, ord INTEGER, type INTEGER,"
            " queue INTEGER, due INTEGER, ivl INTEGER, factor INTEGER, reps INTEGER, lapses INTEGER);"
            "CREATE TABLE revlog (id INTEGER PRIMARY KEY, cid INTEGER, ease INTEGER, ivl INTEGER, lastIvl INTEGER,"
            " factor INTEGER, time INTEGER, type INTEGER);"
        )
        decks = json.dumps({"1": {"name": "Image check"}})
        db.execute("INSERT INTO col VALUES (1, ?, 11, ?, ?)", (int(time.time()), json.dumps(models), decks))
        db.execute(
            "INSERT INTO notes VALUES (1, ?, 1, '', ?)", (secrets.token_hex(5), 'A dot <img src="dot.png">\x1fA')
        )
        db.execute("INSERT INTO cards VALUES (1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0)")
        db.commit()
        db.close()
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(path, "collection.anki2")
            archive.writestr("media", json.dumps({"0": "dot.png"}))
            archive.writestr("0", image)
        return package.getvalue()


QUEUE_IMPORT = """
import base64, json
from django.core.files.base import ContentFile
from django.db import transaction
from cards.anki.admin import queue_import, save_upload
from cards.anki.models import AnkiImport
data = base64.b64decode({package!r})
with transaction.atomic():
    upload = save_upload(ContentFile(data))
    job = AnkiImport.objects.create(file_name="check.apkg", file_size=len(data), deck_slug="image-check", upload=upload)
    queue_import(job)
print("RESULT", json.dumps(job.pk))
"""
IMPORT_STATE = """
import json
from cards.anki.models import AnkiImport
from cards.models import Card
job = AnkiImport.objects.get(pk={pk})
questions = list(Card.objects.filter(deck__slug="image-check").values_list("question", flat=True))
print("RESULT", json.dumps({{"status": job.status, "error": job.error_message, "upload": job.upload,
    "worker": job.worker, "summary": job.summary, "questions": questions}}))
"""


def check_anki_import(browser: Browser, stack: Stack) -> None:
    """The admin's path without its form: the web saves an upload and queues it; the worker container imports it
    from the shared volume and stores the image there; the web container serves that image."""
    image = PNG + secrets.token_bytes(8)
    started = time.monotonic()
    package = base64.b64encode(tiny_apkg(image)).decode()
    pk = stack.django("web", QUEUE_IMPORT.format(package=package))
    deadline = time.monotonic() + 120
    while (state := stack.django("web", IMPORT_STATE.format(pk=pk)))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CheckFailed(f"Anki import {pk} not done after 120 s: {state}")
        time.sleep(1)
    if state["status"] != "done" or not state["worker"].startswith("worker@") or state["upload"]:
        raise CheckFailed(f"Anki import {pk}: {state}")
    left = stack.exec("worker", "sh", "-c", 'ls -A "$ANKI_UPLOAD_DIR"').stdout.split()
    if left:
        raise CheckFailed(f"the upload folder still holds {left} after the import")
    src = f"/media/cards/{hashlib.sha256(image).hexdigest()}.png"
    if state["questions"] != [f'A dot <img src="{src}">']:
        raise CheckFailed(f"the imported card does not show the stored image {src}: {state['questions']}")
    conn = http.client.HTTPConnection(browser.base.hostname, browser.base.port, timeout=30)
    try:
        conn.request("GET", src, headers={"Host": "localhost"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    headers = {k.lower(): v for k, v in response.getheaders()}
    if (
        response.status != 200
        or body != image
        or headers.get("content-type") != "image/png"
        or headers.get("x-content-type-options") != "nosniff"
        or "immutable" not in headers.get("cache-control", "")
    ):
        raise CheckFailed(f"GET {src} from the web: {response.status} {headers} {body[:40]!r}")
    say(
        f"ok    Anki import {pk}: queued by the web, imported by {state['worker']} from the shared volume, its image "
        f"served by the web container ({len(body)} bytes, image/png, {time.monotonic() - started:.1f} s in all)"
    )


# ---- inside the containers


def check_challenges(stack: Stack) -> None:
    slugs = stack.exec("worker", "ls", CATALOG).stdout.split()
    slugs = [s for s in slugs if not s.startswith("_")]
    if not slugs:
        raise CheckFailed("no challenge in the worker image")
    for slug in slugs:
        files = stack.exec("worker", "ls", f"{CATALOG}/{slug}").stdout.split()
        for kind, must_pass in (("reference", True), ("starter", False)):
            name = next((f for f in files if f.startswith(kind + ".")), None)
            if name is None:
                raise CheckFailed(f"{slug} has no {kind}")
            started = time.monotonic()
            proc = stack.exec(
                "worker", "python", "manage.py", "grade", slug, f"{CATALOG}/{slug}/{name}", "--json", check=False
            )
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                raise CheckFailed(
                    f"grading {slug}'s {kind} in the worker: exit {proc.returncode}: {proc.stderr[-600:]}"
                )
            verdict = json.loads(lines[-1])
            if verdict["passed"] is not must_pass:
                raise CheckFailed(f"{slug}'s {kind} {'failed' if must_pass else 'passed'}: {verdict.get('feedback')}")
            say(
                f"ok    {slug}: {kind} {'passes' if must_pass else 'fails'} in the worker "
                f"(quality {verdict['quality']}, {time.monotonic() - started:.1f} s)"
            )


HELLO = "import os, sys\nprint('hello from uid', os.getuid(), 'python', sys.version.split()[0])\n"
SPIN = "while True:\n    pass\n"


def sandbox_run(stack: Stack, code: str, *args: str) -> tuple[int, str, str]:
    name = f"/tmp/image-test-{secrets.token_hex(4)}.py"  # noqa: S108 (the worker container's own tmpfs)
    stack.exec("worker", "sh", "-c", f"cat > {name}", stdin=code)
    try:
        proc = stack.exec("worker", "python", "manage.py", "sandbox_run", name, *args, check=False, timeout=120)
    finally:
        stack.exec("worker", "rm", "-f", name, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def check_sandbox_run(stack: Stack) -> None:
    code, out, err = sandbox_run(stack, HELLO)
    match = re.search(r"hello from uid (\d+)", out)
    if code != 0 or not match or int(match.group(1)) == 0:
        raise CheckFailed(f"sandbox_run in the worker: exit {code}: {out} {err[-400:]}")
    code, out, err = sandbox_run(stack, SPIN, "--wall-seconds", "1")
    if code != 1 or "wall_seconds" not in err:
        raise CheckFailed(f"a spinning run was not stopped at its wall limit: exit {code}: {err[-400:]}")
    say(
        f"ok    sandbox_run in the worker: runs as uid {match.group(1)}; a spinning run is stopped at its 1 s wall"
        " limit"
    )


def check_nothing_left(stack: Stack) -> None:
    """After every grading and run so far (through Celery and through `podman exec`), no process of a
    sandbox uid is left in the worker container: none running, and no zombie waiting to be reaped."""
    listing = stack.exec(
        "worker", "sh", "-c", "cat /proc/[0-9]*/status 2>/dev/null | awk '/^State:/ { s = $2 } /^Uid:/ { print $2, s }'"
    ).stdout.split("\n")
    left = [line for line in listing if line.strip() and int(line.split()[0]) >= SANDBOX_UID_BASE]
    if left:
        raise CheckFailed(f"processes of sandbox uids left in the worker (uid, state): {left}")
    zombies = sum(1 for line in listing if line.strip().endswith(" Z"))
    say(f"ok    nothing left in the worker after the gradings and runs: no sandbox process, {zombies} zombies")


def check_web_unprivileged(stack: Stack) -> None:
    status = stack.exec("web", "cat", "/proc/1/status").stdout
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
    caps = re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M)
    if not uid or uid.group(1) == "0" or uid.group(2) == "0" or int(caps.group(1), 16) != 0:
        raise CheckFailed(f"the web container's gunicorn: {status}")
    user = stack.exec("web", "id", "-un").stdout.strip()
    writable = stack.exec("web", "sh", "-c", "touch /app/x 2>/dev/null && echo yes || echo no").stdout.strip()
    if writable != "no":
        raise CheckFailed("the web user can write to /app")
    say(f"ok    the web container runs gunicorn as {user} (uid {uid.group(1)}), no capabilities, /app read-only to it")


def check_healthchecks(stack: Stack) -> None:
    for service in ("postgres", "redis", "web", "worker", "beat"):
        run(["podman", "healthcheck", "run", stack.container(service)], timeout=60)
    for image in ("web", "worker"):
        inspect = ["podman", "image", "inspect", "--format", "{{json .HealthCheck}}", f"studyapp-{image}:latest"]
        found = run(inspect).stdout
        if "CMD" not in found:
            raise CheckFailed(f"the {image} image has no HEALTHCHECK (built in the OCI format?): {found}")
    say("ok    healthchecks pass: postgres, redis, web, worker, beat; both images carry their HEALTHCHECK")


# Each capability and security option of the worker, taken away one at a time: each must break the
# sandbox or a grader (except where the engine's own default already covers it, which is reported).
PROBE = REPO / "scripts/image_probe.sh"


def probe(stack: Stack, cap_drop: list[str], cap_add: list[str], security_opt: list[str]) -> dict[str, str]:
    worker = stack.config["services"]["worker"]
    env = [f"--env={k}={v}" for k, v in worker["environment"].items()] + ["--env=LOG_LEVEL=WARNING"]
    args = ["podman", "run", "--rm", "--no-healthcheck", f"--network={stack.network()}"]
    args += ["--label=studyapp-image-test=1", f"--volume={PROBE}:/probe.sh:ro"]
    args += [f"--tmpfs={path}" for path in worker.get("tmpfs", [])]
    args += [f"--cap-drop={c}" for c in cap_drop] + [f"--cap-add={c}" for c in cap_add]
    args += [f"--security-opt={o}" for o in security_opt]
    args += [*env, worker["image"], "sh", "/probe.sh"]
    proc = run(args, check=False, timeout=180)
    results = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    return {key: results.get(key, f"no answer ({proc.stderr[-200:]})") for key in ("sandbox_run", "limits", "grading")}


def check_capabilities(stack: Stack) -> None:
    worker = stack.config["services"]["worker"]
    cap_drop, cap_add, options = worker.get("cap_drop", []), worker["cap_add"], worker["security_opt"]
    if cap_drop != ["ALL"]:
        raise CheckFailed(f"the worker should drop every capability it does not list: cap_drop {cap_drop}")
    full = probe(stack, cap_drop, cap_add, options)
    if set(full.values()) != {"ok"}:
        raise CheckFailed(f"the worker's own settings fail the probe: {full}")
    say(f"ok    worker capabilities {', '.join(cap_add)} and {', '.join(options)}: sandbox, limits and grading work")
    for cap in cap_add:
        results = probe(stack, cap_drop, [c for c in cap_add if c != cap], options)
        broken = {k: v for k, v in results.items() if v != "ok"}
        if not broken:
            raise CheckFailed(f"without {cap} the sandbox and the graders still work: it is not needed")
        what, why = next(iter(broken.items()))
        say(f"ok      without {cap}: {', '.join(broken)} fail ({why[:110].strip()})")
    for option in options:
        rest = [o for o in options if o != option]
        broken = {k: v for k, v in probe(stack, cap_drop, cap_add, rest).items() if v != "ok"}
        if broken:
            what, why = next(iter(broken.items()))
            say(f"ok      without {option}: {', '.join(broken)} fail ({why[:110].strip()})")
        elif option.startswith("apparmor="):
            say(f"ok      without {option}: works here (this host has no AppArmor; Docker's profile is what it is for)")
        else:
            say(f"ok      without {option}: works under podman's default profile (kept for Docker's; untested here)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--base", required=True, help="the web's URL on this machine")
    parser.add_argument("--compose", required=True, help="the podman-compose command and global options")
    parser.add_argument("--skip-hard-restart", action="store_true")
    args = parser.parse_args()
    stack = Stack(args.project, shlex.split(args.compose))
    browser = Browser(args.base)
    steps = [
        ("health", lambda: check_healthz(browser, stack)),
        ("healthchecks", lambda: check_healthchecks(stack)),
        ("web user", lambda: check_web_unprivileged(stack)),
        ("http", lambda: (answer_one_review(browser, stack, sign_up(browser)), submit_over_http(browser, stack))),
        ("anki import", lambda: check_anki_import(browser, stack)),
        ("sandbox_run", lambda: check_sandbox_run(stack)),
        ("challenges", lambda: check_challenges(stack)),
        ("leftovers", lambda: check_nothing_left(stack)),
        ("capabilities", lambda: check_capabilities(stack)),
        ("restart", lambda: restart_mid_grading(browser, stack, hard=False)),
    ]
    if not args.skip_hard_restart:
        steps.append(("hard restart", lambda: restart_mid_grading(browser, stack, hard=True)))
    for name, step in steps:
        try:
            step()
        except (CheckFailed, subprocess.TimeoutExpired, KeyError, ValueError, StopIteration) as exc:
            say(f"FAIL  {name}: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
