"""Security headers: a Content-Security-Policy of the app's own origin on every response,
and HSTS, secure cookies and the HTTPS redirect in production settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.production_helpers import production_env, run_django

pytestmark = pytest.mark.django_db


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/review/", "/no-such-page/", "/static/css/app.css"])
def test_every_kind_of_response_carries_the_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    directives = _csp(response)
    assert directives["default-src"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_the_policy_allows_only_the_apps_own_origin(client: Client) -> None:
    directives = _csp(client.get("/accounts/login/"))
    # Every source list names only 'self' (and data: images); nothing inline, no eval, no other host.
    for name, value in directives.items():
        sources = value.split()
        assert set(sources) <= {"'self'", "'none'", "data:"}, f"{name} allows {sources}"
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"


def test_pages_load_their_scripts_and_styles_from_the_app_only(client: Client) -> None:
    """The CSP would block inline script: the login page (the one every visitor sees) must have none."""
    html = client.get("/accounts/login/").content.decode()
    assert "<script>" not in html.replace(" ", "")
    assert '<script src="http' not in html and '<link rel="stylesheet" href="http' not in html
    assert ' style="' not in html
    assert " onclick=" not in html and " onload=" not in html


def test_development_settings_do_not_force_https(client: Client, settings) -> None:
    assert not settings.SESSION_COOKIE_SECURE
    assert "Strict-Transport-Security" not in client.get("/accounts/login/").headers


PRODUCTION_PROBE = """
from django.test import Client
from django.test.utils import override_settings
from django.conf import settings

# The hashed-static manifest comes from collectstatic at image build time; the probe renders
# pages without it, so only the static storage is swapped. Every security setting is the real one.
storages = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    client = Client(HTTP_HOST="study.example.test")
    plain = client.get("/accounts/login/")
    secure = client.get("/accounts/login/", secure=True)
    health = client.get("/healthz?require=database")
    csrf_cookie = secure.cookies.get(settings.CSRF_COOKIE_NAME)
result = {
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location", ""),
    "secure_status": secure.status_code,
    "hsts": secure.headers.get("Strict-Transport-Security", ""),
    "csp": secure.headers.get("Content-Security-Policy", ""),
    "csrf_cookie_secure": bool(csrf_cookie and csrf_cookie["secure"]),
    "csrf_cookie_present": csrf_cookie is not None,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "health_status": health.status_code,
    "debug": settings.DEBUG,
}
"""


def test_production_turns_on_hsts_secure_cookies_and_the_https_redirect(tmp_path: Path) -> None:
    result = run_django(production_env(tmp_path), PRODUCTION_PROBE)
    assert result["debug"] is False
    assert result["plain_status"] == 301
    assert result["plain_location"] == "https://study.example.test/accounts/login/"
    assert result["secure_status"] == 200
    assert "max-age=31536000" in result["hsts"]
    assert "includeSubDomains" in result["hsts"] and "preload" in result["hsts"]
    assert "default-src 'self'" in result["csp"]
    assert result["csrf_cookie_present"] and result["csrf_cookie_secure"]
    assert result["session_cookie_secure"] and result["session_cookie_httponly"]
    # The health probe answers over plain HTTP inside the container network (no redirect).
    assert result["health_status"] in (200, 503)
