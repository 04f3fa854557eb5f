"""Card text to safe HTML: Markdown (fenced code, tables), Pygments highlighting, nh3.

Authors write Markdown in the admin; learners see it rendered. Raw HTML in the text is
escaped, shown as typed (`<locals>` stays `<locals>`), never interpreted; the output is
still sanitised with nh3 against an allow-list of exactly what Markdown and Pygments
produce: no script or style, no on* attributes, links only to http(s)/mailto, and only
Pygments' own class names. Images (from Anki packages) only from the app's own stored copies:
an `<img>` keeps its src only if it is MEDIA_URL + "cards/<sha256>.<png|jpg|gif|webp>", and an
image without one is dropped whole (no remote URL, no `data:`, no other path of the site).

Highlighting uses CSS classes, not inline styles; the stylesheet is
static/css/pygments.css, made by `python -m studyapp.markdown > static/css/pygments.css`.
HTML read without that stylesheet (an Anki export) gets the same colours as inline styles:
`render_markdown_standalone()`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from html import unescape

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe
from pygments.formatters import HtmlFormatter
from pygments.token import STANDARD_TYPES

# A light style whose every token colour has at least 5:1 contrast on its white
# background (WCAG AA asks 4.5:1); measured over all Pygments 2.21 styles.
PYGMENTS_STYLE = "xcode"
HIGHLIGHT_CLASS = "highlight"

_EXTENSIONS = ["fenced_code", "tables", "codehilite", "sane_lists"]
_EXTENSION_CONFIGS = {
    # guess_lang off: an unlabelled block is plain text, not a wrong guess.
    "codehilite": {"css_class": HIGHLIGHT_CLASS, "guess_lang": False, "use_pygments": True},
    # align="..." rather than style="text-align: ...": no style attribute is ever allowed.
    "tables": {"use_align_attribute": True},
}

_TAGS = {
    "p", "br", "hr", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "b", "i", "u", "s", "del", "sub", "sup", "kbd",
    "ul", "ol", "li", "dl", "dt", "dd",
    "a", "code", "pre", "span", "div",
    "table", "thead", "tbody", "tr", "th", "td",
    "img",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},  # src: only the app's stored images (_checked_images)
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
# Only the classes Pygments emits: authored HTML cannot borrow the page's own classes.
_PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name}
_CLASSES = {
    "div": {HIGHLIGHT_CLASS},
    "span": _PYGMENTS_CLASSES,
}
_URL_SCHEMES = {"http", "https", "mailto"}
_EMPTY_CLASS = re.compile(r'(<[a-z][a-z0-9]*\b[^<>]*?) class=""')


def sanitize_html(html: str, extra_classes: Mapping[str, Iterable[str]] | None = None) -> str:
    """Keep only the tags, attributes, classes and URL schemes that rendered Markdown needs.

    The one allow-list for every card text: rendered Markdown, and HTML imported from Anki (on the
    way in and again on the way out). No style attribute ever passes, so the Content-Security-Policy
    can stay without 'unsafe-inline' styles. `extra_classes` adds class names our own code puts in
    after sanitising (a cloze's spans): text coming in can never carry them.
    """
    classes = _CLASSES
    if extra_classes:
        classes = {tag: set(_CLASSES.get(tag, ())) | set(names) for tag, names in extra_classes.items()}
        classes = {**_CLASSES, **classes}
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=classes,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        # script/style contents are dropped with their tags, not left behind as text.
        clean_content_tags={"script", "style"},
        strip_comments=True,
    )
    # nh3 leaves `class=""` where it removed every class (imported HTML's own): drop it. Text never
    # holds a raw "<" after nh3, so this only ever matches inside a tag.
    return _checked_images(_EMPTY_CLASS.sub(r"\1", cleaned))


# An image tag as nh3 writes it: every attribute double-quoted, a '"' inside a value always `&quot;`. So a
# match with attributes is a real tag (inside another attribute's value it could not hold a quote).
_IMAGE_TAG = re.compile(r'<img((?:\s+[a-z-]+="[^"]*")*)\s*/?>')
_IMAGE_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')
_IMAGE_SIZE = re.compile(r"[0-9]{1,5}")


@lru_cache(maxsize=4)
def _image_source(media_url: str) -> re.Pattern[str]:
    return re.compile(re.escape(media_url) + r"cards/[0-9a-f]{64}\.(?:png|jpg|gif|webp)")


def _checked_image(match: re.Match[str]) -> str:
    from django.conf import settings

    attributes = dict(_IMAGE_ATTRIBUTE.findall(match[1]))
    src = attributes.get("src", "")
    if not _image_source(settings.MEDIA_URL).fullmatch(src):
        return ""  # a remote, data: or other URL (nh3 lets http(s) and relative ones through), or none
    kept = [f'src="{src}"']
    if "alt" in attributes:
        kept.append(f'alt="{attributes["alt"]}"')
    kept += [
        f'{name}="{attributes[name]}"'
        for name in ("width", "height")
        if _IMAGE_SIZE.fullmatch(attributes.get(name, ""))
    ]
    return f"<img {' '.join(kept)}>"


def _checked_images(html: str) -> str:
    """Each `<img>` of nh3's output kept only with a src naming one of the app's stored images."""
    if "<img" not in html:
        return html
    return _IMAGE_TAG.sub(_checked_image, html)


@lru_cache(maxsize=2048)
def render_markdown(text: str) -> SafeString:
    """Render Markdown `text` to sanitised HTML, safe to put in a template as is.

    Cached: a review session shows the same few cards again and again, and the
    result depends on nothing but the text.
    """
    if not text:
        return mark_safe("")  # noqa: S308 (empty string)
    html = _converter().reset().convert(text)
    return mark_safe(sanitize_html(html))  # noqa: S308 (sanitised by nh3 just above)


_local = threading.local()


def _converter() -> markdown_lib.Markdown:
    """This thread's Markdown instance (reset before each use): instances keep state between
    conversions and are not thread-safe, and building one cost more than most conversions (~1 ms)."""
    md = getattr(_local, "markdown", None)
    if md is None:
        md = markdown_lib.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
        # Card text is Markdown, not HTML: `<locals>` in a traceback or `list<int>` is text to show,
        # so raw HTML is escaped rather than passed on (where nh3 would strip the unknown "tags").
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        _local.markdown = md
    return md


@lru_cache(maxsize=2048)
def render_html(html: str) -> SafeString:
    """Card text that is HTML (imported from Anki) through the same allow-list: safe to put in a template."""
    return mark_safe(sanitize_html(html))  # noqa: S308 (sanitised by nh3)


_TAG = re.compile(r"<[^>]*>")
# Where a tag ends a line of text: "<div>a</div><div>b</div>" reads "a b", not "ab".
_BREAK = re.compile(r"<(?:br|/?(?:p|div|li|tr|td|th|pre|h[1-6]|blockquote|hr|ul|ol|table))\b[^>]*>", re.IGNORECASE)


def html_plain_text(html: str) -> str:
    """Sanitised HTML as a reader sees it, for plain-text places: tags gone, entities decoded, one line."""
    return " ".join(unescape(_TAG.sub("", _BREAK.sub(" ", html))).split())


def plain_text(text: str) -> str:
    """Markdown as a reader sees it, for plain-text places (an email's text part): marks gone, one line."""
    return html_plain_text(str(render_markdown(text)))


# Python-Markdown's backslash escapes (with the tables extension's "|"); "<" needs none here, since raw
# HTML is shown as typed, and "&" becomes "&amp;" (else "&lt;" typed as text would turn into "<").
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()>#+\-.!|])")


def escape_markdown(text: str) -> str:
    """Plain text as Markdown that renders back to exactly that text (marks backslashed, & as &amp;)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def render_inline(text: str) -> SafeString:
    """One line of Markdown as inline HTML, without the paragraph around it (a list item, a heading)."""
    html = str(render_markdown(text))
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return mark_safe(html)  # noqa: S308 (render_markdown's sanitised output, less its <p>)


# How a highlighted block is laid out, in the stylesheet and inline alike.
_CODE_LAYOUT = "overflow-x: auto; padding: 0.75em; line-height: 1.4;"


def pygments_css() -> str:
    """The stylesheet for highlighted code, scoped to `.highlight` (static/css/pygments.css)."""
    formatter = HtmlFormatter(style=PYGMENTS_STYLE)
    header = f"/* Generated by `python -m studyapp.markdown`: Pygments style {PYGMENTS_STYLE!r}. Do not edit. */\n"
    scope = f".{HIGHLIGHT_CLASS}"
    # Background and token rules only: get_style_defs() also emits unscoped `pre` and
    # line-number rules that would restyle every <pre> on the page.
    rules = "\n".join([*formatter.get_background_style_defs(scope), *formatter.get_token_style_defs(scope)])
    # Long lines of code scroll inside their block instead of widening the page on phones.
    layout = f".{HIGHLIGHT_CLASS} pre {{ {_CODE_LAYOUT} }}\n"
    return header + rules + "\n" + layout


# render_markdown's highlighted blocks and their token spans: the allow-list leaves only these classes,
# and nh3 writes every attribute double-quoted (text never holds a raw "<"), so these match real tags only.
_HIGHLIGHT_BLOCK = re.compile(rf'<div class="{HIGHLIGHT_CLASS}"><pre>')
_TOKEN_SPAN = re.compile(r'<span class="([^"]*)">')


@lru_cache(maxsize=1)
def _inline_styles() -> tuple[str, dict[str, str]]:
    """A highlighted block's opening tags and each token class's style, inline: pygments_css()'s rules."""
    formatter = HtmlFormatter(style=PYGMENTS_STYLE)
    # text-align: code stays left-aligned inside centred text (Anki centres its cards).
    background = formatter.style.background_color
    block = f'<div style="background: {background}"><pre style="{_CODE_LAYOUT} text-align: left;">'
    return block, {name: style for name, (style, _, _) in formatter.class2style.items() if style}


def render_markdown_standalone(text: str) -> str:
    """Markdown as HTML that needs no stylesheet, for HTML read outside the app (an Anki export).

    render_markdown()'s output (the same escaping and allow-list), with the highlighter's classes
    turned into the inline styles static/css/pygments.css gives them: the same colours and layout,
    and no class left. Not for the app's pages: their Content-Security-Policy refuses inline styles.
    """
    html = str(render_markdown(text))
    if HIGHLIGHT_CLASS not in html:
        return html
    block, styles = _inline_styles()

    def inline(match: re.Match[str]) -> str:
        style = styles.get(match[1])
        return f'<span style="{style}">' if style else "<span>"

    return _TOKEN_SPAN.sub(inline, _HIGHLIGHT_BLOCK.sub(lambda _: block, html))


if __name__ == "__main__":
    print(pygments_css(), end="")
