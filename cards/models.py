"""The study content: decks of question cards and the concepts (tags) they teach.

Shared content written by authors (in the admin, or from the seed files); the learners'
schedules, challenges and reminders live in the apps inside this package.
"""

from __future__ import annotations

from django.db import models


class Tag(models.Model):
    """A concept a card teaches (event-loop, gil, ...)."""

    name = models.SlugField(max_length=50, unique=True)

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
    """A question and its answer, in Markdown. `key` is stable across seed reloads."""

    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="cards")
    key = models.SlugField(max_length=80, help_text="Stable identifier within the deck (used by imports).")
    question = models.TextField(help_text="Markdown; code blocks are highlighted.")
    answer = models.TextField(help_text="Markdown; code blocks are highlighted.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="cards")
    position = models.PositiveIntegerField(default=0, help_text="Order in which new cards are introduced.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deck", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["deck", "key"], name="card_key_unique_in_deck")]
        indexes = [models.Index(fields=["position", "id"], name="card_intro_order")]

    def __str__(self) -> str:
        return f"{self.deck.slug}/{self.key}"
