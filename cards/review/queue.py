"""The daily review session: what is due, new cards, the same-day re-drill queue, answers and undo.

The rules, in the learner's own day (Profile.timezone):

- Scheduled reviews come first: states due on or before today, oldest first.
- Then new cards, in Card position order, up to Profile.new_cards_per_day a day. The learner
  may put them first instead, or alternate them with the reviews (Profile.new_card_order).
  A new card's ReviewState is created when it is first shown (race-safe on the
  unique (user, card) constraint), with `introduced_on` today: those count
  against the limit.
- Then the re-drill queue (SM-2 step 7): cards answered below 4 today come back,
  least recently answered first, until they score at least 4. Those answers move
  neither EF nor the interval (cards.review.sm2.answer(..., redrill=True)).

Every answer and every undo is a new ReviewLog row; the log is never edited.
An answer applies only if the state still has the version the learner saw, and
its request_id is unique per user, so a double click or a retried request is a
no-op rather than a second schedule change. Undo restores the state before the
undone answer exactly (except `version`, which only ever grows).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cards.accounts.models import Profile
from cards.models import Card
from cards.review import sm2
from cards.review.models import ReviewLog, ReviewState

# Longer than this is a learner who walked away, not thinking time worth recording.
MAX_DURATION_MS = 10 * 60 * 1000


class Outcome(Enum):
    """What became of a submitted answer or undo."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # same request_id seen before: nothing changed
    STALE = "stale"  # the state moved on since the page was shown: nothing changed
    NOTHING_TO_UNDO = "nothing_to_undo"


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts for one learner's day."""

    done: int
    due: int
    new: int
    redrill: int

    @property
    def remaining(self) -> int:
        return self.due + self.new + self.redrill


@dataclass(frozen=True, slots=True)
class NextCard:
    """The card to show now, and whether it is a scheduled, new or re-drill showing."""

    state: ReviewState
    kind: str  # "review", "new" or "redrill"


@dataclass(frozen=True, slots=True)
class Session:
    """Everything the review page shows: the next card (None when done) and the day's counts."""

    today: dt.date
    progress: Progress
    next: NextCard | None
    last_answer: ReviewLog | None
    next_due_on: dt.date | None


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of answer() or undo(); `log` is the row written when applied."""

    outcome: Outcome
    log: ReviewLog | None = None


# --- the learner's day ---------------------------------------------------------------------------


def profile_for(user: AbstractBaseUser) -> Profile:
    """The user's Profile, created with defaults on first use (cached on the user object)."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        profile, _ = Profile.objects.get_or_create(user=user)
        user.profile = profile
        return profile


def local_today(profile: Profile, now: dt.datetime | None = None) -> dt.date:
    """The learner's study day at `now` (an aware datetime; default: the current time): Profile.today."""
    return profile.today(now or timezone.now())


def clamp_duration(value: object) -> int | None:
    """A client-measured duration in ms, clamped to 0..MAX_DURATION_MS; None when absent or garbage."""
    try:
        ms = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return max(0, min(ms, MAX_DURATION_MS))


# --- state snapshots (the log's before/after) ------------------------------------------------------


def snapshot(state: ReviewState) -> dict:
    """The review state as JSON-ready data: what the log keeps and what undo restores."""
    return {
        "repetitions": state.repetitions,
        "easiness": str(Decimal(state.easiness).quantize(Decimal("0.01"))),
        "interval": state.interval,
        "due_on": state.due_on.isoformat(),
        "last_reviewed_on": state.last_reviewed_on.isoformat() if state.last_reviewed_on else None,
        "last_answered_at": state.last_answered_at.isoformat() if state.last_answered_at else None,
        "redrill": state.redrill,
        "version": state.version,
    }


def _fields_from_snapshot(data: dict) -> dict:
    """Model field values from a snapshot (without `version`: it only ever grows)."""
    return {
        "repetitions": data["repetitions"],
        "easiness": Decimal(data["easiness"]),
        "interval": data["interval"],
        "due_on": dt.date.fromisoformat(data["due_on"]),
        "last_reviewed_on": dt.date.fromisoformat(data["last_reviewed_on"]) if data["last_reviewed_on"] else None,
        "last_answered_at": dt.datetime.fromisoformat(data["last_answered_at"]) if data["last_answered_at"] else None,
        "redrill": data["redrill"],
    }


def is_redrill_today(state: ReviewState, today: dt.date) -> bool:
    """Is this state waiting for a same-day re-drill? (A flag left from an earlier day is not.)"""
    return state.redrill and state.last_reviewed_on == today


# --- the queue ---------------------------------------------------------------------------------


def first_new_card_id(user: AbstractBaseUser) -> int | None:
    """The id of the first card, in introduction order, that the user has never been shown."""
    seen = ReviewState.objects.filter(user=user, card=OuterRef("pk"))
    return Card.objects.filter(~Exists(seen)).order_by("position", "id").values_list("id", flat=True).first()


