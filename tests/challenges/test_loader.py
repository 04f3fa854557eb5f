"""load_challenges: files to database, idempotently, with practice cards and concept links."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cards.challenges.loader import CHALLENGES_DIR, ChallengeFileError, load_challenges, read_specs
from cards.challenges.models import Challenge
from cards.models import Card, Deck
from tests import challenges_graders

pytestmark = pytest.mark.django_db


def write_challenge(root: Path, slug: str, *, concepts: str = '["event-loop"]', kind: str = challenges_graders.KIND):
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "challenge.toml").write_text(
        f'title = "Fix {slug}"\nposition = 3\nconcepts = {concepts}\n'
        f'prompt = """\nWrite **async** code.\n"""\n\n[grader]\nkind = "{kind}"\n\n[grader.params]\ncalls = 10\n'
    )
    (folder / "starter.py").write_text("FAIL\n")
    (folder / "reference.py").write_text("PASS\n")
    return folder


@pytest.fixture
def concept_card():
    deck = Deck.objects.create(slug="async-sync", title="Async & Sync")
    return Card.objects.create(deck=deck, key="event-loop", question="Q", answer="A")


def test_loads_challenge_with_practice_card_and_concepts(tmp_path, concept_card):
    write_challenge(tmp_path, "blocking")
    report = load_challenges(tmp_path)
    assert report.created == ["blocking"]
    challenge = Challenge.objects.get(slug="blocking")
    assert challenge.title == "Fix blocking"
    assert challenge.prompt.strip() == "Write **async** code."
    assert (challenge.starter_code, challenge.reference_solution) == ("FAIL\n", "PASS\n")
    assert challenge.grader_kind == challenges_graders.KIND
    assert challenge.grader_params == {"calls": 10}
    assert list(challenge.concepts.all()) == [concept_card]
    practice = challenge.practice_card
    assert practice.deck.slug == "challenges" and practice.key == "blocking"
    assert "/challenges/blocking/" in practice.question


def test_loading_twice_changes_nothing(tmp_path, concept_card):
    write_challenge(tmp_path, "blocking")
    load_challenges(tmp_path)
    before = Challenge.objects.values().get(slug="blocking")
    cards_before = Card.objects.count()

    report = load_challenges(tmp_path)
    assert (report.created, report.updated, report.unchanged) == ([], [], ["blocking"])
    assert Challenge.objects.values().get(slug="blocking") == before
    assert Card.objects.count() == cards_before


def test_edited_file_updates_the_same_challenge(tmp_path, concept_card):
    folder = write_challenge(tmp_path, "blocking")
    load_challenges(tmp_path)
    pk = Challenge.objects.get(slug="blocking").pk
    (folder / "starter.py").write_text("FAIL\n# edited\n")
    report = load_challenges(tmp_path)
    assert report.updated == ["blocking"]
    assert Challenge.objects.get(pk=pk).starter_code.endswith("# edited\n")
    assert Challenge.objects.count() == 1


def test_missing_concept_is_reported_not_fatal(tmp_path):
    write_challenge(tmp_path, "blocking", concepts='["no-such-card"]')
    report = load_challenges(tmp_path)
    assert report.missing_concepts == {"blocking": ["no-such-card"]}
    assert Challenge.objects.filter(slug="blocking").exists()


def test_broken_folder_loads_nothing(tmp_path):
    write_challenge(tmp_path, "good")
    write_challenge(tmp_path, "bad-kind", kind="no-such-grader")
    with pytest.raises(ChallengeFileError, match="unknown grader kind for bad-kind"):
        load_challenges(tmp_path)
    assert not Challenge.objects.exists()

    (tmp_path / "bad-kind" / "reference.py").unlink()
    with pytest.raises(ChallengeFileError, match="reference.py: missing"):
        read_specs(tmp_path)


def test_command_reports_and_dry_run_writes_nothing(tmp_path, concept_card):
    write_challenge(tmp_path, "blocking")
    out = StringIO()
    call_command("load_challenges", path=tmp_path, dry_run=True, stdout=out)
    assert "blocking: would be created" in out.getvalue()
    assert not Challenge.objects.exists()

    call_command("load_challenges", path=tmp_path, stdout=StringIO())
    out = StringIO()
    call_command("load_challenges", path=tmp_path, stdout=out)
    assert "0 created, 0 updated, 1 unchanged" in out.getvalue()

    with pytest.raises(CommandError, match="not a folder"):
        call_command("load_challenges", path=tmp_path / "missing")


def test_the_project_challenge_folders_load():
    """Every challenge shipped in cards/challenges/ parses and names a registered grader."""
    specs = read_specs(CHALLENGES_DIR)
    report = load_challenges(CHALLENGES_DIR)
    assert sorted(report.created) == sorted(spec.slug for spec in specs)
    for spec in specs:
        assert spec.reference_solution.strip(), spec.slug


def test_no_update_keeps_authors_admin_edits(tmp_path, concept_card):
    write_challenge(tmp_path, "blocking")
    write_challenge(tmp_path, "second")
    load_challenges(tmp_path)
    Challenge.objects.filter(slug="blocking").update(title="Edited in the admin", practice_card=None)
    Challenge.objects.filter(slug="second").delete()

    out = StringIO()
    call_command("load_challenges", path=tmp_path, update=False, stdout=out)
    assert "1 created, 0 updated, 0 unchanged, 1 kept" in out.getvalue()
    kept = Challenge.objects.get(slug="blocking")
    assert kept.title == "Edited in the admin"
    assert kept.practice_card.key == "blocking"  # a missing practice card is still linked
    assert Challenge.objects.filter(slug="second").exists()


def test_an_answer_that_is_not_python_is_a_txt_file(tmp_path, concept_card):
    folder = write_challenge(tmp_path, "predict")
    (folder / "reference.py").rename(folder / "reference.txt")
    (folder / "starter.py").rename(folder / "starter.txt")
    load_challenges(tmp_path)
    challenge = Challenge.objects.get(slug="predict")
    assert (challenge.reference_solution, challenge.starter_code) == ("PASS\n", "FAIL\n")
    (folder / "reference.py").write_text("PASS\n")
    with pytest.raises(ChallengeFileError, match="both reference.py and reference.txt"):
        read_specs(tmp_path)


def test_every_python_file_of_the_app_compiles():
    """The image build runs `compileall` on cards/ and studyapp/ strictly: no answer key may pass as a .py file."""
    root = Path(__file__).resolve().parents[2]
    broken = []
    for path in sorted([*(root / "cards").rglob("*.py"), *(root / "studyapp").rglob("*.py")]):
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            broken.append(f"{path.relative_to(root)}:{exc.lineno}: {exc.msg}")
    assert broken == []
    assert (CHALLENGES_DIR / "predict-the-interleaving" / "reference.txt").exists()
