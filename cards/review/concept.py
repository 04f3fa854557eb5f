"""A review of one concept (a tag of the cards): its due cards first, then a practice pass.

The rules, in the learner's own day (queue.local_today), over the learner's own states of the
cards that carry the tag:

- Due first: the concept's states due on or before today, oldest due first (a card shown as new
  and not answered yet is among them, as in the daily queue), then its re-drills waiting today
  (answered below 4 today), least recently answered first. They are answered through
  queue.answer, exactly as in the daily review: same SM-2, same log, same idempotency and
  version checks, and undo takes back the learner's last answer. No new card is introduced here.
- Then, when nothing of the concept is due, a practice pass: the concept's cards the learner
  has seen (has a state for), in (position, id) order, one after another. A practice answer
  changes nothing: no state, no log row. The pass is stateless: the card after the one just
  practised is the next, so a repeated or retried answer shows the same next card.

A card the learner has never seen is never practised; a concept without any seen card says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from cards.models import Tag
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState


class Mode(StrEnum):
    DUE = "due"  # a due card (or a re-drill) of the concept, answered into the schedule
    PRACTICE = "practice"  # nothing due: a seen card, answered without changing anything
    PRACTICE_DONE = "practice_done"  # nothing due, every seen card practised
    NOTHING_SEEN = "nothing_seen"  # the learner has not met any card of the concept yet


@dataclass(frozen=True, slots=True)
class PracticeMark:
    """Where the practice pass stands: just after this card, in (position, card id) order."""

    position: int
    card_id: int


@dataclass(frozen=True, slots=True)
class ConceptStep:
    """Everything the concept's review shows now."""

    tag: Tag
    today: dt.date
    mode: Mode
    next: queue.NextCard | None
    due: int  # scheduled reviews of the concept due today (never-answered ones included)
    redrill: int  # re-drills of the concept waiting today
    seen: int  # the concept's cards the learner has a state for (0 when not counted: in DUE mode)
    practice_number: int  # k of "practice card k of n" (1-based); 0 when not practising
    next_due_on: dt.date | None  # when the concept is next due (not in DUE mode)
    last_answer_id: int | None  # the answer undo would take back (any concept: undo is the learner's)

    @property
    def due_left(self) -> int:
        return self.due + self.redrill

    @property
    def practice(self) -> bool:
        return self.mode is not Mode.DUE


def find(name: str) -> Tag:
    """The concept called `name`; raises Tag.DoesNotExist."""
    return Tag.objects.get(name=name)


def _states(user: AbstractBaseUser, tag: Tag):
    """The learner's states of the concept's cards (one per card: a card carries a tag once)."""
    return ReviewState.objects.for_user(user).filter(card__tags=tag)


def practice_mark(user: AbstractBaseUser, tag: Tag, card_id: int) -> PracticeMark | None:
    """The place of card `card_id` in the practice pass, or None when it is not a card of the
    concept that this learner has seen (which is how a practice answer is checked)."""
    position = _states(user, tag).filter(card_id=card_id).values_list("card__position", flat=True).first()
    return None if position is None else PracticeMark(position, card_id)


def _after(mark: PracticeMark) -> Q:
    return Q(card__position__gt=mark.position) | Q(card__position=mark.position, card_id__gt=mark.card_id)


def step_for(
    user: AbstractBaseUser, tag: Tag, *, after: PracticeMark | None = None, now: dt.datetime | None = None
) -> ConceptStep:
    """The concept's next card: a due one, else a re-drill, else the practice card after `after`
    (the first when None), else the end of the practice pass."""
    today = queue.local_today(queue.profile_for(user), now)
    states = _states(user, tag)
    due = states.due_for(today)
    redrills = states.redrill_for(today)
    due_count, redrill_count = due.count(), redrills.count()
    last_answer_id = ReviewLog.objects.undoable(user, today).values_list("pk", flat=True).first()
    common = {"tag": tag, "today": today, "due": due_count, "redrill": redrill_count, "last_answer_id": last_answer_id}

    upcoming = None
    if due_count and (state := due.select_related("card").order_by("due_on", "id").first()):
        # A card shown when new and not yet answered is still "new" to the learner.
        upcoming = queue.NextCard(state, "new" if state.last_reviewed_on is None else "review")
    elif redrill_count and (state := redrills.select_related("card").order_by("last_answered_at", "id").first()):
        upcoming = queue.NextCard(state, "redrill")
    if upcoming is not None:
        return ConceptStep(mode=Mode.DUE, next=upcoming, seen=0, practice_number=0, next_due_on=None, **common)

    practice = states.filter(_after(after)) if after else states
    state = practice.select_related("card").order_by("card__position", "card_id").first()
    if state is None:
        seen = states.count()
        number = 0
    else:
        mark = PracticeMark(state.card.position, state.card_id)
        counts = states.aggregate(seen=Count("pk"), passed=Count("pk", filter=_after(mark)))
        seen = counts["seen"]
        number = seen - counts["passed"]
    return ConceptStep(
        mode=Mode.PRACTICE if state else Mode.PRACTICE_DONE if seen else Mode.NOTHING_SEEN,
        next=queue.NextCard(state, "practice") if state else None,
        seen=seen,
        practice_number=number,
        next_due_on=states.next_due_after(today) if seen else None,
        **common,
    )
