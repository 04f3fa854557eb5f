"""The authoring admin: pages, search, filters, previews, who may enter, the read-only review log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Tag
from cards.review.models import ReviewLog
from tests.factories import make_card, make_deck, make_staff, make_superuser, make_user

pytestmark = pytest.mark.django_db

CODE_CARD_ANSWER = "Use an async client:\n\n```python\nasync def get_data():\n    return await client.get(url)\n```\n"


@pytest.fixture
def author_client(client):
    client.force_login(make_superuser())
    return client


# --- pages render ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["cards_card", "cards_deck", "cards_tag", "review_reviewlog"])
def test_changelists_render(author_client, model):
    make_card(tags=("gil",))
    response = author_client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ["card", "deck", "tag"])
def test_add_pages_render(author_client, model):
    make_deck()
    assert author_client.get(reverse(f"admin:cards_{model}_add")).status_code == 200


def test_card_changelist_shows_deck_tags_and_question(author_client):
    make_card(key="event-loop-chef", question="Explain the chef.", tags=("event-loop", "await"))
    html = author_client.get(reverse("admin:cards_card_changelist")).content.decode()
    assert "event-loop-chef" in html and "Explain the chef." in html and "await, event-loop" in html


def test_card_changelist_query_count_does_not_grow_with_cards(author_client, django_assert_max_num_queries):
    deck = make_deck()
    for _ in range(5):
        make_card(deck=deck, tags=("gil", "threads"))
    url = reverse("admin:cards_card_changelist")
    with django_assert_max_num_queries(20) as few:
        author_client.get(url)
    for _ in range(20):
        make_card(deck=deck, tags=("gil", "threads"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        author_client.get(url)


def test_deck_changelist_counts_cards(author_client):
    deck = make_deck(title="Async and sync")
    make_card(deck=deck)
    make_card(deck=deck)
    html = author_client.get(reverse("admin:cards_deck_changelist")).content.decode()
    assert "Async and sync" in html and '<td class="field-card_count">2</td>' in html


# --- search and filters ------------------------------------------------------------------


def test_search_finds_cards_by_text_key_and_tag(author_client):
    make_card(key="event-loop-chef", question="Explain the event loop with a chef.", tags=("event-loop",))
    make_card(key="gil-what", question="What is the GIL?", tags=("gil",))
    url = reverse("admin:cards_card_changelist")

    by_text = author_client.get(url, {"q": "chef"}).content.decode()
    assert "event-loop-chef" in by_text and "gil-what" not in by_text

    by_key = author_client.get(url, {"q": "gil-what"}).content.decode()
    assert "gil-what" in by_key and "event-loop-chef" not in by_key

    by_tag = author_client.get(url, {"q": "event-loop"}).content.decode()
    assert "event-loop-chef" in by_tag and "gil-what" not in by_tag


def test_filters_by_deck_and_tag(author_client):
    first, second = make_deck(slug="first"), make_deck(slug="second")
    make_card(deck=first, key="in-first", tags=("gil",))
    make_card(deck=second, key="in-second", tags=("threads",))
    url = reverse("admin:cards_card_changelist")

    by_deck = author_client.get(url, {"deck__id__exact": first.pk}).content.decode()
    assert "in-first" in by_deck and "in-second" not in by_deck

    tag = Tag.objects.get(name="threads")
    by_tag = author_client.get(url, {"tags__id__exact": tag.pk}).content.decode()
    assert "in-second" in by_tag and "in-first" not in by_tag


def test_card_form_edits_tags_with_a_filter_widget(author_client):
    card = make_card(tags=("gil",))
    html = author_client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert 'name="tags"' in html and "selectfilter" in html.lower()  # filter_horizontal


def test_editing_tags_in_the_admin_saves_them(author_client):
    card = make_card(key="gil-what", tags=("gil",))
    threads = Tag.objects.create(name="threads")
    response = author_client.post(
        reverse("admin:cards_card_change", args=[card.pk]),
        {
            "deck": card.deck_id,
            "key": card.key,
            "position": 0,
            "tags": [threads.pk],
            "question": card.question,
            "answer": card.answer,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(card.tags.values_list("name", flat=True)) == ["threads"]


# --- previews ----------------------------------------------------------------------------


def test_card_preview_shows_highlighted_code_and_loads_the_stylesheet(author_client):
    card = make_card(question="What is **wrong**?", answer=CODE_CARD_ANSWER)
    html = author_client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert "<p>What is <strong>wrong</strong>?</p>" in html
    assert '<div class="highlight">' in html
    assert '<span class="k">await</span>' in html
    assert "css/pygments.css" in html


def test_card_preview_is_sanitised(author_client):
    card = make_card(question="<script>alert('x')</script>Hi <img src=x onerror=alert(1)>")
    html = author_client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert "<script>alert('x')" not in html
    assert "onerror=alert(1)>" not in html and "<img src=x" not in html
    # The textarea still shows the author exactly what they wrote, escaped.
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_deck_preview_renders_its_description(author_client):
    deck = make_deck(description="About `await`.")
    html = author_client.get(reverse("admin:cards_deck_change", args=[deck.pk])).content.decode()
    assert "<p>About <code>await</code>.</p>" in html


# --- who may enter -----------------------------------------------------------------------

ADMIN_URLS = [
    ("admin:index", ()),
    ("admin:cards_card_changelist", ()),
    ("admin:cards_card_add", ()),
    ("admin:cards_card_import", ()),
    ("admin:cards_card_export", ()),
    ("admin:cards_deck_changelist", ()),
    ("admin:review_reviewlog_changelist", ()),
]


@pytest.mark.parametrize(("name", "args"), ADMIN_URLS)
def test_a_learner_cannot_reach_the_admin(client, name, args):
    make_card()
    client.force_login(make_user())
    for method in (client.get, client.post):
        response = method(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "args"), ADMIN_URLS)
def test_an_anonymous_visitor_cannot_reach_the_admin(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_a_learners_card_change_page_and_import_post_are_refused(client):
    card = make_card()
    client.force_login(make_user())
    response = client.post(reverse("admin:cards_card_change", args=[card.pk]), {"question": "hacked"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.question != "hacked"
    assert client.post(reverse("admin:cards_card_process_import"), {}).status_code == 302


def test_view_only_staff_can_export_but_not_import(client):
    make_card()
    client.force_login(make_staff(permissions=["view_card"]))
    assert client.get(reverse("admin:cards_card_changelist")).status_code == 200
    assert client.get(reverse("admin:cards_card_export")).status_code == 200
    assert client.get(reverse("admin:cards_card_import")).status_code == 403


# --- the review log is read-only ---------------------------------------------------------


def make_log(**kwargs):
    kwargs.setdefault("user", make_user())
    kwargs.setdefault("card", make_card())
    kwargs.setdefault("source", ReviewLog.Source.REVIEW)
    kwargs.setdefault("quality", 4)
    kwargs.setdefault("before", {"repetitions": 0, "easiness": "2.50", "interval": 0})
    kwargs.setdefault("after", {"repetitions": 1, "easiness": "2.50", "interval": 1})
    kwargs.setdefault("reviewed_on", dt.date(2026, 2, 3))
    kwargs.setdefault("answered_at", timezone.now())
    return ReviewLog.objects.create(**kwargs)


def test_review_log_can_be_read_but_not_added_changed_or_deleted(author_client):
    log = make_log()
    changelist = author_client.get(reverse("admin:review_reviewlog_changelist")).content.decode()
    assert log.user.username in changelist
    assert reverse("admin:review_reviewlog_add") not in changelist

    assert author_client.get(reverse("admin:review_reviewlog_add")).status_code == 403
    change_url = reverse("admin:review_reviewlog_change", args=[log.pk])
    page = author_client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert author_client.post(change_url, {"quality": 0}).status_code == 403
    assert (
        author_client.post(reverse("admin:review_reviewlog_delete", args=[log.pk]), {"post": "yes"}).status_code == 403
    )
    log.refresh_from_db()
    assert log.quality == 4


def test_review_log_bulk_delete_action_is_not_offered(author_client):
    make_log()
    html = author_client.get(reverse("admin:review_reviewlog_changelist")).content.decode()
    assert "delete_selected" not in html


def test_review_log_search_by_user(author_client):
    make_log(user=make_user(username="ada"))
    make_log(user=make_user(username="brian"))
    html = author_client.get(reverse("admin:review_reviewlog_changelist"), {"q": "ada"}).content.decode()
    assert "ada" in html and "brian" not in html
