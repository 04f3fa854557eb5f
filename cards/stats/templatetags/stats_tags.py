"""Tags of the stats page's own templates."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cards.stats.figures import Share

register = template.Library()


@register.simple_tag
def share_cell(share: Share) -> str:
    """A table cell with a share: "80%" and, under it, "4 of 5"; "—" when there were no answers."""
    if not share.total:
        return mark_safe('<td class="num">—</td>')  # noqa: S308 (a constant)
    return format_html(
        '<td class="num">{} <span class="share-of">{} of {}</span></td>', share.text, share.passed, share.total
    )
