"""Fixed-window rate limits kept in the shared cache (Redis), usable by any view.

A limit is `limit` hits per `window` seconds for one key (an IP, an IP and a
username, a user id). The counter lives in the cache under a key that names the
window it belongs to, so it expires by itself and every web process, on every
machine, counts into the same place.

When the cache is unreachable the limiter lets the request through and logs a
warning: a learner must still be able to log in and review while Redis is down;
the protection comes back with Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window` seconds, counted under `scope`."""

    scope: str
    limit: int
    window: int


@dataclass(frozen=True)
class Decision:
    """The outcome of one check: whether it is allowed, the count so far and when the window ends."""

    allowed: bool
    count: int
    retry_after: int


def _cache_key(limit: Limit, key: str, window_index: int) -> str:
    # Hash the key so usernames with spaces or odd characters make valid cache keys
    # and never appear in Redis in clear.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"ratelimit:{limit.scope}:{digest}:{window_index}"


def _window(limit: Limit, now: float) -> tuple[int, int]:
    index = int(now // limit.window)
    retry_after = max(1, int((index + 1) * limit.window - now))
    return index, retry_after


def hit(limit: Limit, key: str, now: float | None = None) -> Decision:
    """Count one hit for `key` and say whether it is within the limit."""
    now = time.time() if now is None else now
    index, retry_after = _window(limit, now)
    cache_key = _cache_key(limit, key, index)
    try:
        # add() creates the counter only if absent; incr() is atomic in Redis.
        cache.add(cache_key, 0, timeout=limit.window + 1)
        count = cache.incr(cache_key)
    except ValueError:
        # The key expired between add() and incr(): start the window again.
        cache.set(cache_key, 1, timeout=limit.window + 1)
        count = 1
    except Exception:  # the cache is down: fail open, loudly
        logger.warning("rate limit %s not enforced: cache unavailable", limit.scope, exc_info=True)
        return Decision(allowed=True, count=0, retry_after=0)
    return Decision(allowed=count <= limit.limit, count=count, retry_after=retry_after)


def peek(limit: Limit, key: str, now: float | None = None) -> Decision:
    """Say whether one more hit for `key` would be allowed, without counting it."""
    now = time.time() if now is None else now
    index, retry_after = _window(limit, now)
    try:
        count = int(cache.get(_cache_key(limit, key, index), 0))
    except Exception:
        logger.warning("rate limit %s not checked: cache unavailable", limit.scope, exc_info=True)
        return Decision(allowed=True, count=0, retry_after=0)
    return Decision(allowed=count < limit.limit, count=count, retry_after=retry_after)


def reset(limit: Limit, key: str, now: float | None = None) -> None:
    """Forget the hits counted for `key` in the current window (e.g. after a successful log-in)."""
    now = time.time() if now is None else now
    index, _ = _window(limit, now)
    try:
        cache.delete(_cache_key(limit, key, index))
    except Exception:
        logger.warning("rate limit %s not reset: cache unavailable", limit.scope, exc_info=True)
