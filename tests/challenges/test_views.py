"""The challenge pages: list, page, submit (htmx and plain), status polling, and isolation between users."""

import re

import pytest
from django.urls import reverse

from cards.challenges import tasks
from cards.challenges.models import Submission
from tests.factories import make_challenge, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def learner(client):
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def challenge():
    return make_challenge(slug="blocking-call", title="The blocking call")


def test_pages_need_login(client, challenge):
    for url in (reverse("challenge_list"), reverse("challenge_detail", args=[challenge.slug])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_list_and_page_show_prompt_starter_and_editor(client, learner, challenge):
    page = client.get(reverse("challenge_list")).content.decode()
    assert "The blocking call" in page
    page = client.get(reverse("challenge_detail", args=[challenge.slug])).content.decode()
    assert "<code>get_data</code>" in page
    assert 'name="code"' in page and "FAIL" in page  # the starter fills the editor
    assert "js/challenge-editor.js" in page
    assert "No attempts yet." in page


def test_htmx_submit_returns_polling_status_then_the_verdict_stops_polling(
    client, learner, challenge, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("challenge_submit", args=[challenge.slug]), {"code": "PASS\n"}, **HTMX)
    assert response.status_code == 200
    assert len(callbacks) == 1
    submission = Submission.objects.get()
    status_url = reverse("challenge_submission", args=[submission.pk])
    html = response.content.decode()
    assert 'data-status="queued"' in html
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 1s"' in html

    Submission.objects.filter(pk=submission.pk).update(status="running")
    html = client.get(status_url, **HTMX).content.decode()
    assert 'data-status="running"' in html and "hx-trigger" in html

    Submission.objects.filter(pk=submission.pk).update(
        status="graded",
        passed=False,
        quality=1,
        verdict={
            "passed": False,
            "quality": 1,
            "checks": [{"name": "loop stays free", "passed": False, "measured": {"stall_ms": 410}, "message": "m"}],
            "feedback": "line 5, `requests.get(url)`, held the event loop for 410 ms per call",
            "timings": {},
        },
    )
    html = client.get(status_url, **HTMX).content.decode()
    assert 'data-status="graded"' in html
    assert "hx-trigger" not in html  # polling stops
    assert "Loop stays free" in html and "<dt>stall ms</dt><dd>410</dd>" in html
    assert "requests.get(url)" in html
    assert "Not passed yet · quality 1 of 5" in html
    assert (
        "Quality 1 of 5 (the grade an attempt gives, as you grade a card): the challenge&#x27;s practice card" in html
    )
    assert 'hx-swap-oob="true"' in html  # the attempts table is refreshed with the verdict


def test_plain_form_submit_redirects_to_the_submission_page(client, learner, challenge):
    response = client.post(reverse("challenge_submit", args=[challenge.slug]), {"code": "PASS\n"})
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("challenge_submission", args=[submission.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Reload" in page and "PASS" in page
    assert '<noscript><meta http-equiv="refresh"' in page  # without JavaScript it reloads itself

    tasks.grade_submission.apply(args=[submission.pk]).get()
    page = client.get(response["Location"]).content.decode()
    assert "Passed" in page and "Reload" not in page and 'http-equiv="refresh"' not in page


def test_rejected_submission_shows_the_reason_in_place(client, learner, challenge):
    response = client.post(reverse("challenge_submit", args=[challenge.slug]), {"code": "x = 1\n" * 12000}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="rejected"' in html and "64 KiB" in html
    assert not Submission.objects.exists()


def test_a_plain_form_rejection_shows_the_page_again_with_the_code_as_typed(client, learner, challenge, settings):
    url = reverse("challenge_submit", args=[challenge.slug])
    typed = "async def get_data(url):\n    return 'mine'\x00\n"
    response = client.post(url, {"code": typed})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-status="rejected"' in html and "NUL byte" in html
    assert "return &#x27;mine&#x27;" in html.split('<textarea id="code"')[1].split("</textarea>")[0]
    assert not Submission.objects.exists()

    settings.CHALLENGE_SUBMISSIONS_PER_MINUTE = 1
    client.post(url, {"code": "PASS\n"})
    response = client.post(url, {"code": "PASS\n# my second try\n"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Try again in" in response.content.decode()
    assert "# my second try" in response.content.decode()
    assert Submission.objects.count() == 1


def test_rate_limited_submission_says_when_to_retry(client, learner, challenge, settings):
    settings.CHALLENGE_SUBMISSIONS_PER_MINUTE = 1
    url = reverse("challenge_submit", args=[challenge.slug])
    client.post(url, {"code": "PASS\n"}, **HTMX)
    response = client.post(url, {"code": "PASS\n# again\n"}, **HTMX)
    assert "Try again in" in response.content.decode()
    assert int(response["Retry-After"]) >= 1
    assert Submission.objects.count() == 1


def test_unknown_challenge_is_404(client, learner):
    assert client.get(reverse("challenge_detail", args=["nope"])).status_code == 404
    assert client.post(reverse("challenge_submit", args=["nope"]), {"code": "PASS\n"}).status_code == 404


def test_another_users_submission_is_404(client, learner, challenge):
    other = make_user(username="other")
    theirs = make_submission(user=other, challenge=challenge, code="PASS\n# secret\n")
    mine = make_submission(user=learner, challenge=challenge, code="PASS\n")
    assert client.get(reverse("challenge_submission", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("challenge_submission", args=[theirs.pk]), **HTMX).status_code == 404
    assert client.get(reverse("challenge_submission", args=[mine.pk])).status_code == 200
    page = client.get(reverse("challenge_detail", args=[challenge.slug])).content.decode()
    assert "# secret" not in page
    assert f'data-submission="{theirs.pk}"' not in page


def test_learner_output_in_a_verdict_is_escaped(client, learner, challenge):
    submission = make_submission(
        user=learner,
        challenge=challenge,
        status="graded",
        passed=False,
        quality=0,
        verdict={
            "passed": False,
            "quality": 0,
            "checks": [{"name": "runs", "passed": False, "measured": {"stdout": "<b>loud</b>"}, "message": "<i>x</i>"}],
            "feedback": "Line 1, `print(x)`, blocked.\n\n<script>alert(1)</script><img src=x onerror=alert(2)>",
            "timings": {},
        },
    )
    html = client.get(reverse("challenge_submission", args=[submission.pk])).content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # shown as typed, as text
    assert "<code>print(x)</code>" in html  # the feedback is Markdown, sanitised
    assert "&lt;b&gt;loud&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html


def test_check_messages_are_not_repeated_and_measurements_read_plainly(client, learner, challenge):
    submission = make_submission(
        user=learner,
        challenge=challenge,
        status="graded",
        passed=True,
        quality=5,
        verdict={
            "passed": True,
            "quality": 5,
            "checks": [
                {"name": "runs", "passed": True, "measured": {"imported": True, "problems": []}, "message": "Ran."},
                {
                    "name": "loop_not_waiting",
                    "passed": True,
                    "measured": {
                        "lines": [{"line": 5, "held_ms": 12.5}, {"line": 9, "held_ms": 0.25}],
                        "limits": {"bound_ms": 15, "strict": False},
                        "calls": [1, 2, 3],
                    },
                    "message": "Only here.",
                },
            ],
            "feedback": "Passed.\n\nRan.",
            "timings": {},
        },
    )
    html = client.get(reverse("challenge_submission", args=[submission.pk])).content.decode()
    assert html.count("Ran.") == 1 and "Only here." in html
    # Names a person reads, not identifiers; values as text and small tables, never raw JSON.
    assert "<strong>Runs without an error</strong>" in html and "<strong>Loop never waits on the work</strong>" in html
    assert "loop_not_waiting" not in html
    assert "<dt>imported</dt><dd>yes</dd>" in html and "<dt>problems</dt><dd>none</dd>" in html
    assert re.search(
        r'<table class="measured-table"><thead><tr><th scope="col">line</th><th scope="col">held ms</th></tr>'
        r"</thead><tbody><tr><td>5</td><td>12.5</td></tr><tr><td>9</td><td>0.25</td></tr></tbody></table>",
        html,
    )
    # (PostgreSQL's jsonb keeps a dict's keys in an order of its own: each row is looked for alone.)
    assert '<tr><th scope="row">bound ms</th><td>15</td></tr>' in html
    assert '<tr><th scope="row">strict</th><td>no</td></tr>' in html
    assert "<dt>calls</dt><dd>1, 2, 3</dd>" in html
    assert "&quot;" not in html.split('id="submission-status"')[1].split("</div>")[0]
    assert "is-passed" in html


def test_reset_to_starter_without_javascript_puts_the_starter_back(client, learner, challenge):
    make_submission(user=learner, challenge=challenge, code="print('my own attempt')\n", status="graded")
    page = client.get(reverse("challenge_detail", args=[challenge.slug])).content.decode()
    assert "print(&#x27;my own attempt&#x27;)" in page.split('id="code"')[1].split("</textarea>")[0]
    assert 'href="?code=starter"' in page
    reset = client.get(reverse("challenge_detail", args=[challenge.slug]), {"code": "starter"}).content.decode()
    editor = reset.split('id="code"')[1].split("</textarea>")[0]
    assert "my own attempt" not in editor and editor.endswith(">FAIL\n")  # the starter (FAILING)
