"""CSV import and export of cards (django-import-export), through the admin as an author uses it."""

from __future__ import annotations

import csv
import io
import re

import pytest
import tablib
from django.urls import reverse

from cards.admin import CardResource
from cards.models import Card, Tag
from tests.csv_helpers import csv_upload
from tests.factories import make_card, make_deck, make_superuser

pytestmark = pytest.mark.django_db

HEADER = "deck,key,question,answer,tags,position\n"


@pytest.fixture
def author_client(client):
    client.force_login(make_superuser())
    return client


def export_csv(client) -> str:
    """Export every card as CSV through the admin's export form."""
    fields = {f"cardresource_{name}": "on" for name in ("deck", "key", "question", "answer", "tags", "position")}
    response = client.post(reverse("admin:cards_card_export"), {"format": "0", "resource": "", **fields})
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8")


def import_csv(client, text: str):
    """Upload, then confirm if the preview allows it; returns (preview response, confirm response or None)."""
    preview = client.post(reverse("admin:cards_card_import"), {"format": "0", "import_file": csv_upload(text)})
    assert preview.status_code == 200
    html = preview.content.decode()
    if 'name="confirm"' not in html:
        return preview, None
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    confirm = client.post(
        reverse("admin:cards_card_process_import"),
        {key: hidden[key] for key in ("import_file_name", "original_file_name", "format")} | {"resource": ""},
    )
    assert confirm.status_code == 302, confirm.content.decode()[:3000]
    return preview, confirm


def snapshot():
    return sorted(
        (c.deck.slug, c.key, c.question, c.answer, c.position, tuple(sorted(t.name for t in c.tags.all())))
        for c in Card.objects.select_related("deck").prefetch_related("tags")
    )


def seed_cards():
    deck = make_deck(slug="async-and-sync")
    make_card(
        deck=deck,
        key="requests-in-async-fix",
        question='Fix it, with a comma, a "quote" and\nnew lines.',
        answer="```python\nasync with httpx.AsyncClient() as client:\n    r = await client.get(url)\n```",
        tags=("requests-in-async", "await"),
        position=2,
    )
    make_card(deck=deck, key="gil-what", question="What is the GIL?", answer="A lock.", tags=("gil",), position=1)
    make_card(deck=make_deck(slug="other"), key="gil-what", question="Same key, other deck", tags=())


# --- export ------------------------------------------------------------------------------


def test_export_has_deck_slug_key_text_and_tags_as_one_cell(author_client):
    seed_cards()
    rows = list(csv.DictReader(io.StringIO(export_csv(author_client))))
    assert list(rows[0]) == ["deck", "key", "question", "answer", "tags", "position"]
    by_id = {(row["deck"], row["key"]): row for row in rows}
    assert len(by_id) == 3
    fix = by_id[("async-and-sync", "requests-in-async-fix")]
    assert fix["tags"] == "await, requests-in-async"
    assert fix["question"] == 'Fix it, with a comma, a "quote" and\nnew lines.'
    assert by_id[("other", "gil-what")]["tags"] == ""


# --- round trip --------------------------------------------------------------------------


def test_round_trip_export_then_import_adds_nothing_and_changes_nothing(author_client):
    seed_cards()
    before = snapshot()
    ids = set(Card.objects.values_list("id", flat=True))
    exported = export_csv(author_client)

    preview, _ = import_csv(author_client, exported)
    assert "New" not in re.sub(r"<[^>]+>", " ", preview.content.decode()).split()  # no row marked new

    assert snapshot() == before
    assert set(Card.objects.values_list("id", flat=True)) == ids
    # Twice over, still nothing new.
    import_csv(author_client, exported)
    assert Card.objects.count() == 3 and snapshot() == before