def progress_for(user: AbstractBaseUser, profile: Profile, today: dt.date) -> Progress:
    """The day's counts: answered, due, new (shown-but-unanswered ones included), re-drills waiting."""
    states = ReviewState.objects.for_user(user)
    allowance = max(0, profile.new_cards_per_day - states.introduced_on(today).count())
    unseen = 0
    if allowance:
        # Every state belongs to a distinct existing card (unique (user, card), cascading delete), so
        # the unseen cards are a difference of two counts: index-only, unlike an anti-join that walks
        # every card the learner has already seen.
        unseen = min(allowance, max(0, Card.objects.count() - states.count()))
    due = states.due_for(today).count()
    # Few rows, found by the (user, last_reviewed_on) index; with a due_on range in the query
    # SQLite would walk every due card instead.
    shown_not_answered = sum(
        1 for due_on in states.never_answered().values_list("due_on", flat=True) if due_on <= today
    )
    return Progress(
        done=ReviewLog.objects.answers_on(user, today).count(),
        due=due - shown_not_answered,
        new=unseen + shown_not_answered,
        redrill=states.redrill_for(today).count(),
    )


def show_new_card(user: AbstractBaseUser, card_id: int, today: dt.date) -> ReviewState:
    """Create (or, if a concurrent request won the race, fetch) the state of a new card shown today."""
    state, _ = ReviewState.objects.select_related("card").get_or_create(
        user=user, card_id=card_id, defaults={"due_on": today, "introduced_on": today}
    )
    return state


def new_card_turn(order: str, progress: Progress) -> bool:
    """With both due reviews and new cards waiting, is it a new card's turn? (Profile.new_card_order)"""
    if order == Profile.NewCardOrder.NEW_FIRST:
        return True
    if order == Profile.NewCardOrder.MIXED:
        return progress.done % 2 == 1  # a review, a new card, a review...: new ones after each review answered
    return False


def next_card(user: AbstractBaseUser, today: dt.date, new_allowed: bool, new_first: bool = False) -> NextCard | None:
    """The card to show now: due reviews, then new cards, then re-drills; None when done for today.

    `new_first` puts a new card before the due reviews (a new card already shown comes first).
    """
    states = ReviewState.objects.for_user(user).select_related("card")
    if new_first and new_allowed:
        shown = states.never_answered().filter(due_on__lte=today).order_by("id").first()
        if shown is not None:
            return NextCard(shown, "new")
        if (card_id := first_new_card_id(user)) is not None:
            return NextCard(show_new_card(user, card_id, today), "new")
    due = states.due_for(today).order_by("due_on", "id").first()
    if due is not None:
        # A card shown when new and not yet answered is still "new" to the learner.
        return NextCard(due, "new" if due.last_reviewed_on is None else "review")
    if new_allowed and (card_id := first_new_card_id(user)) is not None:
        return NextCard(show_new_card(user, card_id, today), "new")
    redrill = states.redrill_for(today).order_by("last_answered_at", "id").first()
    if redrill is not None:
        return NextCard(redrill, "redrill")
    return None


def session_for(user: AbstractBaseUser, now: dt.datetime | None = None) -> Session:
    """The learner's review session right now: next card, counts, what undo would undo."""
    profile = profile_for(user)
    today = local_today(profile, now)
    progress = progress_for(user, profile, today)
    new_allowed = progress.new > 0
    upcoming = next_card(
        user, today, new_allowed, new_first=new_allowed and new_card_turn(profile.new_card_order, progress)
    )
    next_due_on = None
    if upcoming is None:
        next_due_on = ReviewState.objects.for_user(user).next_due_after(today)
    return Session(
        today=today,
        progress=progress,
        next=upcoming,
        last_answer=ReviewLog.objects.undoable(user, today).first(),
        next_due_on=next_due_on,
    )


@dataclass(frozen=True, slots=True)
class GradePreview:
    """What pressing a grade would do to the card shown: back again today, and in how many days it is due."""

    quality: int
    again_today: bool
    due_in_days: int


def preview_grades(state: ReviewState, today: dt.date) -> list[GradePreview]:
    """Each grade's outcome for `state`, by the same SM-2 code an answer goes through (best grade first)."""
    redrill = is_redrill_today(state, today)
    current = sm2.Sm2State(state.repetitions, state.easiness, state.interval)
    previews = []
    for quality in range(sm2.MAX_QUALITY, sm2.MIN_QUALITY - 1, -1):
        outcome = sm2.answer(current, quality, redrill=redrill)
        # A re-drill leaves the schedule as it is: the card stays due when it already was.
        days = max(0, (state.due_on - today).days) if redrill else outcome.state.interval
        previews.append(GradePreview(quality, outcome.redrill, days))
    return previews


# --- answering and undoing -------------------------------------------------------------------------


