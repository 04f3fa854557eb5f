"""Project-wide middleware: security headers, error pages, a page for a database outage, request ids in logs."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader

from studyapp import logs

logger = logging.getLogger(__name__)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response that has none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = settings.CONTENT_SECURITY_POLICY
        self.permissions = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.csp:
            response.headers.setdefault("Content-Security-Policy", self.csp)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        return response


class ErrorPageMiddleware:
    """Gives an empty error response the app's own page: `HttpResponseNotAllowed` (405) above all.

    Django renders 400/403/404/500 pages itself (templates/400.html ... 500.html), but a view
    that refuses a method (`require_POST`, a class-based view) answers 405 with no body at all,
    and a bare `HttpResponse(status=429)` or `HttpResponseForbidden()` is blank too. A response
    with content, or that is not HTML, is left as it is; headers such as Allow and Retry-After
    are kept.
    """

    templates = {400: "400.html", 403: "403.html", 404: "404.html", 405: "405.html", 429: "429.html"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        template = self.templates.get(response.status_code)
        if template is None or response.streaming or response.content:
            return response
        if not response.get("Content-Type", "text/html").startswith("text/html"):
            return response
        retry_after = response.get("Retry-After", "")
        context = {"retry_after": int(retry_after) if retry_after.isdigit() else None}
        response.content = loader.render_to_string(template, context, request=request)
        return response


class DatabaseUnavailableMiddleware:
    """Turns "cannot reach the database" into a 503 page saying nothing was saved, instead of a 500.

    Views that write do so inside `transaction.atomic()`, so an error raised
    half-way rolls back the whole change; this page tells the learner so.
    """

    retry_after_seconds = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer 503 for connection-level database errors; leave every other error to Django."""
        if not is_database_unavailable(exception):
            return None
        logger.error("database unavailable: %s", type(exception).__name__, exc_info=exception)
        body = loader.render_to_string("503.html", {"retry_after": self.retry_after_seconds})
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(self.retry_after_seconds)
        if request.headers.get("HX-Request") == "true":
            # htmx swaps no 5xx answer, so the learner would see nothing: reload the page instead,
            # which shows this page while the outage lasts and the waiting card once it is over.
            response["HX-Refresh"] = "true"
        return response


def is_database_unavailable(exception: BaseException) -> bool:
    """True for errors that mean the database could not be reached or used, not that a query was wrong."""
    if isinstance(exception, OperationalError | InterfaceError):
        return True
    # Some drivers raise a plain DatabaseError for a dropped connection.
    return isinstance(exception, DatabaseError) and "connection" in str(exception).lower()


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestLogContextMiddleware:
    """Binds a request id (the client's X-Request-ID if sane, else a new one) to every log record of the request.

    It reads nothing from the database, so it cannot fail while the database is down.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        with logs.bind(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
