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
import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cards.accounts.models import Profile
from cards.models import Card
from cards.review import rows, sm2
from cards.review.models import ReviewLog, ReviewState, Tally

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
    # More reviews are due than `due` says: it was counted up to DUE_COUNT_LIMIT ("1000+").
    due_more: bool = False

    @property
    def remaining(self) -> int:
        """Cards left today (at least this many when `due_more`)."""
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
    last_answer_id: int | None  # the answer undo would take back
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


def _cache_profile(user: AbstractBaseUser, profile: Profile | None) -> None:
    """Keep a profile read along with another row on `user`, unless it has one (None: profile_for creates it)."""
    if profile is not None and not user._meta.model.profile.is_cached(user):
        user.profile = profile


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
#
# The review step (answer, then the next card) must not slow down as the collection grows. So
# every figure the page shows is read with work bounded by the day's activity, never by the
# number of cards or states:
#
# - answered today, re-drills waiting, new cards introduced today, new cards shown but not yet
#   answered: index ranges over today's rows only;
# - cards not met yet: two counts kept by database triggers (models.Tally), a primary-key read each;
# - due reviews: counted up to DUE_COUNT_LIMIT rows; past it the page says "1000+", as Anki does
#   (50,000 due is not a number anyone reviews through, and it costs a walk over all of them).
#
# All of them, the three candidates for the next card (first due, first shown-new, first re-drill),
# the answer undo would take back and the next day something is due come back in ONE query; the
# queue's rules then pick among the candidates in Python. Only a new card never shown before costs
# more: finding it (the anti-join below) and creating its state.

DUE_COUNT_LIMIT = 1000

# The day's figures, the three next-card candidates (first due, first shown-new, first re-drill),
# the answer undo would take back and the next day something is due: one row of scalar subqueries
# (`f`), each bounded as described above, with the candidate states and their cards joined to it.
# Always at least one row. Written as SQL rather than built with the ORM: building and compiling the
# same dozen subqueries through the ORM took 7 ms a step, running them 0.2 ms. Every condition
# mirrors a queryset method of cards.review.models (named beside it); tests/review pins them.
# Valid on SQLite and PostgreSQL; %(name)s parameters.
_DAY_SQL = """
WITH f AS MATERIALIZED (
    SELECT
        -- ReviewLog.objects.answers_on(user, today)
        (SELECT COUNT(*) FROM "cards_reviewlog" l
            WHERE l.user_id = %(user)s AND l.reviewed_on = %(today)s AND l.source IN ({answer_sources})
            AND NOT EXISTS (SELECT 1 FROM "cards_reviewlog" u WHERE u.undoes_id = l.id)) AS fig_done,
        -- states.introduced_on(today)
        (SELECT COUNT(*) FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND introduced_on = %(today)s) AS fig_introduced,
        -- states.never_answered() due today: the due_on test inside COUNT, so that SQLite stays on the
        -- (user, last_reviewed_on) index (given a due_on range it walks every due state instead)
        (SELECT COUNT(CASE WHEN due_on <= %(today)s THEN 1 END) FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND last_reviewed_on IS NULL) AS fig_shown,
        -- states.due_for(today), counted up to DUE_COUNT_LIMIT + 1 rows
        (SELECT COUNT(*) FROM (SELECT 1 FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND due_on <= %(today)s LIMIT {due_limit}) bounded) AS fig_due,
        -- states.redrill_for(today)
        (SELECT COUNT(*) FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND last_reviewed_on = %(today)s AND redrill) AS fig_redrill,
        (SELECT value FROM "review_tally" WHERE key = %(cards_key)s) AS fig_cards,
        (SELECT value FROM "review_tally" WHERE key = %(states_key)s) AS fig_states,
        (SELECT id FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND due_on <= %(today)s ORDER BY due_on, id LIMIT 1) AS fig_due_id,
        -- COALESCE(due_on, ...) (never NULL): the same index reason as fig_shown
        (SELECT id FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND last_reviewed_on IS NULL AND COALESCE(due_on, introduced_on) <= %(today)s
            ORDER BY id LIMIT 1) AS fig_shown_id,
        (SELECT id FROM "cards_reviewstate"
            WHERE user_id = %(user)s AND last_reviewed_on = %(today)s AND redrill
            ORDER BY last_answered_at, id LIMIT 1) AS fig_redrill_id,
        -- ReviewLog.objects.undoable(user, today)
        (SELECT l.id FROM "cards_reviewlog" l
            WHERE l.user_id = %(user)s AND l.reviewed_on = %(today)s AND l.source IN ({answer_sources})
            AND NOT EXISTS (SELECT 1 FROM "cards_reviewlog" u WHERE u.undoes_id = l.id)
            ORDER BY l.answered_at DESC, l.id DESC LIMIT 1) AS fig_undo_id,
        -- states.next_due_after(today)
        (SELECT MIN(due_on) FROM "cards_reviewstate" WHERE user_id = %(user)s AND due_on > %(today)s) AS fig_next_due_on
)
SELECT {state_columns}, {card_columns}, f.*
FROM f
LEFT JOIN "cards_reviewstate" s ON {candidates} AND s.id IN (f.fig_due_id, f.fig_shown_id, f.fig_redrill_id)
LEFT JOIN "cards_card" c ON c.id = s.card_id
"""
_FIGURES = (
    "fig_done",
    "fig_introduced",
    "fig_shown",
    "fig_due",
    "fig_redrill",
    "fig_cards",
    "fig_states",
    "fig_due_id",
    "fig_shown_id",
    "fig_redrill_id",
    "fig_undo_id",
    "fig_next_due_on",
)


