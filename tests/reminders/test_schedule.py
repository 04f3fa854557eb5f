"""The pure sending rule (local slots, estimates, teaser lines) and the beat entry admins see."""

from __future__ import annotations

import datetime as dt

import pytest
from django_celery_beat.models import PeriodicTask

from cards.reminders.schedule import (
    LocalSlot,
    estimate_minutes,
    group_zones,
    hour_reached,
    local_slot,
    seconds_per_card,
    teaser_line,
)
from cards.reminders.tasks import TASK_NAME
from tests.time_helpers import utc


def test_same_instant_two_local_days():
    now = utc(2026, 1, 15, 19)
    assert local_slot("Pacific/Auckland", now) == LocalSlot(dt.date(2026, 1, 16), 8)
    assert local_slot("Pacific/Honolulu", now) == LocalSlot(dt.date(2026, 1, 15), 9)
    assert local_slot("Pacific/Tongatapu", now) == LocalSlot(dt.date(2026, 1, 16), 8)


def test_spring_forward_gap_and_fall_back_overlap():
    assert local_slot("America/New_York", utc(2026, 3, 8, 6, 59)) == LocalSlot(dt.date(2026, 3, 8), 1)
    assert local_slot("America/New_York", utc(2026, 3, 8, 7, 0)) == LocalSlot(dt.date(2026, 3, 8), 3)
    assert hour_reached(LocalSlot(dt.date(2026, 3, 8), 3), 2)  # 02:00 never happened: 03:00 is after it
    first, second = utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)
    assert local_slot("America/New_York", first) == local_slot("America/New_York", second)


def test_unknown_zones_are_set_apart():
    groups, unknown = group_zones(["UTC", "Europe/London", "Mars/Base", "", "UTC"], utc(2026, 1, 20, 9))
    assert unknown == ["", "Mars/Base"]
    assert groups == {LocalSlot(dt.date(2026, 1, 20), 9): ["Europe/London", "UTC"]}


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="aware"):
        local_slot("UTC", dt.datetime(2026, 1, 20, 9))


def test_estimates():
    assert estimate_minutes(0, 0, None) == 0
    assert estimate_minutes(1, 0, None) == 1
    assert estimate_minutes(10, 0, 30_000) == 5
    assert estimate_minutes(0, 2, None) == 10
    assert seconds_per_card(50) == 3 and seconds_per_card(10**9) == 120


@pytest.mark.parametrize(
    ("question", "line"),
    [
        ("## Heading?\n\nbody", "Heading?"),
        ("\n\n  What is the GIL?  ", "What is the GIL?"),
        ("```python\ncode\n```", "(code question)"),
        ("In **synchronous** code, `time.sleep(1)` blocks", "In **synchronous** code, `time.sleep(1)` blocks"),
    ],
)
def test_teaser_line(question: str, line: str):
    assert teaser_line(question) == line


@pytest.mark.django_db
def test_beat_entry_exists_every_quarter_hour_and_points_at_the_registered_task():
    entry = PeriodicTask.objects.get(task=TASK_NAME)
    assert entry.enabled and entry.crontab.minute == "*/15" and entry.crontab.hour == "*"
    assert str(entry.crontab.timezone) == "UTC"

    from studyapp.celery import app

    app.loader.import_default_modules()
    assert TASK_NAME in app.tasks
