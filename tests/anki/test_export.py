"""`manage.py export_apkg` and the Deck admin's export: every package is checked by importing it into a
fresh collection with Anki's own library, as a learner's Anki would."""

from __future__ import annotations

import datetime as dt
import os
import stat
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from cards.anki import mapping_back
from cards.anki.exporter import export_decks
from cards.anki.importer import import_package
from cards.models import Card, Deck
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from cards.seed_loader import SEED_DIR, load_deck, read_seed
from tests.anki.builders import NoteSpec, add_revlog, build, schedule_review
from tests.factories import make_card, make_deck, make_staff, make_superuser, make_user

pytestmark = pytest.mark.django_db

DECK = "Python \u00e9v\u00e9nements"
CODE = "<pre><code>async def f():\n    await g()  # &lt;T&gt; &amp; caf\u00e9</code></pre>"
ORIGINAL = [
    NoteSpec(
        "Basic",
        [
            "What does <code>await</code> do?",
            f"<div>x &lt; y &amp;&amp; caf\u00e9 \u65e5\u672c &nbsp;\u2014 <b>bold</b></div>{CODE}",
        ],
        tags=["async::event-loop", "Python"],
        deck=DECK,
    ),
    NoteSpec(
        "Basic (and reversed card)", ["GIL", "Global <i>interpreter</i> lock"], tags=["gil", "threads"], deck=DECK
    ),
    NoteSpec(
        "Cloze",
        ["{{c1::Paris}} is the capital of {{c2::France::a country}}, on the <b>Seine</b>.", "Extra <i>note</i>"],
        tags=["geo::europe::france"],
        deck=DECK,
    ),
    NoteSpec("Basic", ["Na\u00efve <ul><li>\u00fcber</li><li>a<br>b</li></ul>", "\u2713 'quoted' &gt;"], deck=DECK),
]


@dataclass(frozen=True)
class AnkiNote:
    """A note as a learner's Anki has it after importing a package."""

    notetype: tuple  # its name (without the "+" Anki adds when the name is taken), kind, fields, templates
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    cards: tuple[int, ...]  # the ordinals of its cards


@dataclass(frozen=True)
class AnkiCard:
    id: int
    note: str  # guid
    ord: int
    type: int
    queue: int
    ivl: int
    due_in: int  # days from Anki's today (review cards)
    factor: int
    reps: int
    lapses: int


@dataclass
class InAnki:
    """What a fresh Anki collection holds after importing packages: notes by guid, cards, revlog, decks."""

    notes: dict[str, AnkiNote]
    cards: list[AnkiCard]
    revlog: list[tuple]  # (id, cid, ease, ivl, lastIvl, factor, time, type)
    decks: list[str]
    logs: list[dict[str, int]]  # per import: Anki's counts of notes "new", "updated", "duplicate", "conflicting"...

    def card(self, guid: str, ord: int = 0) -> AnkiCard:
        return next(card for card in self.cards if (card.note, card.ord) == (guid, ord))


def anki_import(*paths: Path, merge_notetypes: bool = False) -> InAnki:
    """Import the packages, in turn, into one fresh Anki collection, as a learner's Anki does."""
    with tempfile.TemporaryDirectory() as workdir:
        col = Collection(str(Path(workdir) / "collection.anki2"))
        try:
            logs = []
            for path in paths:
                options = ImportAnkiPackageOptions(with_scheduling=True, merge_notetypes=merge_notetypes)
                log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(path), options=options)).log
                logs.append({kind.name: len(notes) for kind, notes in log.ListFields() if kind.name != "found_notes"})
            notes, cards = {}, []
            for note_id in col.find_notes(""):
                note = col.get_note(note_id)
                kind = note.note_type()
                notetype = (
                    kind["name"].rstrip("+"),
                    kind["type"],
                    tuple(field["name"] for field in kind["flds"]),
                    tuple((template["qfmt"], template["afmt"]) for template in kind["tmpls"]),
                )
                ords = tuple(sorted(card.ord for card in note.cards()))
                notes[note.guid] = AnkiNote(notetype, tuple(note.fields), tuple(sorted(note.tags)), ords)
                for card in note.cards():
                    due_in = card.due - col.sched.today if card.type == 2 else 0
                    cards.append(
                        AnkiCard(card.id, note.guid, card.ord, card.type, card.queue, card.ivl, due_in, card.factor,
                                 card.reps, card.lapses)
                    )  # fmt: skip
            revlog = col.db.all("SELECT id, cid, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id")
            decks = sorted(deck.name for deck in col.decks.all_names_and_ids() if deck.name != "Default")
            return InAnki(notes, cards, revlog, decks, logs)
        finally:
            col.close()