def test_reimport_with_edits_updates_in_place(author_client):
    seed_cards()
    original_id = Card.objects.get(deck__slug="async-and-sync", key="gil-what").pk
    exported = export_csv(author_client)
    edited = exported.replace("A lock.", "The Global Interpreter Lock.")
    edited += 'async-and-sync,new-card,Brand new?,Yes.,"threads, brand-new-tag",7\n'
    import_csv(author_client, edited)

    card = Card.objects.get(deck__slug="async-and-sync", key="gil-what")
    assert card.pk == original_id and card.answer == "The Global Interpreter Lock."
    assert Card.objects.count() == 4
    new = Card.objects.get(key="new-card")
    assert set(new.tags.values_list("name", flat=True)) == {"threads", "brand-new-tag"}
    assert new.position == 7


def test_tags_column_replaces_the_tags(author_client):
    seed_cards()
    import_csv(author_client, HEADER + 'async-and-sync,gil-what,What is the GIL?,A lock.,"gil, threads",1\n')
    card = Card.objects.get(deck__slug="async-and-sync", key="gil-what")
    assert sorted(card.tags.values_list("name", flat=True)) == ["gil", "threads"]
    import_csv(author_client, HEADER + "async-and-sync,gil-what,What is the GIL?,A lock.,threads,1\n")
    assert list(card.tags.values_list("name", flat=True)) == ["threads"]


# --- bad files import nothing ------------------------------------------------------------

BAD_ROWS = [
    ("no-such-deck,ok-key,Q?,A.,gil,1\n", "no deck with slug &#x27;no-such-deck&#x27;"),
    ("async-and-sync,Not A Slug!,Q?,A.,gil,1\n", "slug"),
    ("async-and-sync,empty-answer,Q?,,gil,1\n", "This field cannot be blank"),
    ('async-and-sync,bad-tag,Q?,A.,"gil, two words",1\n', "is not a slug"),
    ("async-and-sync,bad-position,Q?,A.,gil,minus one\n", "position"),
]


@pytest.mark.parametrize(("bad_row", "message"), BAD_ROWS)
def test_one_bad_row_imports_nothing_and_says_why(author_client, bad_row, message):
    seed_cards()
    before = snapshot()
    tags_before = set(Tag.objects.values_list("name", flat=True))
    text = (
        HEADER
        + 'async-and-sync,good-new-card,Good?,Yes.,"gil, fresh-tag",3\n'
        + "async-and-sync,gil-what,What is the GIL?,Changed answer.,gil,1\n"
        + bad_row
    )
    preview, confirm = import_csv(author_client, text)
    assert confirm is None, "a file with an invalid row must not be offered for import"
    html = preview.content.decode()
    assert message in html
    # The third data row is named, with its message; the two good rows above it are not imported.
    assert "Some rows failed to validate" in html
    assert re.search(r"<td>3\s*</td>\s*<td class=\"errors\">", html)
    assert snapshot() == before
    assert set(Tag.objects.values_list("name", flat=True)) == tags_before


def test_a_file_confirmed_after_the_data_changed_still_imports_all_or_nothing():
    # The resource itself, called as the admin's confirm step would: a bad row rolls back the good ones.
    seed_cards()
    before = snapshot()
    dataset = tablib.Dataset(headers=["deck", "key", "question", "answer", "tags", "position"])
    dataset.append(["async-and-sync", "good-one", "Q?", "A.", "gil", "1"])
    dataset.append(["no-such-deck", "bad-one", "Q?", "A.", "gil", "1"])
    result = CardResource().import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert snapshot() == before
    assert not Card.objects.filter(key="good-one").exists()


def test_a_csv_missing_the_key_column_is_refused(author_client):
    seed_cards()
    before = snapshot()
    preview, confirm = import_csv(author_client, "deck,question,answer\nasync-and-sync,Q?,A.\n")
    assert confirm is None
    assert "not present in the file headers: key" in preview.content.decode()
    assert snapshot() == before


def test_duplicate_keys_in_one_file_do_not_make_duplicate_cards(author_client):
    make_deck(slug="async-and-sync")
    import_csv(
        author_client,
        HEADER + "async-and-sync,twice,First?,A.,gil,1\nasync-and-sync,twice,Second?,B.,gil,2\n",
    )
    assert Card.objects.filter(key="twice").count() == 1
    assert Card.objects.get(key="twice").question == "Second?"
