"""Anki field HTML on its way in: images pointed at the app's stored copies, inline styles mapped. No Django.

Anki writes an image into a field as `<img src="cat.png">`, the name (often percent-encoded,
`my%20cat.png`) of a file in the package's media. `image_sources(html)` lists the `src` values a
field's images have; `rewrite(html, image_url)` gives each image the URL `image_url(src)` returns
(the stored copy), or drops the image where it returns None (missing, refused, remote, `data:`).

Inline styles never pass the app's allow-list (studyapp.markdown.sanitize_html: the
Content-Security-Policy has no 'unsafe-inline' styles). The few that carry meaning are mapped to
tags the allow-list keeps: bold (`font-weight: bold` or 600 and up) to `<b>`, `font-style: italic`
to `<i>`, `text-decoration: underline` to `<u>` and `line-through` to `<s>`, inside the element
that had the style; colours, fonts, sizes and alignment are dropped with the attribute.

The output is HTML for the allow-list to clean, not safe HTML by itself: everything else passes
through as it came, and every card text goes through `sanitize_html` afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from html.parser import HTMLParser

_NEEDS_PARSING = re.compile(r"<img\b|\bstyle\s*=", re.IGNORECASE)
_IMG = re.compile(r"<img\b", re.IGNORECASE)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_KEPT_IMAGE_ATTRIBUTES = ("alt", "width", "height")


def _style_tags(style: str) -> tuple[str, ...]:
    """The tags an inline style means: ("b", "i", "u", "s") in that order, those that apply."""
    declarations = {}
    for part in style.split(";"):
        name, _, value = part.partition(":")
        declarations[name.strip().lower()] = value.strip().lower()
    tags = []
    weight = declarations.get("font-weight", "")
    if weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 600):
        tags.append("b")
    if declarations.get("font-style", "") in ("italic", "oblique") or declarations.get("font-style", "").startswith(
        "oblique "
    ):
        tags.append("i")
    decoration = " ".join(declarations.get(name, "") for name in ("text-decoration", "text-decoration-line")).split()
    if "underline" in decoration:
        tags.append("u")
    if "line-through" in decoration:
        tags.append("s")
    return tuple(tags)


class _Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src is not None:
                self.sources.append(src.strip())


def image_sources(html: str) -> list[str]:
    """The `src` of every image in `html`, entities decoded, in order (repeats included)."""
    if not _IMG.search(html):
        return []
    parser = _Sources()
    parser.feed(html)
    parser.close()
    return parser.sources


class _Rewriter(HTMLParser):
    """Re-emits the HTML as it came (raw tags, text and references), but for images and styled elements."""

    def __init__(self, image_url: Callable[[str], str | None]) -> None:
        super().__init__(convert_charrefs=False)
        self.image_url = image_url
        self.out: list[str] = []
        self.open: dict[str, list[tuple[str, ...]]] = {}  # tag -> the mapped tags of each open element

    def _image(self, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        src = values.get("src")
        url = self.image_url(src.strip()) if src is not None else None
        if url is None:
            return  # dropped: the caller knows why (and warns)
        kept = "".join(
            f' {name}="{escape(values[name] or "")}"' for name in _KEPT_IMAGE_ATTRIBUTES if values.get(name) is not None
        )
        self.out.append(f'<img src="{escape(url)}"{kept}>')

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._image(attrs)
            return
        self.out.append(self.get_starttag_text() or "")
        if tag in _VOID:
            return
        style = dict(attrs).get("style") or ""
        mapped = _style_tags(style) if style else ()
        self.open.setdefault(tag, []).append(mapped)
        self.out.extend(f"<{name}>" for name in mapped)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._image(attrs)
        else:
            self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        stack = self.open.get(tag)
        if stack:
            self.out.extend(f"</{name}>" for name in reversed(stack.pop()))
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    # Comments, declarations and processing instructions: the allow-list drops them anyway.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def rewrite(html: str, image_url: Callable[[str], str | None]) -> str:
    """`html` with each image's src replaced by `image_url(src)` (dropped on None) and inline styles mapped."""
    if not _NEEDS_PARSING.search(html):
        return html
    parser = _Rewriter(image_url)
    parser.feed(html)
    parser.close()
    for stack in parser.open.values():  # elements never closed: close what was added inside them
        for mapped in reversed(stack):
            parser.out.extend(f"</{name}>" for name in reversed(mapped))
    return "".join(parser.out)