def anki_today() -> dt.date:
    """The day Anki is on: its day starts at 4 am (here UTC, the tests' learners' zone)."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)).date()


def export(deck: Deck, path: Path, *args: str) -> str:
    out = StringIO()
    call_command("export_apkg", deck.slug, str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def imported_deck(tmp_path: Path, notes=ORIGINAL, **kwargs) -> tuple[Path, Deck]:
    original = build(tmp_path / "original.apkg", notes, **kwargs).path
    return original, Deck.objects.get(slug=import_package(original, deck_slug="imported").deck)


# --- notes ------------------------------------------------------------------------------------


def test_a_deck_imported_from_anki_goes_back_as_the_same_notes(tmp_path):
    original, deck = imported_deck(tmp_path)
    out = export(deck, tmp_path / "out.apkg")
    assert "4 notes (2 Basic, 1 Basic (and reversed card), 1 Cloze), 6 cards" in out
    before, after = anki_import(original), anki_import(tmp_path / "out.apkg")
    assert after.logs == [{"new": 4}]
    assert set(after.notes) == set(before.notes)  # the same guids
    for guid, note in before.notes.items():
        # The same note type, text and markup, cards, and tags as Anki spelled them (`async::event-loop`, `Python`).
        assert after.notes[guid] == note
    cloze = next(note for note in after.notes.values() if note.notetype[0] == "Cloze")
    assert cloze.cards == (0, 1) and cloze.fields[0].startswith("{{c1::Paris}} is the capital of {{c2::France::")
    assert after.decks == [deck.title] == [DECK] and after.revlog == []
    assert {"async::event-loop", "Python", "geo::europe::france"} <= {t for n in after.notes.values() for t in n.tags}
    assert all(card.type == card.queue == 0 for card in after.cards)  # without --user: every card new


def test_into_the_collection_the_notes_came_from_no_note_is_added_twice(tmp_path):
    original, deck = imported_deck(tmp_path)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # Anki updates a note only with a newer one
    Card.objects.filter(deck=deck).update(updated_at=later)
    Card.objects.filter(deck=deck, cloze__isnull=False).update(answer="Extra, edited here")
    export(deck, tmp_path / "out.apkg")
    # The learner's own note types are not these: Anki says so and leaves the notes as they are...
    kept = anki_import(original, tmp_path / "out.apkg")
    assert kept.logs[1] == {"conflicting": 4} and len(kept.notes) == 4
    # ...or, with "Merge note types", updates them in place, matching the fields by name.
    merged = anki_import(original, tmp_path / "out.apkg", merge_notetypes=True)
    assert merged.logs[1] == {"updated": 4} and len(merged.notes) == 4
    cloze = next(note for note in merged.notes.values() if note.notetype[0] == "Cloze")
    assert cloze.fields[1] == "Extra, edited here" and len(cloze.fields) == 2


def test_the_exported_text_is_what_the_app_stores(tmp_path):
    field = '<div style="color: red" onclick="x()">kept <script>gone()</script></div>'
    _, deck = imported_deck(tmp_path, [NoteSpec("Basic", [field, "&quot;b&quot;"])])
    card = Card.objects.get(deck=deck)
    export(deck, tmp_path / "out.apkg")
    (note,) = anki_import(tmp_path / "out.apkg").notes.values()
    assert note.fields == (card.question, card.answer) == ("<div>kept </div>", '"b"')  # sanitised on the way in


def test_other_note_types_go_as_basic_with_their_guid(tmp_path):
    _, deck = imported_deck(tmp_path, [NoteSpec("Basic (type in the answer)", ["2 + 2", "4"], guid="typed-guid")])
    export(deck, tmp_path / "out.apkg")
    note = anki_import(tmp_path / "out.apkg").notes["typed-guid"]
    assert (note.notetype[0], note.fields) == ("Basic", ("2 + 2", "4"))


def test_cards_edited_apart_become_notes_of_their_own(tmp_path):
    _, deck = imported_deck(tmp_path)
    reverse = Card.objects.get(deck=deck, anki_ord=1, cloze__isnull=True)
    reverse.answer = "GIL (edited)"
    reverse.save()
    export(deck, tmp_path / "out.apkg")
    notes = anki_import(tmp_path / "out.apkg").notes
    guid = reverse.anki_guid
    assert (notes[guid].notetype[0], notes[guid].fields) == ("Basic", ("GIL", "Global <i>interpreter</i> lock"))
    split = notes[mapping_back.derived_guid(guid, "1")]
    assert (split.notetype[0], split.fields) == ("Basic", ("Global <i>interpreter</i> lock", "GIL (edited)"))


CODE_ANSWER = "Blocking:\n\n```python\nasync def handler():\n    return requests.get(url)  # <T> & caf\u00e9\n```\n"


def test_markdown_cards_go_as_html_with_inline_highlighting_and_anki_shows_them(tmp_path):
    deck = make_deck(slug="mine", title="Mine \u00e9")
    make_card(deck=deck, key="code", question="What does `await` do?", answer=CODE_ANSWER, tags=["event-loop"])
    make_card(deck=deck, key="table", question="**Bold** & <raw>", answer="| a | b |\n|:-|-:|\n| 1 | 2 |")
    out = export(deck, tmp_path / "out.apkg")
    assert "2 notes (2 Basic), 2 cards" in out
    notes = anki_import(tmp_path / "out.apkg").notes
    code = notes[mapping_back.derived_guid("mine", "code")]
    assert code.fields[0] == "<p>What does <code>await</code> do?</p>"
    answer = code.fields[1]
    assert "class=" not in answer  # Anki has no copy of the app's stylesheet
    assert (
        '<div style="background: #ffffff"><pre style="overflow-x: auto; padding: 0.75em; line-height: 1.4; ' in answer
    )
    assert '<span style="color: #A90D91">async</span>' in answer
    assert '<span style="color: #177500"># &lt;T&gt; &amp; caf\u00e9</span>' in answer
    assert code.tags == ("event-loop",)
    table = notes[mapping_back.derived_guid("mine", "table")]
    assert table.fields[0] == "<p><strong>Bold</strong> &amp; &lt;raw&gt;</p>"  # raw HTML shown as typed
    assert '<td align="right">2</td>' in table.fields[1]

    # Anki's own rendering of the card shows the code, styled.
    with tempfile.TemporaryDirectory() as workdir:
        col = Collection(str(Path(workdir) / "collection.anki2"))
        try:
            options = ImportAnkiPackageOptions(with_scheduling=True)
            col.import_anki_package(ImportAnkiPackageRequest(package_path=str(tmp_path / "out.apkg"), options=options))
            guid = mapping_back.derived_guid("mine", "code")
            (note,) = [col.get_note(nid) for nid in col.find_notes("") if col.get_note(nid).guid == guid]
            assert '<span style="color: #A90D91">def</span>' in note.cards()[0].answer()
        finally:
            col.close()


def test_the_seed_deck_exports_with_no_class_left(tmp_path):
    seed = read_seed(sorted(SEED_DIR.glob("*.toml"))[0])
    load_deck(seed)
    deck = Deck.objects.get(slug=seed.slug)
    export(deck, tmp_path / "seed.apkg")
    notes = anki_import(tmp_path / "seed.apkg").notes
    assert len(notes) == Card.objects.filter(deck=deck).count()
    texts = [text for note in notes.values() for text in note.fields]
    assert [text for text in texts if "class=" in text] == []
    assert sum('<pre style="' in text for text in texts) >= 5  # the deck's code blocks, styled inline


def test_exporting_again_updates_the_notes_in_anki_instead_of_adding_them(tmp_path):
    deck = make_deck(slug="mine")
    card = make_card(deck=deck, key="k", question="First", answer="A")
    export(deck, tmp_path / "one.apkg")
    # Edited since (Anki takes a note again only if it changed after the one it has, to the second).
    Card.objects.filter(pk=card.pk).update(question="Second", updated_at=card.updated_at + dt.timedelta(minutes=1))
    export(deck, tmp_path / "two.apkg")
    both = anki_import(tmp_path / "one.apkg", tmp_path / "two.apkg")
    assert both.logs == [{"new": 1}, {"updated": 1}]
    assert [note.fields for note in both.notes.values()] == [("<p>Second</p>", "<p>A</p>")]
    # An older package changes nothing (nor would it undo a learner's own edit in Anki).
    assert anki_import(tmp_path / "two.apkg", tmp_path / "one.apkg").logs[1] == {"duplicate": 1}

    _, imported = imported_deck(tmp_path)
    export(imported, tmp_path / "three.apkg")
    Card.objects.filter(deck=imported, question__startswith="What does").update(
        answer="New answer", updated_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    )
    export(imported, tmp_path / "four.apkg")
    again = anki_import(tmp_path / "three.apkg", tmp_path / "four.apkg")
    assert again.logs[1] == {"updated": 1, "duplicate": 3} and len(again.notes) == 4
    assert "New answer" in {note.fields[1] for note in again.notes.values()}


def test_several_decks_in_one_package(tmp_path):
    one, two = make_deck(slug="one", title="Same"), make_deck(slug="two", title="Same")
    make_card(deck=one, key="a", question="A")
    make_card(deck=two, key="b", question="B")

    report = export_decks([one, two], tmp_path / "both.apkg")
    assert sum(report.notes.values()) == 2
    assert anki_import(tmp_path / "both.apkg").decks == ["Same (one)", "Same (two)"]


def test_one_anki_note_imported_into_two_decks_goes_as_two_notes(tmp_path):
    original, first = imported_deck(tmp_path)
    second = Deck.objects.get(slug=import_package(original, deck_slug="again").deck)
    export_decks([first, second], tmp_path / "both.apkg")
    anki = anki_import(tmp_path / "both.apkg")
    assert len(anki.notes) == 8 and len(anki.decks) == 2
    assert len(set(anki.notes) & set(anki_import(original).notes)) == 4  # the first copy keeps the guids


# --- a learner's schedule ---------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def answer(user, card: Card, quality: int, now: dt.datetime) -> ReviewLog:
    """The learner answers `card` on the review page at `now`."""
    today = queue.local_today(queue.profile_for(user), now)
    state = queue.show_new_card(user, card.pk, today)
    result = queue.answer(user, state.pk, version=state.version, quality=quality, request_id=uuid.uuid4(), now=now,
                          duration_ms=4_000)  # fmt: skip
    assert result.log is not None
    return result.log


def test_with_user_that_learners_schedule_and_review_log_and_nobody_elses(tmp_path):
    deck = make_deck(slug="mine")
    cards = {key: make_card(deck=deck, key=key) for key in ("reviewed", "failed", "new", "shown")}
    ada, bob = make_user(username="ada"), make_user(username="bob")
    answer(ada, cards["reviewed"], 4, NOW - 10 * DAY)  # n=1, I=1
    answer(ada, cards["reviewed"], 5, NOW - 9 * DAY)  # n=2, I=6
    answer(ada, cards["failed"], 5, NOW - 9 * DAY)  # the same millisecond as the one before
    answer(ada, cards["failed"], 2, NOW - 3 * DAY)  # a lapse: n=0, I=1, and a re-drill the same day
    answer(ada, cards["failed"], 4, NOW - 3 * DAY + dt.timedelta(minutes=5))  # the re-drill
    undone = answer(ada, cards["failed"], 0, NOW - 2 * DAY)
    assert queue.undo(ada, request_id=uuid.uuid4(), now=NOW - 2 * DAY).log.undoes == undone
    queue.show_new_card(ada, cards["shown"].pk, NOW.date())  # shown, never answered: still new
    answer(bob, cards["new"], 5, NOW - 5 * DAY)  # Bob's: never in Ada's package
    answer(bob, cards["reviewed"], 1, NOW - 5 * DAY)

    out = export(deck, tmp_path / "ada.apkg", "--user", "ada")
    assert "ada's schedule: 2 cards scheduled, 2 new; review log: 5 rows" in out
    anki = anki_import(tmp_path / "ada.apkg")
    card = {key: anki.card(mapping_back.derived_guid("mine", key)) for key in cards}
    for key in ("reviewed", "failed"):
        state = ReviewState.objects.get(user=ada, card=cards[key])
        assert (card[key].type, card[key].queue, card[key].ivl) == (2, 2, state.interval)
        assert card[key].factor == state.easiness * 1000
        assert card[key].due_in == (state.due_on - anki_today()).days  # the same day
    assert (card["reviewed"].ivl, card["reviewed"].factor, card["reviewed"].reps) == (6, 2600, 2)
    assert (card["failed"].ivl, card["failed"].factor, card["failed"].lapses) == (1, 2600, 1)
    assert (card["new"].type, card["shown"].type) == (0, 0)
    # Ada's answers, oldest first: Good, Easy, Easy, Again (2 fails), then the re-drill, a relearning step;
    # not the undone answer, nor the undo, nor Bob's.
    assert [(row[2], row[7]) for row in anki.revlog] == [(3, 1), (4, 1), (4, 1), (1, 1), (3, 2)]
    assert {row[1] for row in anki.revlog} == {card["reviewed"].id, card["failed"].id}
    first, second, third = anki.revlog[:3]
    assert first[0] == (NOW - 10 * DAY).timestamp() * 1000 and first[6] == 4_000
    assert third[0] == second[0] + 1  # revlog ids are unique: the second answer of that millisecond moves up one
    assert (first[3], first[4], first[5]) == (1, 0, 2500)  # ivl after, ivl before, factor after (q=4 keeps EF)

    # Imported back here for another learner: the same schedule (the import is this mapping's inverse).
    carol = make_user(username="carol")
    import_package(tmp_path / "ada.apkg", deck_slug="back", user=carol)
    for key in ("reviewed", "failed"):
        theirs = ReviewState.objects.get(user=ada, card=cards[key])
        mine = ReviewState.objects.get(
            user=carol, card__deck__slug="back", card__question=f"<p>{cards[key].question}</p>"
        )
        fields = ("repetitions", "easiness", "interval", "due_on", "last_reviewed_on")
        assert [getattr(mine, name) for name in fields] == [getattr(theirs, name) for name in fields]


def test_a_schedule_imported_from_anki_goes_back_as_anki_had_it(tmp_path):
    history = [  # (id ms, ease, ivl, lastIvl, factor, time ms, type): learn, review, a lapse and relearning
        (1_750_000_000_000, 3, 1, -600, 2500, 8_000, 0),
        (1_750_086_400_000, 3, 4, 1, 2500, 5_000, 1),
        (1_750_432_000_000, 1, -600, 4, 2300, 12_000, 1),
        (1_750_432_700_000, 3, 1, -600, 2300, 9_000, 2),
    ]

    def reviewed(col, note):
        schedule_review(col, note, ivl=9, due_in=3, factor=2300)
        add_revlog(col, note.cards()[0].id, history)

    notes = [NoteSpec("Basic", ["Q", "A"], then=reviewed, guid="reviewed-guid"), NoteSpec("Basic", ["New", "A"])]
    original = build(tmp_path / "original.apkg", notes).path
    ada = make_user(username="ada")
    import_package(original, deck_slug="imported", user=ada)
    export(Deck.objects.get(slug="imported"), tmp_path / "out.apkg", "--user", "ada")
    before, after = anki_import(original), anki_import(tmp_path / "out.apkg")
    card = after.card("reviewed-guid")
    assert (card.type, card.ivl, card.factor, card.due_in) == (2, 9, 2300, before.card("reviewed-guid").due_in)
    # The same rows, ids and buttons; a learning step's interval (seconds) comes back as 0 days.
    assert [(row[0], row[2], row[7], row[5]) for row in after.revlog] == [(h[0], h[1], h[6], h[4]) for h in history]
    assert [row[3] for row in after.revlog] == [1, 4, 0, 1]
    assert sum(card.type == 0 for card in after.cards) == 1


# --- the command ------------------------------------------------------------------------------


def test_the_command_says_what_is_wrong_and_writes_nothing(tmp_path):
    deck = make_deck(slug="mine")
    make_card(deck=deck)
    with pytest.raises(CommandError, match="no deck with slug 'nope'"):
        call_command("export_apkg", "nope", str(tmp_path / "x.apkg"))
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        export(deck, tmp_path / "x.apkg", "--user", "nobody")
    with pytest.raises(CommandError, match="is a directory"):
        export(deck, tmp_path)
    with pytest.raises(CommandError, match="does not end in .apkg"):
        export(deck, tmp_path / "x.colpkg")
    with pytest.raises(CommandError, match="no such directory"):
        export(deck, tmp_path / "missing" / "x.apkg")
    with pytest.raises(CommandError, match="cannot write in /sys: Permission denied. Nothing was written."):
        export(deck, Path("/sys/x.apkg"))  # read-only, even for root
    assert list(tmp_path.iterdir()) == []


def test_the_command_replaces_a_file_whole_and_leaves_nothing_else(tmp_path):
    deck = make_deck(slug="mine")
    make_card(deck=deck, key="k", question="Q")
    target = tmp_path / "deck.apkg"
    target.write_bytes(b"an older export")
    out = export(deck, target)
    assert f"mine -> {target}: 1 notes (1 Basic), 1 cards" in out
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left beside it
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # as any new file (Anki writes 0600)
    assert zipfile.is_zipfile(target) and len(anki_import(target).notes) == 1


def test_an_empty_deck_is_an_empty_package(tmp_path):
    export(make_deck(slug="empty", title="Empty"), tmp_path / "empty.apkg")
    anki = anki_import(tmp_path / "empty.apkg")
    assert anki.notes == {}


# --- the admin --------------------------------------------------------------------------------


def admin_export(client, *decks: Deck):
    url = reverse("admin:cards_deck_changelist")
    return client.post(url, {"action": "export_apkg", "_selected_action": [deck.pk for deck in decks]})


def downloaded(response, tmp_path: Path, name: str = "download.apkg") -> InAnki:
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return anki_import(path)


def test_the_deck_admin_exports_a_deck_as_a_download_without_anyones_schedule(client, tmp_path):
    deck = make_deck(slug="mine", title="Mine")
    card = make_card(deck=deck, key="k", question="Q `x`", answer=CODE_ANSWER)
    author = make_staff(permissions=["view_deck"])
    answer(author, card, 5, NOW)  # the author's own schedule stays theirs
    client.force_login(author)
    assert "Export as Anki package (.apkg)" in client.get(reverse("admin:cards_deck_changelist")).content.decode()
    response = admin_export(client, deck)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="mine.apkg"'
    anki = downloaded(response, tmp_path)
    assert anki.decks == ["Mine"] and len(anki.notes) == 1
    assert anki.revlog == [] and [card.type for card in anki.cards] == [0]


def test_the_deck_admin_exports_several_decks_each_its_own(client, tmp_path):
    client.force_login(make_superuser())
    one, two = make_deck(slug="one", title="One"), make_deck(slug="two", title="Two")
    make_card(deck=one, question="A")
    make_card(deck=two, question="B")
    response = admin_export(client, one, two)
    assert response["Content-Disposition"] == 'attachment; filename="2-decks.apkg"'
    anki = downloaded(response, tmp_path)
    assert anki.decks == ["One", "Two"] and len(anki.notes) == 2


def test_no_export_for_staff_who_may_not_see_decks(client):
    deck = make_deck()
    client.force_login(make_staff(permissions=["view_card"]))
    assert admin_export(client, deck).status_code == 403


# --- images ------------------------------------------------------------------------------------

# A real 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d"
    "0000000049454e44ae426082"
)


def anki_fields_and_media(path: Path) -> tuple[list[str], dict[str, bytes]]:
    """The notes' fields and the media files a fresh Anki collection has after importing `path`."""
    with tempfile.TemporaryDirectory() as workdir:
        col = Collection(str(Path(workdir) / "collection.anki2"))
        try:
            options = ImportAnkiPackageOptions(with_scheduling=False)
            col.import_anki_package(ImportAnkiPackageRequest(package_path=str(path), options=options))
            fields = [field for note_id in col.find_notes("") for field in col.get_note(note_id).fields]
            folder = Path(col.media.dir())
            return fields, {file.name: file.read_bytes() for file in folder.iterdir() if file.is_file()}
        finally:
            col.close()


