"""Reminder emails: who is due one at an instant, claiming each exactly once, sending them.

Who: a learner with an active account, reminders on, an address (Profile.reminder_email, else the
account's), whose local day (their study day, as Profile.today has it: after a change of time zone
the day in progress goes on until it has ended) has reached the chosen hour (cards/reminders/schedule.py
has the rule), who has cards or challenges due that local day (scheduled reviews
due on or before it, plus the day's re-drills; challenges are scheduled through
their practice cards, so counting cards counts them), and who has no reminder
recorded for that local day. New cards never introduced do not trigger a
reminder: the email is about coming back on the day cards fall due.

Exactly once, by a unique constraint rather than check-then-act: ReminderSend has
one row per (user, local_date). A run

1. claims: one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` writes a `claimed`
   row, stamped with the run's random token, for every candidate; the database
   lets one row per (user, local day) in, so of two runs at once (two beat
   processes, a task redelivered while the first still runs) each user is
   claimed by exactly one of them;
2. takes over stale claims: a `claimed` row older than the claim timeout belongs
   to a run that died between claiming and sending; one conditional UPDATE moves
   it to this run's token (of two runs, the database lets one UPDATE match);
3. sends only the rows carrying its token, and marks them `sent` as it goes, in
   at most REMINDERS_MARKS_PER_RUN UPDATEs (20: one per twentieth of the batch);
4. on an SMTP failure stops, marks what went out, and deletes its remaining
   claims, so the next run sends those (and only those).

A run stops sending before its claims could go stale (its deadline is the claim
timeout less a margin), so no other run takes over claims it is still working
on. What no database can close: a crash after the SMTP server accepted a
message and before the UPDATE recording it. Marking every message would make
that window one message wide at one query per user; REMINDERS_MARKS_PER_RUN sets
the trade (a crash can repeat at most one mark's share of the batch), and the
Message-ID is derived from (user, local day), so a repeat carries
the same Message-ID and mail stores that de-duplicate by it drop it.

Queries: a run costs a fixed number of queries (zones, claim, take-over, read
claims, teasers, release) plus at most REMINDERS_MARKS_PER_RUN UPDATEs, whatever
the number of users.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import OperationalError
from django.db import connection as db_connection
from django.db.models import (
    Avg,
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
    When,
)
from django.db.models.expressions import Window
from django.db.models.functions import Coalesce, NullIf, RowNumber
from django.utils import timezone

from cards.accounts.models import Profile
from cards.models import Card
from cards.reminders.message import Links, Reminder, build_message
from cards.reminders.models import ReminderSend
from cards.reminders.schedule import LocalSlot, estimate_minutes, group_zones, hour_reached, teaser_line
from cards.review.models import ReviewLog, ReviewState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """The knobs of a run, from the REMINDERS_* settings."""

    claim_timeout: dt.timedelta
    marks_per_run: int
    teaser_count: int
    min_gap: dt.timedelta
    history_days: int

    @classmethod
    def from_settings(cls) -> Policy:
        """The REMINDERS_* settings (declared, with their defaults, in studyapp/settings.py)."""
        return cls(
            claim_timeout=dt.timedelta(seconds=settings.REMINDERS_CLAIM_TIMEOUT_SECONDS),
            marks_per_run=max(1, settings.REMINDERS_MARKS_PER_RUN),
            teaser_count=settings.REMINDERS_TEASER_COUNT,
            min_gap=dt.timedelta(hours=settings.REMINDERS_MIN_GAP_HOURS),
            history_days=settings.REMINDERS_PACE_HISTORY_DAYS,
        )

    @property
    def send_window(self) -> dt.timedelta:
        """How long a run may keep sending on its claims: the claim timeout less a tenth (at least 5 s)."""
        margin = max(self.claim_timeout / 10, dt.timedelta(seconds=5))
        return max(self.claim_timeout - margin, dt.timedelta(0))


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one learner gets a reminder at the run's instant, and why (for the command's report)."""

    user_id: int
    username: str
    address: str
    zone: str
    local_date: dt.date | None
    local_hour: int | None
    reminder_hour: int
    due_cards: int
    due_challenges: int
    reason: str  # "" when a reminder would go out

    @property
    def sends(self) -> bool:
        return not self.reason


