"""`{% load markdown_tags %}` then `{{ card.question|markdown }}`: sanitised HTML from Markdown."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from studyapp.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: object) -> SafeString:
    """Render Markdown to sanitised HTML (studyapp.markdown.render_markdown); None becomes ""."""
    return render_markdown("" if text is None else str(text))
