"""The seed deck (cards/seed/*.toml) and its loader: content, idempotence, updates, dry runs."""

from __future__ import annotations

import ast
import dataclasses
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from cards.models import Card, Deck, Tag
from cards.seed_loader import SeedError, load_seed, parse_seed, read_seed, seed_files
from studyapp.markdown import render_markdown

CONCEPT_TAGS = {
    "async-vs-sync",
    "io-vs-cpu-bound",
    "event-loop",
    "blocking-the-loop",
    "threads",
    "processes",
    "gil",
    "threads-vs-tasks-memory",
    "choosing-a-model",
    "await",
    "requests-in-async",
}


@pytest.fixture(scope="module")
def seed():
    files = seed_files()
    assert [path.name for path in files] == ["async_and_sync.toml"]
    return read_seed(files[0])


def load(**kwargs):
    return load_seed([read_seed(path) for path in seed_files()], **kwargs)


# --- the content -------------------------------------------------------------------------


def test_deck_has_at_least_25_cards_with_unique_keys(seed):
    assert seed.slug == "async-and-sync"
    assert len(seed.cards) >= 25
    assert len({card.key for card in seed.cards}) == len(seed.cards)


def test_every_concept_of_the_seed_document_has_cards(seed):
    tags = {tag for card in seed.cards for tag in card.tags}
    assert tags == CONCEPT_TAGS
    for concept in CONCEPT_TAGS:
        assert sum(concept in card.tags for card in seed.cards) >= 2, concept


def test_key_cards_cover_the_trap_and_its_fix(seed):
    by_key = {card.key: card for card in seed.cards}
    assert "requests.get" in by_key["requests-in-async-trap"].question
    assert "httpx.AsyncClient" in by_key["requests-in-async-fix"].answer
    assert "await" in by_key["requests-in-async-fix"].answer
    assert "chef" in by_key["event-loop-chef"].question.lower()
    assert "reference count" in by_key["gil-reference-counts"].answer.lower()


@pytest.mark.parametrize("part", ["question", "answer"])
def test_every_card_renders_and_its_code_is_highlighted(seed, part):
    for card in seed.cards:
        text = getattr(card, part)
        html = render_markdown(text)
        assert html.strip(), card.key
        assert "```" not in html, f"{card.key}: unclosed code fence"
        fences = text.count("```python")
        assert html.count('<div class="highlight">') == fences, card.key
        # Sanitising keeps all of it: no tag of ours is dropped (nothing but Markdown in the deck).
        plain_words = re.findall(
            r"[A-Za-z]{4,}", re.sub(r"```.*?```|`[^`]*`|\[[^\]]*\]\([^)]*\)", "", text, flags=re.S)
        )
        for word in plain_words[:5]:
            assert word in html, (card.key, word)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def coroutine_bodies(tree: ast.Module) -> list[ast.AST]:
    """The code that runs on an event loop: each `async def`, and a snippet with a bare `await` in it."""
    bodies: list[ast.AST] = [node for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef)]
    inside = {id(node) for body in bodies for node in ast.walk(body)}
    if any(isinstance(node, ast.Await) and id(node) not in inside for node in ast.walk(tree)):
        bodies.append(tree)  # a fragment of a coroutine, shown without its `async def`
    return bodies


def test_no_card_makes_an_executor_inside_a_coroutine(seed):
    """The deck says to reuse one pool; its own code must not build and shut one down on the loop per call."""
    for card in seed.cards:
        for block in python_blocks(card.question + card.answer):
            for body in coroutine_bodies(ast.parse(block)):
                for node in ast.walk(body):
                    if isinstance(node, ast.Call) and "Executor" in ast.unparse(node.func):
                        raise AssertionError(f"{card.key}: {ast.unparse(node)} runs on the event loop")
    offload = next(card for card in seed.cards if card.key == "offload-blocking-call")
    assert "POOL = concurrent.futures.ProcessPoolExecutor()" in offload.answer


def test_code_in_the_deck_is_valid_python(seed):
    for card in seed.cards:
        for block in python_blocks(card.question + card.answer):
            try:
                ast.parse(block)
            except SyntaxError as error:
                raise AssertionError(f"{card.key}: {error}") from None


def test_answers_teach_with_code_where_it_helps(seed):
    with_code = [card.key for card in seed.cards if "```python" in card.answer]
    assert len(with_code) >= 10


# --- loading -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_first_load_creates_deck_cards_and_tags(seed):
    [report] = load()
    assert report.deck_created and len(report.created) == len(seed.cards)
    deck = Deck.objects.get(slug="async-and-sync")
    assert deck.cards.count() == len(seed.cards)
    assert set(Tag.objects.values_list("name", flat=True)) >= CONCEPT_TAGS
    card = deck.cards.get(key="requests-in-async-fix")
    assert set(card.tags.values_list("name", flat=True)) == {"requests-in-async", "await"}
    # Cards are introduced in file order.
    assert list(deck.cards.order_by("position").values_list("key", flat=True)) == [c.key for c in seed.cards]