def answer(
    user: AbstractBaseUser,
    state_id: int,
    *,
    version: int,
    quality: object,
    request_id: uuid.UUID,
    duration_ms: int | None = None,
    now: dt.datetime | None = None,
    challenge: bool = False,
) -> Result:
    """Record one answer of `quality` to the user's state `state_id`, shown at `version`.

    `challenge` marks a challenge's verdict on its practice card (source "challenge"): it moves
    the schedule like an answer but is not the learner's review answer, so it is not counted as
    one and undo never takes it back.

    Raises sm2.InvalidQuality for a grade outside 0..5 and ReviewState.DoesNotExist
    when the state is not this user's. A repeated request_id or a version that has
    moved on is a no-op (Outcome.DUPLICATE / STALE): never a second schedule change.
    """
    quality = sm2.check_quality(quality)
    now = now or timezone.now()
    profile = profile_for(user)
    today = local_today(profile, now)
    try:
        with transaction.atomic():
            state = ReviewState.objects.select_for_update().get(pk=state_id, user=user)
            if ReviewLog.objects.filter(user=user, request_id=request_id).exists():
                return Result(Outcome.DUPLICATE)
            if state.version != version:
                return Result(Outcome.STALE)
            before = snapshot(state)
            redrill = is_redrill_today(state, today)
            current = sm2.Sm2State(state.repetitions, state.easiness, state.interval)
            outcome = sm2.answer(current, quality, redrill=redrill)
            if not redrill:
                state.repetitions = outcome.state.repetitions
                state.easiness = outcome.state.easiness
                state.interval = outcome.state.interval
                state.due_on = today + dt.timedelta(days=outcome.state.interval)
            state.redrill = outcome.redrill
            state.last_reviewed_on = today
            state.last_answered_at = now
            state.version = version + 1
            # The conditional update is the guard that holds under concurrency (select_for_update is a
            # no-op on SQLite): of two racing requests for one version, one updates a row, the other none.
            changed = ReviewState.objects.filter(pk=state.pk, user=user, version=version).update(
                **_fields_from_snapshot(snapshot(state)), version=state.version
            )
            if not changed:
                return Result(Outcome.STALE)
            log = ReviewLog.objects.create(
                user=user,
                card_id=state.card_id,
                source=_answer_source(redrill=redrill, challenge=challenge),
                quality=quality,
                request_id=request_id,
                before=before,
                after=snapshot(state),
                reviewed_on=today,
                answered_at=now,
                duration_ms=duration_ms,
            )
    except IntegrityError:
        # The unique (user, request_id) caught a concurrent retry: the atomic block rolled back.
        return Result(Outcome.DUPLICATE)
    return Result(Outcome.APPLIED, log)


def _answer_source(*, redrill: bool, challenge: bool) -> str:
    if challenge:
        return ReviewLog.Source.CHALLENGE
    return ReviewLog.Source.REDRILL if redrill else ReviewLog.Source.REVIEW


def undo(
    user: AbstractBaseUser,
    *,
    request_id: uuid.UUID,
    log_id: int | None = None,
    now: dt.datetime | None = None,
) -> Result:
    """Undo the user's last review answer of today (or exactly `log_id`, if still the last one).

    Only the learner's own answers in the review are undone (ReviewLog.LEARNER_ANSWERS): never a
    challenge's verdict, which the attempt's page keeps showing.

    Writes a ReviewLog row of source "undo" pointing at the undone answer and restores
    the state it had before that answer. Undoing again steps one answer further back.
    """
    now = now or timezone.now()
    profile = profile_for(user)
    today = local_today(profile, now)
    try:
        with transaction.atomic():
            if ReviewLog.objects.filter(user=user, request_id=request_id).exists():
                return Result(Outcome.DUPLICATE)
            target = ReviewLog.objects.undoable(user, today).select_for_update(of=("self",)).first()
            if target is None:
                return Result(Outcome.NOTHING_TO_UNDO)
            if log_id is not None and target.pk != log_id:
                # What the page offered to undo is already undone (a double click): do not undo more.
                return Result(Outcome.STALE)
            state = ReviewState.objects.select_for_update().get(user=user, card_id=target.card_id)
            if state.version != target.after["version"]:
                return Result(Outcome.STALE)
            before = snapshot(state)
            restored = _fields_from_snapshot(target.before)
            changed = ReviewState.objects.filter(pk=state.pk, version=state.version).update(
                **restored, version=state.version + 1
            )
            if not changed:
                return Result(Outcome.STALE)
            state.refresh_from_db()
            log = ReviewLog.objects.create(
                user=user,
                card_id=target.card_id,
                source=ReviewLog.Source.UNDO,
                quality=None,
                request_id=request_id,
                undoes=target,
                before=before,
                after=snapshot(state),
                reviewed_on=today,
                answered_at=now,
            )
    except IntegrityError:
        return Result(Outcome.DUPLICATE)
    return Result(Outcome.APPLIED, log)
