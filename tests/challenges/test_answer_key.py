"""The answer key stays hidden until the learner passes or gives up ("Show me"); later attempts count at most 3.

Also: the program's own output under the verdict, and a prediction shown against the printed lines.
The grader is tests/challenges_graders.py's marker grader; the verdicts of the real graders that
carry a key or an output are in tests/grading.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.challenges import submissions, tasks
from cards.challenges.models import AnswerReveal, Submission
from cards.review.models import ReviewLog, ReviewState
from tests.factories import FAILING, PASSING, make_challenge, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
HTMX = {"HTTP_HX_REQUEST": "true"}
REFERENCE = "async def get_data(url):\n    return 'the author reference'  # PASS\n"
PRINTED = ["main created B", "A start", "B start", "A step 0"]


@pytest.fixture
def learner(client):
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def challenge():
    return make_challenge(slug="blocking-call", reference_solution=REFERENCE)


def page(client, challenge) -> str:
    return client.get(reverse("challenge_detail", args=[challenge.slug])).content.decode()


def prediction_verdict(predicted: list[str]) -> dict:
    """A predict-the-interleaving verdict as the grader stores it (cards.grading.await_interleaving)."""
    rows = []
    for i in range(max(len(predicted), len(PRINTED))):
        mine = predicted[i] if i < len(predicted) else None
        printed = PRINTED[i] if i < len(PRINTED) else None
        rows.append({"predicted": mine, "actual": printed, "match": mine is not None and mine == printed})
    passed = predicted == PRINTED
    return {
        "passed": passed,
        "quality": 5 if passed else 2,
        "checks": [{"name": "prediction", "passed": passed, "measured": {"program_lines": 4}, "message": ""}],
        "feedback": "Your first line already differs from what the program printed.",
        "answer_key": {"lines": rows},
    }


def graded(user, challenge, verdict: dict, **fields) -> Submission:
    return make_submission(
        user=user,
        challenge=challenge,
        status=Submission.Status.GRADED,
        verdict=verdict,
        passed=verdict["passed"],
        quality=verdict["quality"],
        **fields,
    )


def test_reference_is_hidden_until_the_learner_gives_up_and_show_me_is_offered(client, learner, challenge):
    html = page(client, challenge)
    assert "the author reference" not in html
    assert 'id="show-me-button"' in html and "count at most 3 of 5" in html

    response = client.post(reverse("challenge_reveal", args=[challenge.slug]), {"code": "my draft # unsaved"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "the author reference" in html and "The answer" in html
    assert "my draft # unsaved" in html  # the code as typed comes back in the editor: nothing lost
    assert 'id="show-me-button"' not in html
    assert AnswerReveal.objects.filter(user=learner, challenge=challenge).count() == 1

    # Asking again changes nothing; the page keeps showing the answer.
    client.post(reverse("challenge_reveal", args=[challenge.slug]), **HTMX)
    assert AnswerReveal.objects.filter(user=learner, challenge=challenge).count() == 1
    assert "the author reference" in page(client, challenge)


def test_show_me_with_htmx_swaps_the_answer_in_and_leaves_the_editor_alone(client, learner, challenge):
    graded(learner, challenge, prediction_verdict(["A start", "B start"]))
    response = client.post(reverse("challenge_reveal", args=[challenge.slug]), {"code": "typed"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    # Every part swapped by id, nothing else: the form (and the code in it) is not in the answer.
    assert 'id="answer"' in html and 'id="submission-status"' in html and 'id="show-me"' in html
    assert html.count('hx-swap-oob="true"') == 3
    assert 'name="code"' not in html
    assert "the author reference" in html
    assert '<th scope="col">The program printed</th>' in html and "<code>main created B</code>" in html


def test_a_pass_shows_the_answer_without_any_cap(client, learner, challenge):
    graded(learner, challenge, prediction_verdict(PRINTED))
    html = page(client, challenge)
    assert "the author reference" in html and 'id="show-me-button"' not in html
    assert "You asked to see it" not in html


def test_prediction_is_compared_line_by_line_without_the_printed_lines_until_revealed(client, learner, challenge):
    graded(learner, challenge, prediction_verdict(["main created B", "B start", "A start"]))
    html = page(client, challenge)
    assert "Your prediction, line by line" in html
    assert html.count("differs</td>") == 2 and html.count("same</td>") == 1
    assert "A step 0" not in html  # a printed line the learner did not predict: the key never shows
    assert "The program printed" not in html

    client.post(reverse("challenge_reveal", args=[challenge.slug]))
    html = page(client, challenge)
    assert "The program printed" in html and "<code>A step 0</code>" in html and "(no line)" in html


def test_the_submission_page_keeps_the_key_hidden_too(client, learner, challenge):
    submission = graded(learner, challenge, prediction_verdict(["A start"]))
    html = client.get(reverse("challenge_submission", args=[submission.pk])).content.decode()
    assert "Your prediction, line by line" in html
    assert "main created B" not in html and "the author reference" not in html
    html = client.get(reverse("challenge_submission", args=[submission.pk]), **HTMX).content.decode()
    assert "main created B" not in html and "the author reference" not in html


def test_measured_blocking_lines_show_only_in_the_answer(client, learner, challenge):
    verdict = {
        "passed": False,
        "quality": 1,
        "checks": [{"name": "blocking_lines", "passed": False, "measured": {"found": 1}, "message": ""}],
        "feedback": "1 blocking line not marked yet, in `fetch_user()`.",
        "answer_key": {
            "blocking_lines": [
                {"line": 9, "code": "time.sleep(0.3)", "held_ms": 612, "called_from": []},
                {
                    "line": 4,
                    "code": "return requests.get(url).json()",
                    "held_ms": 305,
                    "called_from": [{"line": 14, "code": "user = fetch_user(url)"}],
                },
            ]
        },
    }
    graded(learner, challenge, verdict)
    assert "time.sleep(0.3)" not in page(client, challenge)
    client.post(reverse("challenge_reveal", args=[challenge.slug]))
    html = page(client, challenge)
    assert "<code>time.sleep(0.3)</code>" in html and "612 ms" in html
    assert "called from line 14" in html


def test_another_learners_reveal_or_pass_shows_nothing(client, learner, challenge):
    other = make_user()
    submissions.submit(other, challenge, PASSING)  # queued only; a pass of theirs below
    Submission.objects.filter(user=other).update(status="graded", passed=True, quality=5)
    AnswerReveal.objects.create(user=other, challenge=challenge)
    html = page(client, challenge)
    assert "the author reference" not in html and 'id="show-me-button"' in html


def test_attempts_after_a_reveal_pass_at_most_3_and_the_card_comes_back_today(client, learner, challenge):
    before = submissions.submit(learner, challenge, FAILING + "\n# before").submission
    client.post(reverse("challenge_reveal", args=[challenge.slug]))
    after = submissions.submit(learner, challenge, PASSING).submission
    assert (before.after_reveal, after.after_reveal) == (False, True)

    for submission in (before, after):
        assert tasks.grade_submission.apply(args=[submission.pk]).get() == "graded"
    after.refresh_from_db()
    assert (after.passed, after.quality) == (True, 3)
    assert after.verdict["quality"] == 5  # the grader's own grade is kept; the attempt counts 3
    log = ReviewLog.objects.filter(user=learner, source="challenge").latest("id")
    assert log.quality == 3
    state = ReviewState.objects.get(user=learner, card=challenge.practice_card)
    assert state.redrill  # 3: right, but the card comes back in today's review

    html = client.get(reverse("challenge_submission", args=[after.pk])).content.decode()
    assert "Passed · quality 3 of 5" in html and "Sent after you asked to see the answer" in html


def test_show_me_needs_a_post_a_login_and_an_open_challenge(client, challenge):
    url = reverse("challenge_reveal", args=[challenge.slug])
    assert client.post(url).status_code == 302  # to the log-in page
    client.force_login(make_user())
    assert client.get(url).status_code == 405
    challenge.is_active = False
    challenge.save()
    assert client.post(url).status_code == 404
    assert not AnswerReveal.objects.exists()


def test_program_output_is_shown_escaped_under_the_verdict(client, learner, challenge):
    verdict = {
        "passed": False,
        "quality": 1,
        "checks": [{"name": "results", "passed": False, "measured": {}, "message": ""}],
        "feedback": "Not yet.",
        "output": {
            "stdout": "fetching <b>1</b>\n",
            "stderr": "Traceback (most recent call last):\n  File \"solution.py\", line 3\nKeyError: 'id'\n",
        },
    }
    graded(learner, challenge, verdict, finished_at=timezone.now())
    html = page(client, challenge)
    assert "What your program printed" in html
    assert "fetching &lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html
    assert "KeyError: &#x27;id&#x27;" in html
    assert '<details class="program-output" open>' in html  # a failed run with a traceback opens it


def test_no_output_section_for_a_grader_that_does_not_run_the_learners_code(client, learner, challenge):
    graded(learner, challenge, prediction_verdict(PRINTED))
    assert "What your program printed" not in page(client, challenge)
