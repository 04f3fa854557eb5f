"""The authoring admin for content: decks, cards (with rendered previews and CSV import/export), tags.

Each app registers its own models in its own admin.py (challenges, the review log, reminders).
Only staff reach any of it (Django's admin refuses everyone else).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV

from studyapp.markdown import render_markdown

from .models import Card, Deck, Tag

# --- decks, cards and tags ---------------------------------------------------------------


class DeckSlugWidget(widgets.ForeignKeyWidget):
    """A deck named by its slug; an unknown slug is a clear error, not a new deck."""

    def __init__(self) -> None:
        super().__init__(Deck, field="slug")

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> Deck | None:
        slug = (value or "").strip()
        if not slug:
            raise ValueError("deck is required (a deck slug)")
        try:
            return Deck.objects.get(slug=slug)
        except Deck.DoesNotExist:
            raise ValueError(f"no deck with slug {slug!r}; create it in the admin first") from None


class TagNamesWidget(widgets.ManyToManyWidget):
    """Tags as one comma-separated cell ("gil, threads"); unknown tag names are created."""

    def __init__(self) -> None:
        super().__init__(Tag, separator=",", field="name")

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> QuerySet[Tag]:
        names = list(dict.fromkeys(name.strip() for name in str(value or "").split(",") if name.strip()))
        for name in names:
            try:
                validate_slug(name)
            except ValidationError:
                raise ValueError(f"tag {name!r} is not a slug (letters, digits, '-' and '_' only)") from None
            if len(name) > Tag._meta.get_field("name").max_length:
                raise ValueError(f"tag {name!r} is longer than 50 characters")
        # Runs inside the import's transaction, so a failed or dry-run import leaves no new tags behind.
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        return Tag.objects.filter(name__in=names)

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        if value is None:
            return ""
        return ", ".join(sorted(tag.name for tag in value.all()))


class PositionWidget(widgets.IntegerWidget):
    """A whole number >= 0; blank means 0 (first), like a card added in the admin."""

    def clean(self, value: Any, row: dict | None = None, **kwargs: Any) -> int:
        text = str(value if value is not None else "").strip()
        if not text:
            return 0
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"position must be a whole number, 0 or more, not {text!r}")
        return int(text)


class CardResource(resources.ModelResource):
    """Cards as CSV rows keyed on (deck slug, key): re-importing updates instead of duplicating.

    An import is all or nothing: any invalid row (unknown deck, bad key or tag, empty
    question or answer) rolls the whole file back and is reported with its line.
    """

    deck = fields.Field(attribute="deck", column_name="deck", widget=DeckSlugWidget())
    tags = fields.Field(attribute="tags", column_name="tags", widget=TagNamesWidget(), m2m_add=False)
    position = fields.Field(attribute="position", column_name="position", widget=PositionWidget())

    class Meta:
        model = Card
        fields = ("deck", "key", "question", "answer", "tags", "position")
        export_order = fields
        import_id_fields = ("deck", "key")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def import_data(self, dataset: Any, **kwargs: Any) -> Any:
        """All or nothing, whoever calls it: roll back on invalid rows, not just on crashes."""
        kwargs.setdefault("use_transactions", True)
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, **kwargs)

    def get_instance(self, instance_loader: Any, row: dict) -> Card | None:
        # Looking the card up cleans the deck cell first: make a bad one a row error with a message.
        try:
            return super().get_instance(instance_loader, row)
        except ValueError as error:
            raise ValidationError({"deck": [str(error)]}) from None

    def import_instance(self, instance: Card, row: dict, **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if "tags" in row:
            try:
                self.fields["tags"].clean(row)
            except ValueError as error:
                errors.setdefault("tags", []).append(str(error))
        if errors:
            raise ValidationError(errors)


class MarkdownPreviewMixin:
    """Read-only previews of Markdown fields, rendered exactly as learners see them."""

    class Media:
        css = {"all": ["css/pygments.css", "css/admin_preview.css"]}

    @staticmethod
    def preview(text: str, html: SafeString | None = None) -> SafeString:
        """`text` rendered as Markdown, or `html` already rendered (a card, which knows its kind)."""
        if not text:
            return format_html('<em class="markdown-preview-empty">{}</em>', "Save to see the preview.")
        return format_html('<div class="markdown-preview">{}</div>', render_markdown(text) if html is None else html)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "card_count"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(card_total=Count("cards"))

    @admin.display(description="cards", ordering="card_total")
    def card_count(self, tag: Tag) -> int:
        return tag.card_total


@admin.register(Deck)
class DeckAdmin(MarkdownPreviewMixin, admin.ModelAdmin):
    list_display = ["title", "slug", "card_count", "created_at"]
    search_fields = ["title", "slug", "description"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["description_preview"]
    fields = ["title", "slug", "description", "description_preview"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Deck]:
        return super().get_queryset(request).annotate(card_total=Count("cards"))

    @admin.display(description="cards", ordering="card_total")
    def card_count(self, deck: Deck) -> int:
        return deck.card_total

    @admin.display(description="Preview")
    def description_preview(self, deck: Deck) -> SafeString:
        return self.preview(deck.description)


@admin.register(Card)
class CardAdmin(MarkdownPreviewMixin, ImportExportModelAdmin):
    resource_classes = [CardResource]
    formats = [CSV]
    list_display = ["key", "deck", "short_question", "tag_list", "position", "updated_at"]
    list_display_links = ["key", "short_question"]
    list_filter = ["deck", "tags"]
    list_select_related = ["deck"]
    search_fields = ["key", "question", "answer", "deck__slug", "deck__title", "tags__name"]
    filter_horizontal = ["tags"]
    # The text's kind is set by where the card came from (written here: Markdown; imported: HTML).
    readonly_fields = [
        "text_format",
        "question_preview",
        "answer_preview",
        "cloze",
        "anki_guid",
        "anki_ord",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["deck", "key", "position", "tags"]}),
        (
            "Text (Markdown: ```python fences are highlighted; cards imported from Anki: sanitised HTML)",
            {"fields": ["text_format", "question", "answer"]},
        ),
        ("Preview, as learners see it (after saving)", {"fields": ["question_preview", "answer_preview"]}),
        ("Imported from Anki", {"fields": ["cloze", "anki_guid", "anki_ord"], "classes": ["collapse"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Card]:
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="question")
    def short_question(self, card: Card) -> str:
        markdown = card.text_format == Card.TextFormat.MARKDOWN and card.cloze is None
        return Truncator(card.question if markdown else card.plain_question()).chars(80)

    @admin.display(description="tags")
    def tag_list(self, card: Card) -> str:
        return ", ".join(tag.name for tag in card.tags.all())

    @admin.display(description="Question")
    def question_preview(self, card: Card) -> SafeString:
        return self.preview(card.question if card.pk else "", card.question_html())

    @admin.display(description="Answer")
    def answer_preview(self, card: Card) -> SafeString:
        if not card.pk:
            return self.preview("")
        # A cloze card's answer side is its text with the deletion shown, even when it has no extra.
        return self.preview(card.question if card.cloze else card.answer, card.answer_html())

    # Importing writes cards; exporting reads them: tie both to the model's own permissions.
    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
