"""Instants for the tests."""

from __future__ import annotations

import datetime as dt


def utc(*args: int) -> dt.datetime:
    """An aware UTC instant: utc(2026, 1, 15, 19)."""
    return dt.datetime(*args, tzinfo=dt.UTC)
