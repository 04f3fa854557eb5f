"""The study content: decks of question cards and the concepts (tags) they teach.

Shared content written by authors (in the admin, or from the seed files); the learners'
schedules, challenges and reminders live in the apps inside this package.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.safestring import SafeString

from . import text as card_text


class Tag(models.Model):
    """A concept a card teaches (event-loop, gil, ...)."""

    name = models.SlugField(max_length=50, unique=True)
    anki_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="The tag as an Anki import spelled it (`Async::Event_Loop`); an export to Anki writes it back.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Deck(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Card(models.Model):
    """A question and its answer, in Markdown or (imported from Anki) sanitised HTML. `key` is stable.

    Render the text with `question_html()` / `answer_html()` (or `plain_question()`), never the raw
    fields: they know the text's kind and a cloze card's deletion (cards/text.py).
    """

    class TextFormat(models.TextChoices):
        MARKDOWN = card_text.MARKDOWN, "Markdown"
        HTML = card_text.HTML, "HTML (imported from Anki, sanitised)"

    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="cards")
    key = models.SlugField(max_length=80, help_text="Stable identifier within the deck (used by imports).")
    question = models.TextField(help_text="Markdown; code blocks are highlighted.")
    answer = models.TextField(help_text="Markdown; code blocks are highlighted.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="cards")
    position = models.PositiveIntegerField(default=0, help_text="Order in which new cards are introduced.")
    text_format = models.CharField(
        max_length=10,
        choices=TextFormat.choices,
        default=TextFormat.MARKDOWN,
        help_text="What the question and answer are written in.",
    )
    cloze = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="A cloze card: the deletion it asks (1 for {{c1::...}}), hidden on the question side. "
        "The question holds the whole text; the answer, any extra shown after it.",
    )
    anki_guid = models.CharField(
        max_length=64, blank=True, default="", help_text="The guid of the Anki note imported as this card."
    )
    anki_ord = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Which card of that note (Anki's card ordinal: template, or cloze - 1)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deck", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deck", "key"], name="card_key_unique_in_deck"),
            # A re-import finds its cards by note guid and card ordinal: never two of one.
            models.UniqueConstraint(
                fields=["deck", "anki_guid", "anki_ord"], condition=~Q(anki_guid=""), name="card_anki_note_unique"
            ),
        ]
        indexes = [models.Index(fields=["position", "id"], name="card_intro_order")]

    def __str__(self) -> str:
        return f"{self.deck.slug}/{self.key}"

    def question_html(self) -> SafeString:
        """The question side, sanitised HTML (a cloze card's deletion hidden)."""
        return card_text.render_text(self.question, self.text_format, self.cloze)

    def answer_html(self) -> SafeString:
        """The answer side: the answer; for a cloze card, its text with the deletion shown, then any extra."""
        answer = card_text.render_text(self.answer, self.text_format)
        if self.cloze is None:
            return answer
        return card_text.render_text(self.question, self.text_format, self.cloze, reveal=True) + answer

    def plain_question(self) -> str:
        """The question side as plain text on one line (a notice, an email's text part)."""
        return card_text.plain_text(self.question, self.text_format, self.cloze)

    @staticmethod
    def teaser_markdown(question: str, text_format: str, cloze: int | None) -> str:
        """A question (from a values() query) as the Markdown the reminder email's teaser renders."""
        return card_text.teaser_markdown(question, text_format, cloze)