@dataclass(slots=True)
class RunReport:
    """What a run did: whom it mailed, whose claims it gave back, what went wrong."""

    now: dt.datetime
    claimed: int = 0
    taken_over: int = 0
    sent: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    unrecorded: list[int] = field(default_factory=list)
    unknown_zones: list[str] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        """JSON-ready summary (the Celery task's return value)."""
        return {
            "now": self.now.isoformat(),
            "claimed": self.claimed,
            "taken_over": self.taken_over,
            "sent": len(self.sent),
            "released": len(self.released),
            "refused": len(self.refused),
            "unrecorded": len(self.unrecorded),
            "unknown_zones": self.unknown_zones,
            "error": self.error,
        }


# --- selecting ----------------------------------------------------------------------------------------


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) of `queryset` (already filtered on OuterRef("user_id")), 0 when empty."""
    counted = queryset.order_by().values("user_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _due_states(local_date: OuterRef | F) -> QuerySet[ReviewState]:
    """The states due on the learner's local date: scheduled reviews and the day's re-drills."""
    states = ReviewState.objects.filter(user_id=OuterRef("user_id"))
    return states.due_for(local_date) | states.redrill_for(local_date)


def annotated_profiles(groups: dict[LocalSlot, list[str]], now: dt.datetime, policy: Policy) -> QuerySet[Profile]:
    """Profiles in known zones with their local date and hour, address, due counts, pace and blocks.

    Everything is computed in SQL, per row, from a handful of CASE branches (one
    per local slot, see group_zones) and correlated subqueries: one query for
    any number of users.
    """
    if not groups:
        return Profile.objects.none()
    zone_date = Case(
        *[When(timezone__in=zones, then=Value(slot.local_date)) for slot, zones in groups.items()],
        output_field=DateField(),
    )
    # The learner's study day (Profile.today, in SQL): after a change of time zone, the day in progress
    # goes on until it has ended in the zone it began in, and a day already studied does not come back.
    # So the email never counts the cards of a day the review page has not started yet.
    day_in_progress = Q(study_day__isnull=False) & (Q(study_day_ends_at__gt=now) | Q(study_day__gte=zone_date))
    local_date = Case(When(day_in_progress, then=F("study_day")), default=zone_date, output_field=DateField())
    local_hour = Case(
        *[When(timezone__in=zones, then=Value(slot.hour)) for slot, zones in groups.items()],
        output_field=IntegerField(),
    )
    known_zone = Q(timezone__in=[zone for zones in groups.values() for zone in zones])
    due = _due_states(OuterRef("local_date"))
    todays = ReminderSend.objects.filter(user_id=OuterRef("user_id"), local_date=OuterRef("local_date"))
    fresh_claim = Q(status=ReminderSend.Status.CLAIMED, claimed_at__gte=timezone.now() - policy.claim_timeout)
    recent_other_day = ReminderSend.objects.filter(
        user_id=OuterRef("user_id"), status=ReminderSend.Status.SENT, sent_at__gt=now - policy.min_gap
    ).exclude(local_date=OuterRef("local_date"))
    answers = ReviewLog.objects.filter(
        user_id=OuterRef("user_id"),
        source__in=ReviewLog.LEARNER_ANSWERS,
        duration_ms__isnull=False,
        answered_at__gte=now - dt.timedelta(days=policy.history_days),
    )
    pace = answers.order_by().values("user_id").annotate(avg=Avg("duration_ms")).values("avg")[:1]
    return (
        Profile.objects.filter(known_zone)
        .annotate(
            local_date=local_date,
            local_hour=local_hour,
            address=Coalesce(NullIf("reminder_email", Value("")), NullIf("user__email", Value(""))),
            due_cards=_count(due),
            due_challenges=_count(due.filter(card__practice_for__isnull=False, card__practice_for__is_active=True)),
            average_ms=Subquery(pace),
            sent_today=Exists(todays.filter(status=ReminderSend.Status.SENT)),
            claimed_today=Exists(todays.filter(fresh_claim)),
            sent_recently=Exists(recent_other_day),
        )
        .order_by("user_id")
    )


def _candidates(groups: dict[LocalSlot, list[str]], now: dt.datetime, policy: Policy) -> QuerySet[Profile]:
    """The learners to mail now: the rule of the module docstring, as WHERE clauses."""
    # hour_reached() in SQL: per local slot, the learners whose chosen hour is at or before the slot's hour.
    chosen_hour_reached = reduce(
        or_, [Q(timezone__in=zones, reminder_hour__lte=slot.hour) for slot, zones in groups.items()], Q(pk__in=[])
    )
    return annotated_profiles(groups, now, policy).filter(
        chosen_hour_reached,
        reminders_enabled=True,
        user__is_active=True,
        address__isnull=False,
        due_cards__gt=0,
        sent_today=False,
        claimed_today=False,
        sent_recently=False,
    )


def _reason(profile: Profile) -> str:
    """Why this annotated profile gets no reminder now ("" when it does); mirrors _candidates."""
    if not profile.reminders_enabled:
        return "reminders are off"
    if not profile.user.is_active:
        return "account deactivated"
    if profile.address is None:
        return "no email address"
    if not hour_reached(LocalSlot(profile.local_date, profile.local_hour), profile.reminder_hour):
        return f"local hour {profile.local_hour:02d} is before the chosen {profile.reminder_hour:02d}"
    if profile.sent_today:
        return "already sent for this local day"
    if profile.claimed_today:
        return "another run is sending it now"
    if profile.sent_recently:
        return "a reminder for another local day went out less than the minimum gap ago (time zone changed)"
    if profile.due_cards == 0:
        return "nothing due"
    return ""


def _zone_groups(now: dt.datetime) -> tuple[dict[LocalSlot, list[str]], list[str]]:
    zones = Profile.objects.order_by().values_list("timezone", flat=True).distinct()
    return group_zones(zones, now)


def explain(now: dt.datetime, policy: Policy | None = None) -> tuple[list[Decision], list[str]]:
    """Every learner's decision at `now` (for --dry-run and the verbose report), and unknown zones.

    Reads only; claims nothing. Two queries.
    """
    policy = policy or Policy.from_settings()
    groups, unknown = _zone_groups(now)
    decisions = [
        Decision(
            user_id=profile.user_id,
            username=profile.user.get_username(),
            address=profile.address or "",
            zone=profile.timezone,
            local_date=profile.local_date,
            local_hour=profile.local_hour,
            reminder_hour=profile.reminder_hour,
            due_cards=profile.due_cards,
            due_challenges=profile.due_challenges,
            reason=_reason(profile),
        )
        for profile in annotated_profiles(groups, now, policy).select_related("user")
    ]
    return decisions, unknown


# --- claiming -------------------------------------------------------------------------------------------


def _claim(groups: dict[LocalSlot, list[str]], now: dt.datetime, policy: Policy, token: uuid.UUID) -> int:
    """INSERT a claimed row for every candidate in one statement; returns how many the database let in.

    ON CONFLICT DO NOTHING (SQLite >= 3.24 and PostgreSQL) on the (user, local_date)
    constraint: a row another run inserted first, or a row from earlier today,
    stays as it is and this run does not own it.
    """
    rows = (
        _candidates(groups, now, policy)
        .annotate(
            c_status=Value(ReminderSend.Status.CLAIMED.value),
            c_claimed_at=Value(timezone.now(), output_field=DateTimeField()),
            c_token=Value(token, output_field=UUIDField()),
        )
        .values_list("user_id", "local_date", "c_status", "due_cards", "c_claimed_at", "c_token")
    )
    select_sql, params = rows.query.sql_with_params()
    table = ReminderSend._meta.db_table
    quote = db_connection.ops.quote_name
    columns = ", ".join(quote(c) for c in ("user_id", "local_date", "status", "due_count", "claimed_at", "claim_token"))
    # The derived table and its WHERE keep SQLite from reading ON CONFLICT as a join's ON.
    # Identifiers come from the model, values travel as parameters.
    sql = (
        f"INSERT INTO {quote(table)} ({columns}) "  # noqa: S608
        f"SELECT * FROM ({select_sql}) AS claims WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _take_over_stale(groups: dict[LocalSlot, list[str]], now: dt.datetime, policy: Policy, token: uuid.UUID) -> int:
    """Move claims left by a dead run (older than the claim timeout) to this run, if still wanted.

    One conditional UPDATE: of two runs doing this at once, the database lets
    one match each row (the other sees a fresh claimed_at and skips it).
    """
    wall = timezone.now()
    still_wanted = (
        annotated_profiles(groups, now, policy)
        .filter(reminders_enabled=True, user__is_active=True, address__isnull=False, due_cards__gt=0)
        .filter(user_id=OuterRef("user_id"), local_date=OuterRef("local_date"))
    )
    return ReminderSend.objects.filter(
        Exists(still_wanted),
        status=ReminderSend.Status.CLAIMED,
        claimed_at__lt=wall - policy.claim_timeout,
    ).update(claimed_at=wall, claim_token=token)


def _held(groups: dict[LocalSlot, list[str]], now: dt.datetime, policy: Policy, token: uuid.UUID) -> list[Profile]:
    """The profiles whose claim this run holds, with everything the email needs."""
    held = ReminderSend.objects.filter(
        user_id=OuterRef("user_id"),
        local_date=OuterRef("local_date"),
        status=ReminderSend.Status.CLAIMED,
        claim_token=token,
    )
    return list(annotated_profiles(groups, now, policy).filter(Exists(held)).select_related("user"))


def _teasers(token: uuid.UUID, count: int) -> dict[int, list[str]]:
    """Up to `count` due questions per held user, oldest due first, in one windowed query."""
    if count <= 0:
        return {}
    claim_date = ReminderSend.objects.filter(
        user_id=OuterRef("user_id"), status=ReminderSend.Status.CLAIMED, claim_token=token
    ).values("local_date")[:1]
    states = (
        ReviewState.objects.annotate(claim_date=Subquery(claim_date, output_field=DateField()))
        .filter(claim_date__isnull=False)
        .filter(Q(due_on__lte=F("claim_date")) | Q(redrill=True, last_reviewed_on=F("claim_date")))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("user_id"),
                order_by=[F("due_on").asc(), F("card__position").asc(), F("card_id").asc()],
            )
        )
        .filter(rank__lte=count)
        .order_by("user_id", "rank")
        .values_list("user_id", "card__question", "card__text_format", "card__cloze")
    )
    teasers: dict[int, list[str]] = defaultdict(list)
    for user_id, question, text_format, cloze in states:
        # An imported card's HTML, or a cloze (its deletion hidden), comes as Markdown-escaped plain text.
        teasers[user_id].append(teaser_line(Card.teaser_markdown(question, text_format, cloze)))
    return teasers


# --- sending --------------------------------------------------------------------------------------------


MARK_ATTEMPTS = 6


def _mark_sent(token: uuid.UUID, user_ids: list[int], now: dt.datetime) -> int:
    """Record delivered messages as sent; retried on a busy database, since losing it means a repeat."""
    if not user_ids:
        return 0
    rows = ReminderSend.objects.filter(claim_token=token, status=ReminderSend.Status.CLAIMED, user_id__in=user_ids)
    for attempt in range(MARK_ATTEMPTS):
        try:
            marked = rows.update(status=ReminderSend.Status.SENT, sent_at=now)
            break
        except OperationalError:
            # A locked or briefly unreachable database: the mail is out, so wait and try again.
            if attempt == MARK_ATTEMPTS - 1:
                raise
            log.warning("reminders: recording %d sent messages failed, retrying", len(user_ids), exc_info=True)
            time.sleep(0.05 * 2**attempt)
    if marked != len(user_ids):
        log.error("reminders: marked %d of %d sent; claims were lost to another run", marked, len(user_ids))
    return marked


def _release(token: uuid.UUID, keep: list[int]) -> list[int]:
    """Delete this run's unsent claims (all but `keep`), so the next run sends them; returns their users."""
    held = ReminderSend.objects.filter(claim_token=token, status=ReminderSend.Status.CLAIMED).exclude(user_id__in=keep)
    user_ids = list(held.values_list("user_id", flat=True))
    if user_ids:
        held.delete()
    return user_ids


