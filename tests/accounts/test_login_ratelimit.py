"""Log-in rate limits (cards/accounts/login_throttle.py over studyapp/ratelimit.py), against the real Redis cache."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.test import Client

from studyapp import ratelimit
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _a_wide_window(settings) -> None:
    # Fixed windows start at multiples of their length: a wide one keeps a test's attempts in one.
    settings.LOGIN_FAILURE_WINDOW = 1_000_000


_addresses = itertools.count(1)


def _address() -> str:
    """A client address no other call returned (the counters themselves start empty: conftest.py flushes Redis)."""
    n = next(_addresses)
    return f"10.0.{n // 250 % 250}.{n % 250 + 1}"


def _login(client: Client, username: str, password: str, address: str):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_failed_log_ins_for_one_account_are_throttled_with_a_clear_message(client: Client, settings) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = make_user()
    address = _address()
    for _ in range(3):
        response = _login(client, user.username, "wrong password", address)
        assert response.status_code == 200  # the form again, with its error
    # The limit is reached: even the right password is refused until the window ends.
    response = _login(client, user.username, PASSWORD, address)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Too many log-in attempts" in body and "try again in" in body
    assert "_auth_user_id" not in client.session


def test_the_throttle_is_per_address_and_username(client: Client, settings) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    victim, other = make_user(), make_user()
    attacker = _address()
    for _ in range(2):
        _login(client, victim.username, "guess", attacker)
    assert _login(client, victim.username, "guess", attacker).status_code == 429
    # The same account from another address, and another account from the same address, still work.
    assert _login(Client(), victim.username, PASSWORD, _address()).status_code == 302
    assert _login(Client(), other.username, PASSWORD, attacker).status_code == 302


def test_usernames_are_compared_without_case_or_spaces(client: Client, settings) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    user = make_user()
    address = _address()
    _login(client, user.username.upper(), "guess", address)
    _login(client, f"  {user.username} ", "guess", address)
    assert _login(client, user.username, PASSWORD, address).status_code == 429


def test_one_address_trying_many_usernames_is_throttled(client: Client, settings) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    address = _address()
    for n in range(4):
        assert _login(client, f"nobody-{uuid.uuid4().hex[:8]}-{n}", "guess", address).status_code == 200
    user = make_user()
    assert _login(client, user.username, PASSWORD, address).status_code == 429


def test_a_successful_log_in_clears_that_accounts_failures(client: Client, settings) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = make_user()
    address = _address()
    _login(client, user.username, "typo", address)
    _login(client, user.username, "typo again", address)
    assert _login(client, user.username, PASSWORD, address).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        assert _login(client, user.username, "typo", address).status_code == 200
    assert _login(client, user.username, PASSWORD, address).status_code == 302


def test_the_client_address_comes_from_our_own_proxy_only(client: Client, settings) -> None:
    """With one trusted proxy the address is the last X-Forwarded-For entry; a forged first entry changes nothing."""
    settings.NUM_PROXIES = 1
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    user = make_user()
    real = _address()
    for n in range(2):
        client.post(
            "/accounts/login/",
            {"username": user.username, "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {real}",
        )
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR=f"198.51.100.77, {real}",
    )
    assert response.status_code == 429


def test_log_in_still_works_while_redis_is_down(client: Client, settings) -> None:
    """Fail open: learners must be able to log in and review while the cache is unreachable."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1
    user = make_user()
    address = _address()
    _login(client, user.username, "guess", address)
    assert _login(client, user.username, PASSWORD, address).status_code == 302


def test_fixed_window_counter_counts_and_expires() -> None:
    limit = ratelimit.Limit(f"test-{uuid.uuid4().hex}", limit=2, window=60)
    start = 60 * 20_000 + 20.0  # 20 s into a window
    assert ratelimit.hit(limit, "k", now=start) == ratelimit.Decision(True, 1, 40)
    assert ratelimit.hit(limit, "k", now=start + 1).allowed
    third = ratelimit.hit(limit, "k", now=start + 2)
    assert not third.allowed and third.count == 3 and third.retry_after == 38
    assert ratelimit.hit(limit, "other", now=start + 2).allowed
    assert not ratelimit.peek(limit, "k", now=start + 3).allowed
    assert ratelimit.hit(limit, "k", now=start + 41).allowed  # the next window
    ratelimit.reset(limit, "k", now=start + 41)
    assert ratelimit.peek(limit, "k", now=start + 41).count == 0
