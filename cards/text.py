"""A card's text as learners see it: Markdown (written here) or sanitised HTML (imported from Anki), and clozes.

Every place that shows card text goes through here (the review page, the admin preview, the home
page's sample card, the reminder email's teaser, the undo notice), so both kinds render the same way
everywhere, through the one nh3 allow-list of studyapp.markdown.

A cloze card keeps its note's text with the deletions marked as Anki writes them (cards/cloze.py),
`{{c1::Paris}} is the capital of {{c2::France::a country}}`, and says which deletion it asks
(`Card.cloze`, 1 for c1). On the question side that deletion is hidden, `[...]` or `[its hint]`; on
the answer side it is shown, highlighted; the note's other deletions read as plain text on both sides.
"""

from __future__ import annotations

from functools import lru_cache

from django.utils.safestring import SafeString, mark_safe

from cards import cloze
from studyapp.markdown import escape_markdown, html_plain_text, render_markdown, sanitize_html

MARKDOWN = "markdown"
HTML = "html"

_CLOZE_CLASSES = {"span": {cloze.SHOWN_CLASS, cloze.BLANK_CLASS}}


@lru_cache(maxsize=4096)
def render_text(text: str, text_format: str, number: int | None = None, reveal: bool = False) -> SafeString:
    """`text` of the given kind as sanitised HTML; for a cloze card, deletion `number` hidden (shown if `reveal`)."""
    if not text:
        return mark_safe("")  # noqa: S308 (empty string)
    # The text's own kind first, through the allow-list: nothing that comes in can carry the cloze classes.
    html = str(render_markdown(text)) if text_format == MARKDOWN else sanitize_html(text)
    if number is not None:
        # The deletion's spans are ours; a second pass through the same allow-list (plus those two
        # classes) also closes a deletion that crossed a tag, `<b>{{c1::a</b>b}}`, into well-formed HTML.
        html = sanitize_html(cloze.apply_cloze(html, number, reveal), extra_classes=_CLOZE_CLASSES)
    return mark_safe(html)  # noqa: S308 (sanitised by nh3 above)


def plain_text(text: str, text_format: str, number: int | None = None) -> str:
    """The text as a reader sees it on the question side, one line without marks (an email, a notice)."""
    return html_plain_text(str(render_text(text, text_format, number)))


def teaser_markdown(text: str, text_format: str, number: int | None = None) -> str:
    """A question as Markdown for the reminder email, which renders its teaser lines as Markdown.

    Markdown without a cloze is itself; anything else is its question side's plain text, escaped so
    that it renders back to exactly that text.
    """
    if text_format == MARKDOWN and number is None:
        return text
    return escape_markdown(plain_text(text, text_format, number))