def _finish(report: RunReport, token: uuid.UUID, pending: list[int], now: dt.datetime) -> None:
    """Record what went out, then give back the claims of what did not."""
    unrecorded: list[int] = []
    try:
        _mark_sent(token, pending, now)
        report.sent += pending
    except OperationalError as exc:
        # Delivered but not recorded: their claims stay, go stale, and are sent again after the
        # claim timeout. The one repeat this design allows (see the module docstring).
        unrecorded = pending
        report.unrecorded = pending
        report.error = report.error or f"{type(exc).__name__}: {exc}"
        log.error("reminders: %d delivered messages could not be recorded as sent", len(pending))
    report.released = _release(token, keep=unrecorded)


def _reminder(profile: Profile, teaser: list[str]) -> Reminder:
    challenges = profile.due_challenges
    cards = profile.due_cards - challenges
    return Reminder(
        user_id=profile.user_id,
        username=profile.user.get_username(),
        address=profile.address,
        local_date=profile.local_date,
        cards=cards,
        challenges=challenges,
        minutes=estimate_minutes(cards, challenges, profile.average_ms),
        teaser=tuple(teaser),
    )


def send_due_reminders(
    now: dt.datetime | None = None,
    *,
    policy: Policy | None = None,
    connection: BaseEmailBackend | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RunReport:
    """One run: claim the learners due a reminder at `now`, mail them, record each sending.

    `now` decides local days and hours (default: the current time); claims are
    always stamped with the wall clock, because staleness is about real time.
    """
    now = now or timezone.now()
    policy = policy or Policy.from_settings()
    token = uuid.uuid4()
    report = RunReport(now=now)
    deadline = monotonic() + policy.send_window.total_seconds()
    links = Links.resolve()  # before claiming: a broken URL configuration must not strand claims

    groups, report.unknown_zones = _zone_groups(now)
    if report.unknown_zones:
        log.warning("reminders: profiles with unknown time zones skipped: %s", ", ".join(report.unknown_zones))
    if not groups:
        return report
    report.taken_over = _take_over_stale(groups, now, policy, token)
    try:
        report.claimed = _claim(groups, now, policy, token)
    except Exception:
        if report.taken_over:
            _release(token, keep=[])  # give back what was just taken over, for the next run
        raise
    if not report.claimed and not report.taken_over:
        return report

    connection = connection or get_connection()
    pending: list[int] = []
    try:
        # From here on, any failure gives the claims back (in _finish) rather than stranding them.
        held = _held(groups, now, policy, token)
        teasers = _teasers(token, policy.teaser_count)
        mark_every = -(-len(held) // policy.marks_per_run)  # ceil: at most marks_per_run marks
        connection.open()
        for profile in held:
            if monotonic() > deadline:
                report.error = "stopped before the claim timeout; the rest go out on the next run"
                break
            if profile.address is None or profile.due_cards == 0:
                continue  # changed since the claim: nothing to send, the claim is released below
            message = build_message(_reminder(profile, teasers.get(profile.user_id, [])), links, connection)
            try:
                delivered = connection.send_messages([message])
            except smtplib.SMTPRecipientsRefused:
                # This address, not the server: go on with the others, retry it next run.
                report.refused.append(profile.user_id)
                continue
            if not delivered:
                raise smtplib.SMTPException("the backend reported the message as not sent")
            pending.append(profile.user_id)
            if len(pending) >= mark_every:
                _mark_sent(token, pending, now)
                report.sent += pending
                pending = []
    except Exception as exc:  # noqa: BLE001 (any failure: record what went out, give the rest back)
        report.error = f"{type(exc).__name__}: {exc}"
        log.error("reminders: sending stopped: %s", report.error, exc_info=True)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 (closing a broken connection must not hide the report)
            log.warning("reminders: closing the mail connection failed", exc_info=True)
        _finish(report, token, pending, now)
    return report
