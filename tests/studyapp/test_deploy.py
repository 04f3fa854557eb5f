"""Deployment files: the Dockerfile, docker-compose.yml and gunicorn.conf.py, checked against each other
and against the code (no Docker engine runs here, so the files are parsed, and gunicorn is run for real;
scripts/test_images.sh builds the images and runs the stack with podman)."""

from __future__ import annotations

import fnmatch
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import dockerfile
import httpx
import pytest
import yaml
from django.conf import settings

from tests.production_helpers import REPO, env_reads, production_env, run_django, run_manage

APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def stages() -> dict[str, list]:
    """Dockerfile instructions grouped by stage name."""
    grouped: dict[str, list] = {}
    current = None
    for command in dockerfile.parse_file(str(REPO / "Dockerfile")):
        if command.cmd == "FROM":
            current = command.value[-1] if len(command.value) >= 3 and command.value[1].upper() == "AS" else None
            grouped[current] = [command]
        elif current is not None:
            grouped[current].append(command)
    return grouped


def _instructions(stage: list, name: str) -> list:
    return [command for command in stage if command.cmd == name]


def test_the_dockerfile_is_multi_stage_on_slim_bookworm(stages: dict) -> None:
    assert set(stages) == {"build", "web", "worker"}
    first = dockerfile.parse_file(str(REPO / "Dockerfile"))[0]
    assert first.cmd == "ARG" and first.value == ("PYTHON_IMAGE=python:3.11-slim-bookworm",)
    assert stages["web"][0].value[0] == "${PYTHON_IMAGE}"  # web starts fresh: no build tools, no pip cache
    assert stages["worker"][0].value[0] == "web"
    web_copies = _instructions(stages["web"], "COPY")
    assert web_copies and all(command.flags == ("--from=build",) for command in web_copies)


def test_the_web_process_is_not_root_and_the_worker_runs_learners_code_as_the_sandbox_uids(
    stages: dict, compose: dict, tmp_path: Path
) -> None:
    web_user = _instructions(stages["web"], "USER")[-1].value[0]
    assert web_user.split(":")[0] not in ("root", "0")
    assert "useradd --system --uid 10001" in " ".join(_instructions(stages["web"], "RUN")[0].value)
    assert _instructions(stages["worker"], "USER")[-1].value[0] == "root"
    # Root only to set the sandbox up: the image installs it (its unprivileged user included) ...
    worker_runs = [" ".join(command.value) for command in _instructions(stages["worker"], "RUN")]
    assert any("scripts/install_sandbox.sh" in run for run in worker_runs), worker_runs
    # ... and the worker, with the environment compose gives it, runs code only as the sandbox's uids.
    env = production_env(tmp_path, **_compose_defaults(compose["services"]["worker"]["environment"]))
    uid_base, uid_count = run_django(
        env,
        "from cards.challenges.apps import sandbox_config\nc = sandbox_config()\nresult = [c.uid_base, c.uid_count]",
    )
    assert uid_base > 0 and uid_count > 0  # never uid 0 (SandboxConfig refuses it too)


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context(stages: dict) -> None:
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()]
    for needed in (".venv", ".git", "db.sqlite3*", "var", "tests"):
        assert needed in ignored
    for stage in stages.values():
        for command in _instructions(stage, "COPY"):
            if command.flags:
                continue
            for source in command.value[:-1]:
                assert (REPO / source).exists(), source
                assert not any(source == pattern or source.startswith(pattern + "/") for pattern in ignored), source


