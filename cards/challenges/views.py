"""Challenges: the list, a challenge's page (prompt, editor, attempts), submitting, and live status.

The status of a submission is the "status" partial of challenges/detail.html:
while the submission is queued or running it carries an htmx trigger that polls
this view every second, and once the verdict is in it renders without one, so
the polling stops by itself. A submission is looked up with its owner, so another
user's id is a 404. Without JavaScript, submitting redirects to the submission's
own page, which reloads itself (and has a reload link) until the verdict is in; a
rejected submission shows the challenge page again with the reason and the code as typed
(400, or 429 with Retry-After when it is refused for now: too many in flight, the queue
full). With htmx only the status panel is swapped, so the editor keeps the code; htmx swaps
only 2xx answers, so there the refusal's status is in the X-Submission-Rejected header.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from cards.challenges import answers
from cards.challenges.models import Challenge, Submission
from cards.challenges.submissions import SubmissionRejected, submit

ATTEMPTS_SHOWN = 20
POLL_SECONDS = 1


def _attempts(request: HttpRequest, challenge: Challenge) -> list[Submission]:
    return list(
        Submission.objects.filter(user=request.user, challenge=challenge).order_by("-created_at", "-id")[
            :ATTEMPTS_SHOWN
        ]
    )


def _status_context(request: HttpRequest, challenge: Challenge, submission: Submission | None) -> dict:
    revealed = answers.has_revealed(request.user, challenge)
    return {
        "challenge": challenge,
        "submission": submission,
        "attempts": _attempts(request, challenge),
        "poll_seconds": POLL_SECONDS,
        "revealed": revealed,
        # The answer key (reference, measured order or lines) only once passed or given up.
        "key_visible": revealed or answers.has_passed(request.user, challenge),
    }


@require_GET
@login_required
def challenge_list(request: HttpRequest) -> HttpResponse:
    """Every open challenge, with whether this learner has passed it."""
    passed = Submission.objects.filter(user=request.user, challenge=OuterRef("pk"), passed=True)
    tried = Submission.objects.filter(user=request.user, challenge=OuterRef("pk"))
    challenges = Challenge.objects.filter(is_active=True).annotate(passed=Exists(passed), tried=Exists(tried))
    return render(request, "challenges/list.html", {"challenges": challenges})


@require_GET
@login_required
def challenge_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The prompt, the editor (the learner's last code, or the starter), the latest status and past attempts.

    `?code=starter` puts the starter code back in the editor (the reset, without JavaScript).
    """
    challenge = get_object_or_404(Challenge, slug=slug, is_active=True)
    context = _status_context(request, challenge, None)
    attempts = context["attempts"]
    latest = attempts[0] if attempts else None
    context["submission"] = latest
    reset = request.GET.get("code") == "starter"
    context["code"] = challenge.starter_code if reset or latest is None else latest.code
    return render(request, "challenges/detail.html", context)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def challenge_submit(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the code as a submission and queue its grading; htmx gets the (polling) status partial."""
    challenge = get_object_or_404(Challenge, slug=slug)
    code = request.POST.get("code", "")
    try:
        submission = submit(request.user, challenge, code).submission
    except SubmissionRejected as exc:
        status = exc.http_status
        if request.htmx:
            # htmx swaps only 2xx answers; the rejection is shown in place of the status.
            response = render(
                request,
                "challenges/detail.html#status",
                {**_status_context(request, challenge, None), "rejection": str(exc)},
            )
            response["X-Submission-Rejected"] = str(status)
        else:
            # The challenge page again, with the code as typed: a rejected attempt loses nothing.
            context = {**_status_context(request, challenge, None), "code": code, "rejection": str(exc)}
            response = render(request, "challenges/detail.html", context, status=status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if request.htmx:
        return render(request, "challenges/detail.html#status", _status_context(request, challenge, submission))
    return redirect("challenge_submission", pk=submission.pk)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def challenge_reveal(request: HttpRequest, slug: str) -> HttpResponse:
    """"Show me": the learner gives up and sees the answer; attempts from now on score at most 3.

    The button sits in the code form, so the code as typed comes along: without JavaScript the
    page comes back with it in the editor; with htmx only the answer and the verdict are swapped.
    """
    challenge = get_object_or_404(Challenge, slug=slug, is_active=True)
    answers.reveal(request.user, challenge)
    context = _status_context(request, challenge, None)
    attempts = context["attempts"]
    context["submission"] = attempts[0] if attempts else None
    if request.htmx:
        return render(request, "challenges/detail.html#revealed", context)
    latest = context["submission"]
    context["code"] = request.POST.get("code") or (latest.code if latest else challenge.starter_code)
    return render(request, "challenges/detail.html", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the learner's own submissions: the status partial for htmx polling, else its page."""
    submission = get_object_or_404(Submission.objects.select_related("challenge"), pk=pk, user=request.user)
    context = _status_context(request, submission.challenge, submission)
    if request.htmx:
        return render(request, "challenges/detail.html#status", context)
    return render(request, "challenges/submission.html", context)