@functools.cache
def _day_sql(vendor: str, candidates: bool) -> str:
    """_DAY_SQL with the two models' columns spelled out (from their _meta: the code's own names).

    The code's constants (the answers' sources, the count's limit, whether to join the candidates)
    are written into the text, not bound: on PostgreSQL a prepared statement with only the user, the
    day and the tally keys as parameters gets a generic plan, which it keeps (planning it anew cost
    more than running it: 1.3 ms against 0.9).
    """
    assert set(ReviewLog.LEARNER_ANSWERS) == {"review", "redrill"}  # plain words: safe to write as literals
    return _DAY_SQL.format(
        state_columns=rows.columns(ReviewState, "s"),
        card_columns=rows.columns(Card, "c"),
        answer_sources=", ".join(f"'{source}'" for source in ReviewLog.LEARNER_ANSWERS),
        due_limit=int(DUE_COUNT_LIMIT + 1),
        candidates="TRUE" if candidates else "FALSE",
    )


@dataclass(frozen=True, slots=True)
class _Day:
    """What the one query of `_read_day` found: the figures, and the candidate states (cards loaded)."""

    progress: Progress
    candidates: dict[int, ReviewState]
    due_id: int | None
    shown_id: int | None
    redrill_id: int | None
    undo_id: int | None
    next_due_on: dt.date | None


def _progress(profile: Profile, figures: dict) -> Progress:
    allowance = max(0, profile.new_cards_per_day - figures["fig_introduced"])
    # Every state belongs to a distinct existing card (unique (user, card), cascading delete), so the
    # cards not met yet are the difference of the two tallies.
    unseen = min(allowance, max(0, (figures["fig_cards"] or 0) - (figures["fig_states"] or 0)))
    shown = figures["fig_shown"]
    # Counted up to DUE_COUNT_LIMIT + 1 rows: one past the limit says there are more. Never-answered
    # cards are due too (from the day they were shown); they are "new" here.
    due = min(figures["fig_due"], DUE_COUNT_LIMIT)
    return Progress(
        done=figures["fig_done"],
        due=max(0, due - shown),
        new=unseen + shown,
        redrill=figures["fig_redrill"],
        due_more=figures["fig_due"] > DUE_COUNT_LIMIT,
    )