def test_the_build_context_keeps_every_file_the_app_needs_at_run_time() -> None:
    """Challenge prompts (.md), templates, static files, the sandbox's install script: none ignored."""
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [pattern for pattern in patterns if pattern and not pattern.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    needed = [
        name
        for name in tracked
        if name.startswith(("cards/", "studyapp/", "templates/", "static/", "deploy/", "scripts/"))
        or name in ("manage.py", "gunicorn.conf.py", "requirements.txt")
    ]
    assert any(name.endswith("prompt.md") for name in needed)
    ignored = [
        name
        for name in needed
        if any(fnmatch.fnmatch(name, pattern) or name.startswith(pattern.rstrip("/") + "/") for pattern in patterns)
    ]
    assert ignored == []


def test_the_images_commands_exist(stages: dict) -> None:
    web_cmd = _instructions(stages["web"], "CMD")[-1].value
    assert web_cmd == ("gunicorn", "--config", "gunicorn.conf.py", "studyapp.wsgi")
    worker_cmd = _instructions(stages["worker"], "CMD")[-1].value
    assert worker_cmd[:4] == ("celery", "-A", "studyapp", "worker")
    # An init as pid 1 (tini, also a subreaper) reaps what each sandboxed run leaves; then the entrypoint.
    init, *entrypoint = _instructions(stages["worker"], "ENTRYPOINT")[-1].value
    assert init == "/usr/bin/tini" and entrypoint[:2] == ["-s", "--"]
    assert any("install -y -qq --no-install-recommends tini" in " ".join(c.value) for c in stages["worker"])
    copied = [command.value for command in _instructions(stages["worker"], "COPY")]
    assert ("deploy/worker-entrypoint.sh", entrypoint[2]) in copied
    assert os.access(REPO / "deploy/worker-entrypoint.sh", os.X_OK)
    assert subprocess.run(["sh", "-n", str(REPO / "deploy/worker-entrypoint.sh")]).returncode == 0
    for stage in ("web", "worker"):
        assert _instructions(stages[stage], "HEALTHCHECK"), stage
    # No secret baked into an image: the build's throwaway key is generated inside its RUN step.
    assert not [c for stage in stages.values() for c in _instructions(stage, "ENV") if "SECRET_KEY" in c.value]


def test_compose_has_every_service_with_healthchecks_and_order(compose: dict, stages: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"
    for name in APP_SERVICES:
        assert services[name]["build"]["target"] in stages, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_sets_up_the_database_as_run_sh_does(compose: dict) -> None:
    """The deck and the challenges are there after `docker compose up`, as after run.sh."""
    steps = ["migrate --noinput", "load_seed --no-update", "load_challenges --no-update"]
    command = compose["services"]["migrate"]["command"]
    assert command[:2] == ["sh", "-c"]
    assert re.findall(r"manage\.py ([^&]+?)\s*(?:&&|$)", command[2]) == steps
    run_sh = (REPO / "scripts/run.sh").read_text()
    assert re.findall(r"manage\.py ((?:migrate|load_seed|load_challenges) --[\w-]+)", run_sh) == steps


def _compose_defaults(environment: dict[str, str]) -> dict[str, str]:
    """A compose service's environment with each ${NAME:-default} as its default (required ones left out)."""
    values = {}
    for name, value in environment.items():
        if ":?" in value:
            continue
        values[name] = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return values


@pytest.fixture(scope="module")
def app_env_reads(tmp_path_factory) -> dict[str, set[str]]:
    """The variables studyapp/settings.py and gunicorn.conf.py read, in production and in development (with
    and without SECRET_KEY), observed in a fresh interpreter, each with the file(s) that read it."""
    folder = tmp_path_factory.mktemp("env-reads")
    found: dict[str, set[str]] = {}
    development_without_key = production_env(folder, STUDYAPP_ENV="development", SECRET_KEY_FILE=str(folder / "key"))
    del development_without_key["SECRET_KEY"]
    for env in (production_env(folder), production_env(folder, STUDYAPP_ENV="development"), development_without_key):
        for name, files in env_reads(env).items():
            ours = files & {"studyapp/settings.py", "gunicorn.conf.py"}
            if ours:
                found.setdefault(name, set()).update(ours)
    return found


@pytest.fixture(scope="module")
def app_env_names(app_env_reads: dict[str, set[str]]) -> set[str]:
    return set(app_env_reads)


def test_compose_environment_is_what_the_app_reads(compose: dict, app_env_names: set[str]) -> None:
    known = app_env_names
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"} <= known
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name} sets {unknown}, which nothing reads"
        assert env["STUDYAPP_ENV"] == "production"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # required, never defaulted
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_the_worker_serves_every_queue_the_app_routes_to(compose: dict) -> None:
    command = compose["services"]["worker"]["command"]
    assert command[:4] == ["celery", "-A", "studyapp", "worker"]
    queues = set(command[command.index("--queues") + 1].split(","))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= queues
    assert command[command.index("--prefetch-multiplier") + 1] == str(settings.CELERY_WORKER_PREFETCH_MULTIPLIER)
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    run_sh = (REPO / "scripts/run.sh").read_text()
    assert "-Q sandbox,default" in run_sh or "--queues sandbox,default" in run_sh


# What the worker's sandbox and graders use, each taken away in turn by scripts/test_images.sh (which
# shows that every one is needed): SYS_PTRACE, for one, lets the graders read /proc/PID/fd of a run.
WORKER_CAPABILITIES = {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL"}


def test_only_the_worker_gets_namespace_privileges(compose: dict) -> None:
    worker = compose["services"]["worker"]
    assert worker["cap_drop"] == ["ALL"]  # the engine's other defaults (CHOWN, NET_RAW, MKNOD...) go
    assert set(worker["cap_add"]) == WORKER_CAPABILITIES
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(worker["security_opt"])
    for name in ("web", "beat", "migrate"):
        service = compose["services"][name]
        assert "cap_add" not in service and "security_opt" not in service and not service.get("privileged")
    assert not worker.get("privileged")


def test_the_deployment_doc_gives_each_worker_capability_its_reason() -> None:
    doc = (REPO / "docs/deployment.md").read_text()
    section = doc[doc.index("### What the worker container needs") : doc.index("## Which process needs")]
    for capability in WORKER_CAPABILITIES:
        assert f"`{capability}`" in section, capability
    assert "cap_drop: [ALL]" in section
    images = doc[doc.index("**The Docker images**") :]
    assert all(capability in images[:1200] for capability in WORKER_CAPABILITIES)
    compose_text = (REPO / "docker-compose.yml").read_text()
    for capability in WORKER_CAPABILITIES:  # and the compose file's own comment
        assert re.search(rf"#\s+(\S+/)?{capability}\b", compose_text), capability


PODMAN_UP = REPO / "deploy/podman-compose-up.sh"


def test_the_podman_sequence_follows_compose_depends_on(compose: dict) -> None:
    """deploy/podman-compose-up.sh starts the services in groups and waits itself (podman 4.3 cannot):
    each service starts after every service it depends on, whose condition is the wait its group had."""
    phases = re.findall(r"^phase ([\w ]+) -- (healthy|completed)$", PODMAN_UP.read_text(), re.M)
    started: dict[str, str] = {}
    for services, wait in phases:
        for name in services.split():
            for dependency, rule in compose["services"][name].get("depends_on", {}).items():
                assert dependency in started, f"{name} starts before {dependency}"
                expected = {"service_healthy": "healthy", "service_completed_successfully": "completed"}
                assert started[dependency] == expected[rule["condition"]], (name, dependency)
        for name in services.split():
            started[name] = wait
    assert sorted(started) == sorted(compose["services"])
    for name, wait in started.items():
        if wait == "healthy":
            assert compose["services"][name]["healthcheck"]["test"], name
        else:
            assert compose["services"][name]["restart"] == "no", name  # a one-shot step


def test_the_podman_sequence_builds_the_images_compose_runs(compose: dict, stages: dict) -> None:
    text = PODMAN_UP.read_text()
    assert "podman build --format docker" in text  # the OCI format would drop HEALTHCHECK
    targets = re.search(r"for target in ([\w ]+); do", text).group(1).split()
    assert '-t "studyapp-$target:latest"' in text
    built = {f"studyapp-{target}:latest": target for target in targets}
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert built[service["image"]] == service["build"]["target"], name
    assert set(targets) <= set(stages)


def test_the_image_test_scripts_parse_and_cover_every_base_image(compose: dict) -> None:
    for script in ("scripts/test_images.sh", "deploy/podman-compose-up.sh"):
        assert os.access(REPO / script, os.X_OK), script
        assert subprocess.run(["bash", "-n", str(REPO / script)]).returncode == 0, script
    for script in (
        "scripts/image_probe.sh",
        "deploy/standins/redis-entrypoint.sh",
        "deploy/standins/postgres-entrypoint.sh",
    ):
        assert os.access(REPO / script, os.X_OK), script
        assert subprocess.run(["sh", "-n", str(REPO / script)]).returncode == 0, script
    # Every image the Dockerfile and compose start from is pulled, or built as a stand-in, by the test.
    wanted = {dockerfile.parse_file(str(REPO / "Dockerfile"))[0].value[0].split("=", 1)[1]}
    wanted |= {service["image"] for service in compose["services"].values() if "build" not in service}
    test = (REPO / "scripts/test_images.sh").read_text()
    for image in wanted:
        match = re.search(rf"^(?:in_background )?ensure_image docker\.io/library/{re.escape(image)} (\S+)", test, re.M)
        assert match, image
        assert (REPO / match.group(1)).is_file(), match.group(1)


def test_the_deployment_doc_gives_the_commands_for_docker_and_podman() -> None:
    doc = (REPO / "docs/deployment.md").read_text()
    for command in (
        "docker compose up --build -d",
        "deploy/podman-compose-up.sh --build",
        "podman build --format docker --target web -t studyapp-web .",
        "podman build --format docker --target worker -t studyapp-worker .",
        "podman-compose up -d --no-deps postgres redis",
        "podman-compose -p studyapp down",
        "scripts/test_images.sh",
    ):
        assert command in doc, command
    assert "Docker is untested here" in doc


def _doc_table(heading: str) -> list[list[str]]:
    """The rows of the first table after `heading` in docs/deployment.md, as lists of cells."""
    doc = (REPO / "docs/deployment.md").read_text()
    rows = []
    for line in doc[doc.index(heading) :].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # after the header and its separator


def test_the_deployment_doc_lists_what_compose_runs_and_every_setting_the_app_reads(
    compose: dict, app_env_reads: dict[str, set[str]]
) -> None:
    # The services table: exactly compose's services, each built from the Dockerfile target compose uses.
    services = {row[0].strip("`"): row[1].strip("`") for row in _doc_table("## With Docker Compose")}
    assert set(services) == set(compose["services"])
    for name in APP_SERVICES:
        assert services[name] == compose["services"][name]["build"]["target"], name
    # The settings table: every variable the app reads is there, and nothing the app ignores.
    documented = {
        name for row in _doc_table("### Settings that matter") for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])
    }
    assert documented, "no settings table found"
    assert not documented - set(app_env_reads), "documented, but the app never reads it"
    # Every setting of studyapp/settings.py and of gunicorn.conf.py.
    read_by_us = {
        name
        for name, files in app_env_reads.items()
        if any(f.endswith(("studyapp/settings.py", "gunicorn.conf.py")) for f in files)
    }
    undocumented = read_by_us - documented
    assert not undocumented, f"read by the app but missing from docs/deployment.md: {sorted(undocumented)}"