def test_images_go_back_to_anki_in_the_package(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    notes = [NoteSpec("Basic", ['What is this? <img src="cat.png" alt="a cat">', "A cat."], deck=DECK)]
    original = build(tmp_path / "original.apkg", notes, setup=lambda col: col.media.write_data("cat.png", PNG)).path
    deck = Deck.objects.get(slug=import_package(original, deck_slug="pictures").deck)
    stored = Card.objects.get(deck=deck).question
    name = stored.split('src="/media/cards/')[1].split('"')[0]  # <sha256>.png, as the import stored it

    out = export(deck, tmp_path / "out.apkg")
    assert "1 image" in out
    fields, files = anki_fields_and_media(tmp_path / "out.apkg")
    # Anki finds the picture by its file name, in its own media folder, with the same bytes.
    assert fields[0] == f'What is this? <img src="{name}" alt="a cat">'
    assert files == {name: PNG}


def test_an_image_file_gone_from_media_root_is_named_and_left_out(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    notes = [NoteSpec("Basic", ['<img src="cat.png">', "A cat."], deck=DECK)]
    original = build(tmp_path / "original.apkg", notes, setup=lambda col: col.media.write_data("cat.png", PNG)).path
    deck = Deck.objects.get(slug=import_package(original, deck_slug="pictures").deck)
    for file in (tmp_path / "media" / "cards").iterdir():
        file.unlink()
    err = StringIO()
    call_command("export_apkg", deck.slug, str(tmp_path / "out.apkg"), stdout=StringIO(), stderr=err)
    assert "1 image file(s) missing from MEDIA_ROOT, left out of the package" in err.getvalue()
    fields, files = anki_fields_and_media(tmp_path / "out.apkg")
    assert files == {} and len(fields) == 2  # the note still goes, without its picture


@pytest.mark.parametrize(("hour", "anki_day_offset"), [(2, -1), (5, 0)])
def test_the_collection_never_begins_after_ankis_today(tmp_path, monkeypatch, hour, anki_day_offset):
    """Anki's day begins at 4 am: at 2 am it is still yesterday there. A collection begun "today" would
    count its due days from a day Anki has not reached, and every card would come back a day late
    (this failed between midnight and 4 am UTC)."""
    from cards.anki.collection import read_collection
    from cards.anki.package import extract

    day = dt.date(2026, 3, 10)
    moment = dt.datetime.combine(day, dt.time(hour, 30), dt.UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    ada = make_user(username="ada")
    deck = make_deck(slug="d")
    card = make_card(deck=deck, key="k")
    due_on, last_on = day + dt.timedelta(days=3), day - dt.timedelta(days=3)
    ReviewState.objects.create(
        user=ada, card=card, repetitions=2, interval=6, due_on=due_on, last_reviewed_on=last_on, introduced_on=last_on
    )
    export_decks([deck], tmp_path / "out.apkg", user=ada)
    (tmp_path / "x").mkdir()
    extracted = extract(tmp_path / "out.apkg", tmp_path / "x")
    created = read_collection(extracted.database, max_field_bytes=1 << 20).created
    assert dt.datetime.fromtimestamp(created, dt.UTC).date() == day + dt.timedelta(days=anki_day_offset)
