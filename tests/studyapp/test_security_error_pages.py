"""Error pages: 400, 403, 404, 405, 429 and 500 are the app's own, say what happened, and fit a phone.

Django renders 400/403/404/500 from templates/ when DEBUG is off; a view that refuses a method
(`require_POST`, class-based views) answers a blank 405, and a bare 429 or 403 is blank too:
studyapp.middleware.ErrorPageMiddleware gives those the same pages. Nothing here shows the URL
list, a traceback or a setting.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import render
from django.test import Client
from django.urls import include, path

from tests import browser
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _forbidden(request):
    raise PermissionDenied


def _broken(request):
    raise RuntimeError("boom: a bug in a view")


def _bare_429(request):
    return HttpResponse(status=429, headers={"Retry-After": "30"})


def _rendered_429(request):
    context = {"message": "You have asked for too many things at once.", "minutes": 2}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = "120"
    return response


def _bare_403(request):
    return HttpResponseForbidden()


def _json_405(request):
    return HttpResponseNotAllowed(["POST"], content_type="application/json")


# The project's URLs, plus a few views that fail on purpose.
urlpatterns = [
    path("test-errors/forbidden/", _forbidden),
    path("test-errors/broken/", _broken),
    path("test-errors/bare-429/", _bare_429),
    path("test-errors/rendered-429/", _rendered_429),
    path("test-errors/bare-403/", _bare_403),
    path("test-errors/json-405/", _json_405),
    path("", include("studyapp.urls")),
]

LEAKS = ("URLconf", "urlpatterns", "Traceback", "boom", "DEBUG", "test-errors/", "SECRET_KEY")


def _is_app_page(html: str) -> bool:
    return 'class="site-header"' in html and "/static/css/app.css" in html and '<main id="main"' in html


def _assert_no_leak(html: str) -> None:
    for leak in LEAKS:
        assert leak not in html, leak


def test_404_is_the_apps_page_with_no_url_list(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert [t.name for t in response.templates][0] == "404.html"
    html = response.content.decode()
    assert _is_app_page(html) and "Page not found" in html and 'href="/accounts/login/"' in html
    _assert_no_leak(html)
    assert "no-such-page" not in html  # the path is not echoed back


def test_404_for_a_logged_in_learner_offers_the_review(client: Client, settings) -> None:
    client.force_login(make_user())
    html = client.get("/no-such-page/").content.decode()
    assert "Review today" in html and "Log out" in html


def test_get_on_a_post_only_url_is_a_405_page_not_a_blank_one(client: Client) -> None:
    response = client.get("/accounts/logout/")  # Django's LogoutView takes POST only
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    html = response.content.decode()
    assert _is_app_page(html) and "only works from its form" in html and "Nothing was changed" in html
    _assert_no_leak(html)


def test_405_on_an_app_view_keeps_its_headers(client: Client, settings) -> None:
    client.force_login(make_user())
    response = client.put("/reminders/unsubscribe/x/")
    assert response.status_code == 405 and response["Allow"] == "GET, POST"
    assert "only works from its form" in response.content.decode()


@pytest.mark.urls(__name__)
def test_403_from_permission_denied_and_from_a_bare_response(client: Client) -> None:
    for url in ("/test-errors/forbidden/", "/test-errors/bare-403/"):
        response = client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert _is_app_page(html) and "You can't open this page" in html, url
        _assert_no_leak(html)


def test_a_csrf_failure_is_the_apps_page_saying_what_to_do() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "someone", "password": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert _is_app_page(html) and "This form has expired" in html and "reload the page" in html
    assert "CSRF verification failed" not in html  # not Django's own page, whose inline style the CSP blocks


@pytest.mark.urls(__name__)
def test_429_pages_bare_and_rendered(client: Client) -> None:
    bare = client.get("/test-errors/bare-429/")
    assert bare.status_code == 429 and bare["Retry-After"] == "30"
    html = bare.content.decode()
    assert _is_app_page(html) and "Too many requests" in html and "about 30 seconds" in html
    rendered = client.get("/test-errors/rendered-429/")
    html = rendered.content.decode()
    assert rendered.status_code == 429 and "too many things at once" in html and "in 2 minutes" in html


@pytest.mark.urls(__name__)
def test_500_is_the_apps_page_without_the_error() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/test-errors/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert _is_app_page(html) and "Something went wrong on our side" in html
    _assert_no_leak(html)


def test_400_for_a_host_the_app_does_not_serve(client: Client) -> None:
    response = client.get("/accounts/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    html = response.content.decode()
    assert _is_app_page(html) and "could not be understood" in html
    _assert_no_leak(html)


@pytest.mark.urls(__name__)
def test_non_html_and_non_empty_error_responses_are_left_alone(client: Client) -> None:
    response = client.get("/test-errors/json-405/")
    assert response.status_code == 405 and response.content == b""
    # A view's own 429 page (the log-in throttle's, say) is not replaced.
    assert b"too many things at once" in client.get("/test-errors/rendered-429/").content


@pytest.mark.browser
@pytest.mark.chromium
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(__name__)
def test_every_error_page_fits_a_390px_phone_under_the_csp(live_server, async_unsafe_orm, settings) -> None:
    user = make_user(password=PASSWORD)
    pages = {
        "/no-such-page/": (404, "Page not found"),
        "/accounts/logout/": (405, "only works from its form"),
        "/test-errors/forbidden/": (403, "You can't open this page"),
        "/test-errors/bare-429/": (429, "Too many requests"),
        "/test-errors/broken/": (500, "Something went wrong"),
    }
    viewport = {"width": 390, "height": 844}
    with browser.browser_page(live_server.url, viewport=viewport, is_mobile=True, has_touch=True) as (page, errors):
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        page.context.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
        )
        for logged_in in (False, True):
            if logged_in:
                page.goto("/accounts/login/")
                page.fill("input[name=username]", user.username)
                page.fill("input[name=password]", PASSWORD)
                page.click("form [type=submit]")
                page.wait_for_url(lambda url: "/accounts/login/" not in url)
            for url, (status, heading) in pages.items():
                response = page.goto(url)
                assert response.status == status, url
                assert heading in page.locator("h1").inner_text(), url
                width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                assert width[0] <= width[1], f"{url} is {width[0]} px wide on a {width[1]} px phone"
                link = page.locator("main a.button").first
                assert link.is_visible() and link.bounding_box()["height"] >= 40, url  # a thumb-sized way out
                assert page.evaluate("window.__csp") == [], url
    assert not [line for line in console if "Content Security Policy" in line], console
    assert errors == []
