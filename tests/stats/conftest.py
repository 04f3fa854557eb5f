"""The stats tests' learner: in Auckland (UTC+13 until 6 April 2025, then UTC+12), on Thursday 10 April 2025."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

AUCKLAND = ZoneInfo("Pacific/Auckland")
TODAY = dt.date(2025, 4, 10)
# 09:00 on Thursday 10 April in Auckland is still Wednesday 9 April in UTC.
NOW = dt.datetime(2025, 4, 10, 9, 0, tzinfo=AUCKLAND)


def local(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An instant at `hour`:`minute` on `day` in Auckland."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=AUCKLAND)


def april(day: int) -> dt.date:
    return dt.date(2025, 4, day)


def march(day: int) -> dt.date:
    return dt.date(2025, 3, day)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Fix the current instant (django.utils.timezone.now, which the views and Profile.today read) at NOW."""

    def set_to(instant: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: instant.astimezone(dt.UTC))

    set_to(NOW)
    return set_to


def text_of(html: str) -> str:
    """The page's text without tags, whitespace collapsed: what the learner reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def element(html: str, element_id: str) -> str:
    """The text inside the element with this id (tables, paragraphs), tags removed."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return text_of(match.group(2))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, each a list of its cells' texts."""
    match = re.search(rf'<table[^>]*\bid="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert match, f"no table #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", match.group(1), re.S).group(1)
    return [
        [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
