"""Log-in throttling: failed attempts counted per IP + username and per IP, in Redis.

The middleware stands in front of whatever view serves the URL named `login`,
so the accounts views stay plain Django `LoginView`s. Only failures count
(Django's `user_login_failed` signal); a successful log-in clears the counter
for that IP + username. Once a limit is reached, further POSTs get a 429 page
saying how long to wait, before the password is even checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studyapp import ratelimit

logger = logging.getLogger(__name__)

LOGIN_URL_NAMES = frozenset({"login"})


def account_limit() -> ratelimit.Limit:
    """Failed log-ins allowed for one username from one address per window."""
    return ratelimit.Limit("login-account", settings.LOGIN_FAILURES_PER_ACCOUNT, settings.LOGIN_FAILURE_WINDOW)


def address_limit() -> ratelimit.Limit:
    """Failed log-ins allowed from one address, whatever the usernames, per window."""
    return ratelimit.Limit("login-address", settings.LOGIN_FAILURES_PER_ADDRESS, settings.LOGIN_FAILURE_WINDOW)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry NUM_PROXIES hops back in X-Forwarded-For.

    Only the proxies we run ourselves are trusted: a client can put anything at
    the front of X-Forwarded-For, so the address is read from the end.
    """
    proxies = settings.NUM_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _username(value: object) -> str:
    return str(value or "").strip().lower()[:150]


def _keys(request: HttpRequest, username: str) -> tuple[str, str]:
    ip = client_ip(request)
    return f"{ip}|{username}", ip


@receiver(user_login_failed, dispatch_uid="cards.accounts.login_throttle.count_failure")
def count_failure(sender: object, credentials: dict, request: HttpRequest | None = None, **kwargs: object) -> None:
    """Count a failed log-in against the address and the address + username."""
    if request is None:
        return
    account_key, address_key = _keys(request, _username(credentials.get("username")))
    ratelimit.hit(account_limit(), account_key)
    ratelimit.hit(address_limit(), address_key)


@receiver(user_logged_in, dispatch_uid="cards.accounts.login_throttle.clear_on_success")
def clear_on_success(sender: object, request: HttpRequest | None, user: object, **kwargs: object) -> None:
    """A successful log-in forgets that account's failures from this address."""
    if request is None:
        return
    account_key, _ = _keys(request, _username(getattr(user, "get_username", lambda: "")()))
    ratelimit.reset(account_limit(), account_key)


class LoginThrottleMiddleware:
    """Answers 429 to log-in POSTs once the failures counted for them reach a limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, args: tuple, kwargs: dict) -> HttpResponse | None:
        """Refuse a log-in POST early when this address, or this address + username, is over its limit."""
        match = request.resolver_match
        if request.method != "POST" or match is None or match.url_name not in LOGIN_URL_NAMES:
            return None
        account_key, address_key = _keys(request, _username(request.POST.get("username")))
        for limit, key in ((account_limit(), account_key), (address_limit(), address_key)):
            decision = ratelimit.peek(limit, key)
            if not decision.allowed:
                logger.warning("log-in throttled", extra={"scope": limit.scope, "client_ip": client_ip(request)})
                minutes = max(1, round(decision.retry_after / 60))
                response = render(
                    request,
                    "registration/login_throttled.html",
                    {"retry_after": decision.retry_after, "minutes": minutes},
                    status=429,
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
        return None
