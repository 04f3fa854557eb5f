"""Home (the day at a glance) and the review session: the page, the answer endpoint, the undo endpoint;
the review of one concept (cards.review.concept): its page and its practice answers.

With htmx the endpoints answer with the "card" partial of review/review.html (the
next card, or the "done for today" screen); without JavaScript they redirect back
to the page (POST-redirect-GET), so plain form posts work the same. An answer or undo
sent from a concept's review carries the concept (`concept`), and comes back to it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from cards.models import Card, Tag
from cards.review import concept, queue, sm2
from cards.review.models import ReviewState
from studyapp.markdown import plain_text

OUTCOME_MESSAGES = {
    queue.Outcome.DUPLICATE: "That was already recorded; nothing changed.",
    queue.Outcome.STALE: "That card had already been answered (in another tab?); nothing changed.",
    queue.Outcome.NOTHING_TO_UNDO: "Nothing to undo today.",
}
# A word for each grade on its button; SM-2's own description goes under it where there is room.
GRADE_NAMES = {5: "Perfect", 4: "Good", 3: "Hard", 2: "Almost", 1: "Wrong", 0: "Blackout"}


@dataclass(frozen=True)
class GradeButton:
    quality: int
    name: str
    meaning: str
    when: str  # where the card goes: "again today", "in 6 days"
    when_short: str  # the same on the button: "today", "6 d"
    tone: str  # fail (0-2: relearn), hard (3: correct, but back today), pass (4-5)


def grade_buttons(next_card: queue.NextCard | None, today: dt.date) -> list[GradeButton]:
    if next_card is None:
        return []
    buttons = []
    for preview in queue.preview_grades(next_card.state, today):
        days = preview.due_in_days
        if preview.again_today:
            when, short = "back again today", "today"
        else:
            when, short = f"due again in {days} day{'s' if days != 1 else ''}", f"{days} d"
        tone = "pass" if preview.quality >= sm2.REDRILL_UNTIL else "hard" if preview.quality >= 3 else "fail"
        meaning = sm2.QUALITY_MEANINGS[preview.quality]
        buttons.append(GradeButton(preview.quality, GRADE_NAMES[preview.quality], meaning, when, short, tone))
    return buttons


def practice_buttons() -> list[GradeButton]:
    """The grades of a practice answer: the same six, with no schedule to preview (nothing changes)."""
    buttons = []
    for quality in range(sm2.MAX_QUALITY, sm2.MIN_QUALITY - 1, -1):
        tone = "pass" if quality >= sm2.REDRILL_UNTIL else "hard" if quality >= 3 else "fail"
        buttons.append(GradeButton(quality, GRADE_NAMES[quality], sm2.QUALITY_MEANINGS[quality], "", "", tone))
    return buttons


def login_required_htmx(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """login_required, except that an htmx request with an expired session sends the whole page to
    the log-in form (HX-Redirect) instead of swapping the log-in page into the card."""
    protected = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            back_to = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(back_to, settings.LOGIN_URL).url)
        return protected(request, *args, **kwargs)

    return wrapper


def _render_session(request: HttpRequest, notice: str = "", status: int = 200) -> HttpResponse:
    session = queue.session_for(request.user)
    context = {
        "session": session,
        "grades": grade_buttons(session.next, session.today),
        "request_id": uuid.uuid4(),
        "undo_request_id": uuid.uuid4(),
        "notice": notice,
    }
    template = "review/review.html#card" if request.htmx else "review/review.html"
    return render(request, template, context, status=status)


def _render_concept(
    request: HttpRequest, tag: Tag, after: concept.PracticeMark | None = None, notice: str = ""
) -> HttpResponse:
    step = concept.step_for(request.user, tag, after=after)
    context = {
        "session": step,
        "concept": step,
        "grades": practice_buttons() if step.practice else grade_buttons(step.next, step.today),
        "request_id": uuid.uuid4(),
        "undo_request_id": uuid.uuid4(),
        "notice": notice,
    }
    template = "review/review.html#card" if request.htmx else "review/review.html"
    return render(request, template, context)


def _after_post(request: HttpRequest, notice: str, tag: Tag | None = None) -> HttpResponse:
    """htmx: the next card in place. Plain form: back to the page, with the notice as a message.

    From a concept's review (`tag`), the next card is the concept's and the page is the concept's.
    """
    if request.htmx:
        return _render_concept(request, tag, notice=notice) if tag else _render_session(request, notice)
    if notice:
        messages.info(request, notice)
    return redirect("review_concept", tag.name) if tag else redirect("review")


def _concept_or_404(name: object) -> Tag:
    try:
        return concept.find(str(name))
    except Tag.DoesNotExist:
        raise Http404("No such concept.") from None


def _posted_concept(request: HttpRequest) -> Tag | None:
    """The concept an answer or undo was sent from (its review's form carries it), if any."""
    name = request.POST.get("concept")
    return _concept_or_404(name) if name else None


def _uuid(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        # No usable idempotency key: a fresh one still lets the version check stop a double submit.
        return uuid.uuid4()


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


@require_GET
@login_required_htmx
@vary_on_headers("HX-Request")
def review_page(request: HttpRequest) -> HttpResponse:
    """The session: the next card with its grade buttons, or the "done for today" screen."""
    return _render_session(request)


@require_POST
@login_required_htmx
@vary_on_headers("HX-Request")
def answer(request: HttpRequest) -> HttpResponse:
    """Grade the card shown: state, version, request_id, quality 0..5, duration_ms."""
    state_id, version = _int_or_none(request.POST.get("state")), _int_or_none(request.POST.get("version"))
    if state_id is None or version is None:
        return HttpResponseBadRequest("Missing or malformed 'state' or 'version'.", content_type="text/plain")
    try:
        quality = sm2.parse_quality(request.POST.get("quality", ""))
    except sm2.InvalidQuality as error:
        return HttpResponseBadRequest(f"Invalid grade: {error}.", content_type="text/plain")
    tag = _posted_concept(request)  # before answering: an unknown concept is a 404 that changed nothing
    try:
        result = queue.answer(
            request.user,
            state_id,
            version=version,
            quality=quality,
            request_id=_uuid(request.POST.get("request_id")),
            duration_ms=queue.clamp_duration(request.POST.get("duration_ms")),
        )
    except ReviewState.DoesNotExist:
        raise Http404("No such card in your reviews.") from None
    return _after_post(request, OUTCOME_MESSAGES.get(result.outcome, ""), tag)


@require_POST
@login_required_htmx
@vary_on_headers("HX-Request")
def undo(request: HttpRequest) -> HttpResponse:
    """Undo the last answer (the one the page offered, when `log` is sent)."""
    tag = _posted_concept(request)
    result = queue.undo(
        request.user,
        request_id=_uuid(request.POST.get("request_id")),
        log_id=_int_or_none(request.POST.get("log")),
    )
    notice = ""
    if result.outcome is queue.Outcome.APPLIED:
        notice = f"Undone: your answer to \u201c{card_label(result.log.card)}\u201d. The card is back as it was."
    return _after_post(request, notice or OUTCOME_MESSAGES.get(result.outcome, ""), tag)


@require_GET
@login_required_htmx
@vary_on_headers("HX-Request")
def concept_review(request: HttpRequest, name: str) -> HttpResponse:
    """One concept's review: its due cards, else a practice pass (`?after=<card id>`: the card after it)."""
    tag = _concept_or_404(name)
    after = None
    if (card_id := _int_or_none(request.GET.get("after"))) is not None:
        after = concept.practice_mark(request.user, tag, card_id)  # not a seen card of the concept: from the start
    return _render_concept(request, tag, after)


@require_POST
@login_required_htmx
@vary_on_headers("HX-Request")
def concept_practice(request: HttpRequest, name: str) -> HttpResponse:
    """A practice answer (card, quality 0..5): checked, then the next practice card. Changes nothing."""
    tag = _concept_or_404(name)
    card_id = _int_or_none(request.POST.get("card"))
    if card_id is None:
        return HttpResponseBadRequest("Missing or malformed 'card'.", content_type="text/plain")
    try:
        sm2.parse_quality(request.POST.get("quality", ""))
    except sm2.InvalidQuality as error:
        return HttpResponseBadRequest(f"Invalid grade: {error}.", content_type="text/plain")
    mark = concept.practice_mark(request.user, tag, card_id)
    if mark is None:
        raise Http404("No such card among the cards of this concept you have seen.")
    if request.htmx:
        return _render_concept(request, tag, mark)
    return redirect(f"{reverse('review_concept', args=[tag.name])}?after={card_id}")


def card_label(card: Card, limit: int = 60) -> str:
    """A card as a learner recognises it in one line: its question's first line, without Markdown marks."""
    if card.text_format != Card.TextFormat.MARKDOWN or card.cloze is not None:
        return Truncator(card.plain_question() or card.key).chars(limit)  # HTML, or a cloze with its gap
    line = next((line.strip() for line in card.question.splitlines() if line.strip()), card.key)
    return Truncator(plain_text(line)).chars(limit)  # the same Markdown-to-text the reminder email uses


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The day at a glance: what is due today, new cards, re-drills pending, and when the next review is.

    A visitor who is not logged in gets the front page instead: what the app is, a real card from
    the deck, what a challenge's feedback reads like, and the way to sign up.
    """
    if not request.user.is_authenticated:
        sample = Card.objects.select_related("deck").order_by("position", "id").first()
        return render(request, "review/welcome.html", {"sample": sample, "cards": Card.objects.count()})
    profile = queue.profile_for(request.user)
    today = queue.local_today(profile)
    progress = queue.progress_for(request.user, profile, today)
    next_due_on = None
    if not progress.remaining:
        next_due_on = ReviewState.objects.for_user(request.user).next_due_after(today)
    return render(
        request,
        "review/home.html",
        {"today": today, "progress": progress, "next_due_on": next_due_on, "profile": profile},
    )