@pytest.mark.django_db
def test_loading_twice_neither_duplicates_nor_changes_anything(seed):
    load()
    before = list(Card.objects.order_by("id").values("id", "key", "question", "answer", "position", "updated_at"))
    [report] = load()
    assert not report.changed
    assert report.unchanged == [card.key for card in seed.cards]
    after = list(Card.objects.order_by("id").values("id", "key", "question", "answer", "position", "updated_at"))
    assert after == before
    assert Deck.objects.count() == 1 and Tag.objects.count() == len(CONCEPT_TAGS)


@pytest.mark.django_db
def test_a_changed_card_is_updated_in_place_keeping_its_id():
    load()
    card = Card.objects.get(key="gil-what")
    original = card.answer
    card.answer = "stale text"
    card.save()
    card.tags.clear()
    [report] = load()
    assert report.updated == ["gil-what"] and not report.created
    card.refresh_from_db()
    assert card.answer == original
    assert set(card.tags.values_list("name", flat=True)) == {"gil", "threads"}
    assert Card.objects.filter(key="gil-what").count() == 1


@pytest.mark.django_db
def test_no_update_keeps_edits_and_still_creates_missing_cards():
    load()
    Card.objects.filter(key="gil-what").update(answer="edited in the admin")
    Card.objects.filter(key="await-pause-point").delete()
    [report] = load(update=False)
    assert report.skipped == ["gil-what"]
    assert report.created == ["await-pause-point"]
    assert Card.objects.get(key="gil-what").answer == "edited in the admin"


@pytest.mark.django_db
def test_cards_written_in_the_admin_are_left_alone():
    load()
    deck = Deck.objects.get(slug="async-and-sync")
    extra = Card.objects.create(deck=deck, key="my-own-card", question="Q", answer="A", position=99)
    load()
    extra.refresh_from_db()
    assert (extra.question, extra.answer) == ("Q", "A")


@pytest.mark.django_db
def test_dry_run_reports_but_writes_nothing(seed):
    [report] = load(dry_run=True)
    assert len(report.created) == len(seed.cards)
    assert Deck.objects.count() == 0 and Card.objects.count() == 0 and Tag.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_part_way_loads_nothing(seed):
    broken_card = dataclasses.replace(seed.cards[0], key="broken", question=None)  # NOT NULL violation
    broken = dataclasses.replace(seed, slug="broken-deck", cards=(*seed.cards[:3], broken_card))
    with pytest.raises(IntegrityError):
        load_seed([seed, broken])
    assert Deck.objects.count() == 0 and Card.objects.count() == 0


# --- checking files ----------------------------------------------------------------------

GOOD_CARD = {"key": "a-card", "tags": ["gil"], "question": "Q?", "answer": "A."}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"cards": [GOOD_CARD]}, r"\[deck\] table is required"),
        ({"deck": {"slug": "d", "title": "T"}}, r"at least one \[\[cards\]\]"),
        ({"deck": {"slug": "Bad Slug", "title": "T"}, "cards": [GOOD_CARD]}, "deck slug"),
        ({"deck": {"slug": "d", "title": ""}, "cards": [GOOD_CARD]}, "'title' is missing"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [GOOD_CARD, GOOD_CARD]}, "used twice"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [{**GOOD_CARD, "tags": []}]}, "non-empty list"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [{**GOOD_CARD, "tags": ["Not A Slug"]}]}, "tag"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [{**GOOD_CARD, "answer": "  "}]}, "'answer' is missing"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [{**GOOD_CARD, "anser": "typo"}]}, "unknown field"),
        ({"deck": {"slug": "d", "title": "T"}, "cards": [{**GOOD_CARD, "key": None}]}, "key"),
    ],
)
def test_bad_seed_documents_are_refused_with_a_clear_message(document, message):
    with pytest.raises(SeedError, match=message):
        parse_seed(document, "test.toml")


def test_unreadable_toml_names_the_file(tmp_path: Path):
    path = tmp_path / "broken.toml"
    path.write_text('[deck]\nslug = "x\n')
    with pytest.raises(SeedError, match="broken.toml"):
        read_seed(path)


# --- the command -------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_then_reports_nothing_to_do(seed):
    out = StringIO()
    call_command("load_seed", stdout=out)
    assert f"{len(seed.cards)} created" in out.getvalue()
    out = StringIO()
    call_command("load_seed", stdout=out)
    assert f"0 created, 0 updated, {len(seed.cards)} unchanged" in out.getvalue()
    assert Card.objects.count() == len(seed.cards)


@pytest.mark.django_db
def test_command_dry_run_writes_nothing():
    out = StringIO()
    call_command("load_seed", "--dry-run", stdout=out)
    assert "dry run" in out.getvalue()
    assert Card.objects.count() == 0


@pytest.mark.django_db
def test_command_names_updated_cards():
    call_command("load_seed", stdout=StringIO())
    Card.objects.filter(key="tasks-are-cheap").update(question="old")
    out = StringIO()
    call_command("load_seed", stdout=out)
    assert "1 updated" in out.getvalue() and "updated: async-and-sync/tasks-are-cheap" in out.getvalue()


@pytest.mark.django_db
def test_command_refuses_a_bad_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[deck]\nslug = "d"\ntitle = "T"\n')
    with pytest.raises(CommandError, match="bad.toml"):
        call_command("load_seed", str(path), stdout=StringIO())
    assert Deck.objects.count() == 0