def test_gunicorn_accepts_its_configuration(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--check-config", "--config", "gunicorn.conf.py",
         "studyapp.wsgi"],
        cwd=REPO, env=production_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_the_app_in_production_mode(tmp_path: Path) -> None:
    """The image's command, for real: production settings, the health probe over plain HTTP, the rest
    redirected to HTTPS, security headers on, and access-log lines with the request id and no query string."""
    port = _free_port()
    env = production_env(
        tmp_path,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        ALLOWED_HOSTS="localhost",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    # As in the image: nothing can be created in the home directory (there, the read-only /app; here a
    # file, as the tests run as root, whom permissions do not stop), and there is no XDG_RUNTIME_DIR.
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    env = {**env, "HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    # What the image's build stage does: hashed, compressed static files for whitenoise.
    collected = run_manage(env, "collectstatic", "--noinput", "-v0")
    assert collected.returncode == 0, collected.stderr
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "studyapp.wsgi"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Host": "localhost"}
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"{base}/healthz?require=database&token=hide-me", headers=headers, timeout=5)
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        assert health is not None, log.read_text()
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["database"]["ok"] is True
        assert "default-src 'self'" in health.headers["content-security-policy"]
        page = httpx.get(f"{base}/accounts/login/", headers=headers, timeout=5)
        assert page.status_code == 301 and page.headers["location"] == "https://localhost/accounts/login/"
        request_id = health.headers["x-request-id"]
        # Behind the TLS proxy (X-Forwarded-Proto), the page renders with hashed static URLs
        # that whitenoise serves compressed and cacheable forever.
        secure = httpx.get(f"{base}/accounts/login/", headers={**headers, "X-Forwarded-Proto": "https"}, timeout=5)
        assert secure.status_code == 200
        css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', secure.text).group(1)
        static = httpx.get(
            f"{base}{css}", headers={**headers, "X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}, timeout=5
        )
        assert static.status_code == 200
        assert static.headers["content-encoding"] == "gzip"
        assert "immutable" in static.headers["cache-control"]
        assert "default-src 'self'" in static.headers["content-security-policy"]
        # The site icon, named by every page and asked for at /favicon.ico by the admin's.
        icon = re.search(r'rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.svg)"', secure.text).group(1)
        legacy = httpx.get(f"{base}/favicon.ico", headers={**headers, "X-Forwarded-Proto": "https"}, timeout=5)
        assert legacy.status_code == 301 and legacy.headers["location"] == icon
        served = httpx.get(f"{base}{icon}", headers={**headers, "X-Forwarded-Proto": "https"}, timeout=5)
        assert served.status_code == 200 and served.headers["content-type"].startswith("image/svg+xml")
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert f"request_id={request_id}" in text
    assert "[ERROR]" not in text and "Control server" not in text, text  # no control socket to fail on
    assert "hide-me" not in text and env["SECRET_KEY"] not in text


def test_the_worker_healthcheck_names_the_node_without_relying_on_HOSTNAME(compose: dict, stages: dict) -> None:
    """podman's exec sessions have no HOSTNAME: the probe asks `hostname`, as Celery's %h does (gethostname)."""
    image = " ".join(_instructions(stages["worker"], "HEALTHCHECK")[0].value)
    service = compose["services"]["worker"]["healthcheck"]["test"][1].replace("$$", "$")
    for probe in (image, service):
        assert "HOSTNAME" not in probe
        node = re.search(r'--destination "(worker@[^"]+)"', probe).group(1)
        env = {key: value for key, value in os.environ.items() if key != "HOSTNAME"}
        named = subprocess.run(["sh", "-c", f'echo "{node}"'], env=env, capture_output=True, text=True, check=True)
        assert named.stdout.strip() == f"worker@{socket.gethostname()}"  # the worker's --hostname worker@%h
    assert "worker@%h" in compose["services"]["worker"]["command"]
