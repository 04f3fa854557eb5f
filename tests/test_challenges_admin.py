"""The challenge admin: Markdown preview, the "grade reference and starter" check, read-only submissions."""

import pytest
from django.urls import reverse

from cards.models import Challenge, Submission
from tests import challenges_graders
from tests.challenges_factories import make_challenge, make_submission, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(client):
    user = make_user("author", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_change_page_shows_prompt_preview_and_grade_button(client, author):
    challenge = make_challenge(prompt="Use **await**.\n\n```python\nawait asyncio.sleep(1)\n```")
    page = client.get(reverse("admin:cards_challenge_change", args=[challenge.pk])).content.decode()
    assert "<strong>await</strong>" in page
    assert 'class="highlight"' in page  # the code block is highlighted as learners see it
    assert reverse("admin:cards_challenge_grade_check", args=[challenge.pk]) in page
    assert "Grade reference and starter" in page


def test_grade_check_reports_reference_passes_and_starter_fails(client, author):
    challenge = make_challenge()
    response = client.post(reverse("admin:cards_challenge_grade_check", args=[challenge.pk]))
    assert response.status_code == 200
    checks = response.context["checks"]
    assert checks[0].ok
    reference, starter = checks[0].results
    assert reference.verdict.passed and not starter.verdict.passed
    assert "the reference passes and the starter fails" in response.content.decode().lower()
    assert not Submission.objects.exists()  # nothing saved


def test_grade_check_warns_when_the_starter_passes(client, author):
    good = make_challenge("good")
    bad = make_challenge("bad", starter_code="PASS\n")
    response = client.post(
        reverse("admin:cards_challenge_changelist"),
        {"action": "grade_reference_and_starter", "_selected_action": [good.pk, bad.pk]},
    )
    assert response.status_code == 200
    by_slug = {check.challenge.slug: check for check in response.context["checks"]}
    assert by_slug["good"].ok and not by_slug["bad"].ok
    assert "bad: the reference must pass and the starter must fail" in response.content.decode().lower()


def test_grade_check_is_post_only(client, author):
    challenge = make_challenge()
    assert client.get(reverse("admin:cards_challenge_grade_check", args=[challenge.pk])).status_code == 405


def test_grader_kind_must_be_a_registered_one(client, author):
    challenge = make_challenge()
    data = {
        "title": challenge.title,
        "slug": challenge.slug,
        "is_active": "on",
        "position": 0,
        "prompt": "P",
        "starter_code": "FAIL",
        "reference_solution": "PASS",
        "grader_kind": "no-such-kind",
        "grader_params": "{}",
    }
    response = client.post(reverse("admin:cards_challenge_change", args=[challenge.pk]), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Challenge.objects.get(pk=challenge.pk).grader_kind != "no-such-kind"


def test_submissions_are_read_only_history(client, author):
    submission = make_submission(make_user(), make_challenge(), "PASS\n# <b>mine</b>\n")
    change_url = reverse("admin:cards_submission_change", args=[submission.pk])
    page = client.get(change_url).content.decode()
    assert "&lt;b&gt;mine&lt;/b&gt;" in page
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:cards_submission_add")).status_code == 403
    delete_url = reverse("admin:cards_submission_delete", args=[submission.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Submission.objects.filter(pk=submission.pk).exists()


def test_challenge_written_in_the_admin_gets_a_practice_card(client, author):
    data = {
        "title": "Await as the pause point",
        "slug": "await-pause",
        "is_active": "on",
        "position": 7,
        "prompt": "P",
        "starter_code": "FAIL",
        "reference_solution": "PASS",
        "grader_kind": challenges_graders.KIND,
        "grader_params": "{}",
    }
    response = client.post(reverse("admin:cards_challenge_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    card = Challenge.objects.get(slug="await-pause").practice_card
    assert (card.deck.slug, card.key) == ("challenges", "await-pause")
    assert "/challenges/await-pause/" in card.question
