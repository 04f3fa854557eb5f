"""`manage.py import_apkg`: note types, content, tags, the three formats, idempotence, --deck."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cards.anki import mapping
from cards.models import Card, Deck, Tag
from tests.anki.builders import CURRENT, LEGACY, OLDEST, NoteSpec, build, zip_members
from tests.factories import make_deck

pytestmark = pytest.mark.django_db

FIELD_HTML = (
    '<div style="color: red">x &lt; y &amp;&amp; caf\u00e9 \u65e5\u672c &nbsp;\u2014 '
    '<b onclick="alert(1)">bold</b><script>alert(1)</script></div>'
    "<pre><code>async def f():\n    await g()  # &lt;T&gt;</code></pre>"
)
NOTES = [
    NoteSpec("Basic", ["What does <code>await</code> do?", FIELD_HTML], tags=["async::event-loop", "Python"]),
    NoteSpec("Basic (and reversed card)", ["GIL", "Global interpreter lock"], tags=["gil"]),
    NoteSpec("Cloze", ["{{c1::Paris}} is the capital of {{c2::France::a country}}.", "Extra <i>note</i>"]),
    NoteSpec("Basic (type in the answer)", ["2 + 2", "4"]),
]


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_apkg", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("apkg")
    return {fmt: build(folder / f"{fmt}.apkg", NOTES, fmt=fmt).path for fmt in (CURRENT, LEGACY, OLDEST)}


def test_the_packages_are_the_three_formats(packages):
    assert {"collection.anki21b", "collection.anki2", "meta"} <= set(zip_members(packages[CURRENT]))
    assert b"Please update" in zip_members(packages[CURRENT])["collection.anki2"]  # the placeholder, never read
    assert "collection.anki21" in zip_members(packages[LEGACY])
    assert set(zip_members(packages[OLDEST])) & {"collection.anki21", "collection.anki21b"} == set()


@pytest.mark.parametrize("fmt", [CURRENT, LEGACY, OLDEST])
def test_each_format_imports_the_same_cards(packages, fmt):
    out, err = run(packages[fmt], "--deck", "imported")
    assert "4 notes, 6 cards created" in out
    deck = Deck.objects.get(slug="imported")
    cards = list(Card.objects.filter(deck=deck).order_by("position"))
    assert all(card.text_format == Card.TextFormat.HTML for card in cards)
    basic, forward, backward, cloze1, cloze2, other = [(card.question, card.answer, card.cloze) for card in cards]
    assert basic[0] == "What does <code>await</code> do?"
    assert forward == ("GIL", "Global interpreter lock", None)
    assert backward == ("Global interpreter lock", "GIL", None)  # the reversed card asks the back
    text = "{{c1::Paris}} is the capital of {{c2::France::a country}}."
    assert cloze1 == (text, "Extra <i>note</i>", 1)
    assert cloze2 == (text, "Extra <i>note</i>", 2)
    assert other == ("2 + 2", "4", None)  # from its first two fields, with a warning
    assert "'Basic (type in the answer)' (1 note)" in err


def test_every_note_type_and_the_warning(packages):
    out, err = run(packages[CURRENT], "--deck", "imported")
    assert "4 notes, 6 cards created" in out
    other = Card.objects.get(question="2 + 2")
    assert other.answer == "4" and other.cloze is None
    assert "warning: note types imported from their first two fields only: 'Basic (type in the answer)'" in err


def test_html_is_sanitised_on_the_way_in_and_keeps_code_entities_and_text(packages):
    run(packages[CURRENT])
    card = Card.objects.get(question__startswith="What does")
    assert card.answer == (
        "<div>x &lt; y &amp;&amp; caf\u00e9 \u65e5\u672c &nbsp;\u2014 <b>bold</b></div>"
        "<pre><code>async def f():\n    await g()  # &lt;T&gt;</code></pre>"
    )
    html = str(card.answer_html())
    assert "style" not in html and "onclick" not in html and "script" not in html
    assert "<pre><code>async def f():\n    await g()  # &lt;T&gt;</code></pre>" in html


def test_tags_and_default_deck(packages):
    run(packages[CURRENT])
    deck = Deck.objects.get()
    assert (deck.slug, deck.title) == ("default", "Default")  # the Anki deck the cards are in
    card = Card.objects.get(question__startswith="What does")
    assert sorted(tag.name for tag in card.tags.all()) == ["async-event-loop", "python"]
    assert Tag.objects.filter(name="gil").exists()


def test_reimport_updates_in_place_and_creates_no_duplicates(tmp_path):
    guid = "fixedGuid1"
    first = build(tmp_path / "a.apkg", [NoteSpec("Basic", ["Q1", "A1"], tags=["one"], guid=guid)]).path
    run(first, "--deck", "d")
    card = Card.objects.get()
    out, _ = run(first, "--deck", "d")
    assert "0 cards created, 0 updated, 1 unchanged" in out
    changed = build(tmp_path / "b.apkg", [NoteSpec("Basic", ["Q1 edited", "A1"], tags=["two"], guid=guid)]).path
    out, _ = run(changed, "--deck", "d")
    assert "0 cards created, 1 updated" in out
    card.refresh_from_db()
    assert Card.objects.count() == 1
    assert (card.question, card.anki_guid, [tag.name for tag in card.tags.all()]) == ("Q1 edited", guid, ["two"])
    assert card.key == mapping.card_key(guid, 0)


def test_into_an_existing_deck_after_its_cards(tmp_path):
    deck = make_deck(slug="mine")
    Card.objects.create(deck=deck, key="own", question="q", answer="a", position=7)
    path = build(tmp_path / "p.apkg", [NoteSpec("Basic", ["Q", "A"])]).path
    run(path, "--deck", "mine")
    imported = Card.objects.get(key__startswith="anki-")
    assert imported.deck == deck and imported.position == 8
    assert Card.objects.get(key="own").text_format == Card.TextFormat.MARKDOWN


def test_bad_arguments(tmp_path):
    path = build(tmp_path / "p.apkg", [NoteSpec("Basic", ["Q", "A"])]).path
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        run(path, "--user", "nobody")
    with pytest.raises(CommandError, match="is not a slug"):
        run(path, "--deck", "not a slug")
    assert not Card.objects.exists()


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        ("async::event-loop", "async-event-loop"),
        ("Python", "python"),
        ("Caf\u00e9::Cr\u00e8me_Br\u00fbl\u00e9e", "cafe-creme_brulee"),
        ("a::::b", "a-b"),
        ("C++", "c"),
        ("::", ""),
        ("x" * 80, "x" * 50),
    ],
)
def test_tag_names(tag, name):
    assert mapping.tag_name(tag) == name