def _read_day(user: AbstractBaseUser, profile: Profile, today: dt.date, *, candidates: bool = True) -> _Day:
    """The day's figures and next-card candidates (states with their cards): one query, one to four rows."""
    params = {
        "user": user.pk,
        "today": connection.ops.adapt_datefield_value(today),
        "cards_key": Tally.CARDS,
        "states_key": Tally.states_key(user.pk),
    }
    state_width, card_width = len(ReviewState._meta.concrete_fields), len(Card._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(_day_sql(connection.vendor, candidates), params)
        found = cursor.fetchall()
    states = {}
    for row in found:
        if row[0] is not None:
            state = rows.from_row(ReviewState, row[:state_width])
            state.card = rows.from_row(Card, row[state_width : state_width + card_width])
            states[state.pk] = state
    figures = dict(zip(_FIGURES, found[0][state_width + card_width :], strict=True))
    next_due_on = figures["fig_next_due_on"]
    if isinstance(next_due_on, str):  # SQLite hands back an aggregate's date as text
        next_due_on = dt.date.fromisoformat(next_due_on)
    return _Day(
        progress=_progress(profile, figures),
        candidates=states,
        due_id=figures["fig_due_id"],
        shown_id=figures["fig_shown_id"],
        redrill_id=figures["fig_redrill_id"],
        undo_id=figures["fig_undo_id"],
        next_due_on=next_due_on,
    )


def first_new_card_id(user: AbstractBaseUser) -> int | None:
    """The id of the first card, in introduction order, that the user has never been shown.

    An anti-join in (position, id) order: it walks the cards the learner has already met before the
    first one they have not. Only run when a new card is actually to be shown.
    """
    seen = ReviewState.objects.filter(user=user, card=OuterRef("pk"))
    return Card.objects.filter(~Exists(seen)).order_by("position", "id").values_list("id", flat=True).first()


def progress_for(user: AbstractBaseUser, profile: Profile, today: dt.date) -> Progress:
    """The day's counts: answered, due, new (shown-but-unanswered ones included), re-drills waiting (one query)."""
    return _read_day(user, profile, today, candidates=False).progress


def show_new_card(user: AbstractBaseUser, card_id: int, today: dt.date) -> ReviewState:
    """Create (or, if a concurrent request won the race, fetch) the state of a new card shown today.

    INSERT ... ON CONFLICT DO NOTHING on the unique (user, card), then read it with its card: two
    queries, race-safe, no savepoint.
    """
    ReviewState.objects.bulk_create(
        [ReviewState(user=user, card_id=card_id, due_on=today, introduced_on=today)], ignore_conflicts=True
    )
    return ReviewState.objects.select_related("card").get(user=user, card_id=card_id)


def new_card_turn(order: str, progress: Progress) -> bool:
    """With both due reviews and new cards waiting, is it a new card's turn? (Profile.new_card_order)"""
    if order == Profile.NewCardOrder.NEW_FIRST:
        return True
    if order == Profile.NewCardOrder.MIXED:
        return progress.done % 2 == 1  # a review, a new card, a review...: new ones after each review answered
    return False


def _pick(user: AbstractBaseUser, day: _Day, today: dt.date, new_allowed: bool, new_first: bool) -> NextCard | None:
    """The queue's rules over the candidates of `day`: see next_card."""
    if new_first and new_allowed:
        if day.shown_id is not None:
            return NextCard(day.candidates[day.shown_id], "new")
        if (card_id := first_new_card_id(user)) is not None:
            return NextCard(show_new_card(user, card_id, today), "new")
    if day.due_id is not None:
        due = day.candidates[day.due_id]
        # A card shown when new and not yet answered is still "new" to the learner.
        return NextCard(due, "new" if due.last_reviewed_on is None else "review")
    if new_allowed and (card_id := first_new_card_id(user)) is not None:
        return NextCard(show_new_card(user, card_id, today), "new")
    if day.redrill_id is not None:
        return NextCard(day.candidates[day.redrill_id], "redrill")
    return None


def next_card(user: AbstractBaseUser, today: dt.date, new_allowed: bool, new_first: bool = False) -> NextCard | None:
    """The card to show now: due reviews, then new cards, then re-drills; None when done for today.

    `new_first` puts a new card before the due reviews (a new card already shown comes first).
    """
    return _pick(user, _read_day(user, profile_for(user), today), today, new_allowed, new_first)


def session_for(user: AbstractBaseUser, now: dt.datetime | None = None) -> Session:
    """The learner's review session right now: next card, counts, what undo would undo (one query, see above)."""
    profile = profile_for(user)
    today = local_today(profile, now)
    day = _read_day(user, profile, today)
    progress = day.progress
    new_allowed = progress.new > 0
    new_first = new_allowed and new_card_turn(profile.new_card_order, progress)
    upcoming = _pick(user, day, today, new_allowed, new_first)
    return Session(
        today=today,
        progress=progress,
        next=upcoming,
        last_answer_id=day.undo_id,
        next_due_on=day.next_due_on if upcoming is None else None,
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
    try:
        with transaction.atomic():
            # One query: the state (row-locked), its owner's profile (for the study day) and whether
            # this request_id was seen before (cards.review.rows: SQL, as the step's cost asks).
            state, profile, duplicate = rows.locked_state(user.pk, state_id, request_id)
            _cache_profile(user, profile)
            today = local_today(profile_for(user), now)
            if duplicate:
                return Result(Outcome.DUPLICATE)
            if state.version != version:
                # The annotation saw the database as of before this query waited for the row lock
                # (PostgreSQL): when the state moved on meanwhile, it may have been this very request,
                # retried, so look again now that the lock is held.
                if ReviewLog.objects.filter(user=user, request_id=request_id).exists():
                    return Result(Outcome.DUPLICATE)
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
            after = snapshot(state)
            values = {**_fields_from_snapshot(after), "version": state.version}
            changed = rows.update_state(state.pk, user.pk, version, values)
            if not changed:
                return Result(Outcome.STALE)
            log = rows.insert_log(
                ReviewLog(
                    user=user,
                    card_id=state.card_id,
                    source=_answer_source(redrill=redrill, challenge=challenge),
                    quality=quality,
                    request_id=request_id,
                    before=before,
                    after=after,
                    reviewed_on=today,
                    answered_at=now,
                    duration_ms=duration_ms,
                )
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
            for name, value in restored.items():
                setattr(state, name, value)
            state.version += 1
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
