"""Cloze deletions as Anki writes them: `{{c1::Paris}} is the capital of {{c2::France::a country}}`. No Django.

The body runs to the first "::" (then a hint) or "}}", as Anki reads it. Nested deletions
(`{{c1::a {{c2::b}}}}`) are not supported: the inner one is left as typed.
"""

from __future__ import annotations

import re

CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.DOTALL)
SHOWN_CLASS = "cloze"  # the deletion asked: on the answer side, shown and highlighted
BLANK_CLASS = "cloze-blank"  # the deletion asked: on the question side, hidden


def cloze_numbers(text: str) -> list[int]:
    """The deletions a cloze text has (1 for c1), in order, each once."""
    return sorted({int(number) for number, _, _ in CLOZE.findall(text) if int(number) > 0})


def apply_cloze(html: str, number: int, reveal: bool) -> str:
    """Deletion `number` hidden ("[...]" or "[hint]"), or shown if `reveal`; the others as plain text.

    `html` is sanitised already; the result still needs sanitising (a deletion may cross a tag).
    """

    def replace(match: re.Match[str]) -> str:
        body, hint = match[2], match[3]
        if int(match[1]) != number:
            return body
        if reveal:
            return f'<span class="{SHOWN_CLASS}">{body}</span>'
        return f'<span class="{SHOWN_CLASS} {BLANK_CLASS}">[{hint if hint else "..."}]</span>'

    return CLOZE.sub(replace, html)
