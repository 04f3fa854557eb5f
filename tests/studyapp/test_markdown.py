"""studyapp/markdown.py and the `markdown` template filter: rendering, highlighting, sanitising."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString
from hypothesis import given, settings
from hypothesis import strategies as st

from studyapp.markdown import html_plain_text, pygments_css, render_markdown, render_markdown_standalone

STATIC_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "pygments.css"
ALLOWED_TAGS = {
    "p", "br", "hr", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "del",
    "sub", "sup", "kbd", "ul", "ol", "li", "dl", "dt", "dd", "a", "code", "pre", "span", "div",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
SAFE_ATTRIBUTES = {"href", "title", "align", "start", "class", "rel"}


class TagCollector(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


def url_scheme(url: str) -> str | None:
    """The scheme a browser would read (WHATWG URL: trim C0/space, drop tabs and newlines)."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


def assert_harmless(html: str) -> None:
    """Only allow-listed tags and attributes; no handlers, styles or dangerous URLs."""
    for tag, attrs in parsed_tags(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert name in SAFE_ATTRIBUTES, (tag, name, html)
            if name == "href":
                assert url_scheme(value or "") in {None, "http", "https", "mailto"}, (value, html)
    # As text, "javascript:" is harmless; as markup, a script or style tag is not.
    lowered = html.lower()
    assert "<script" not in lowered and "<style" not in lowered


# --- rendering ---------------------------------------------------------------------------


def test_returns_a_safe_string():
    assert isinstance(render_markdown("**hi**"), SafeString)
    assert render_markdown("**hi**") == "<p><strong>hi</strong></p>"


def test_empty_text_renders_empty():
    assert render_markdown("") == ""


def test_fenced_python_is_highlighted_with_classes_not_inline_styles():
    html = render_markdown("```python\nasync def get_data():\n    await client.get(url)\n```")
    assert '<div class="highlight">' in html
    assert '<span class="k">async</span>' in html
    assert '<span class="k">await</span>' in html
    assert '<span class="nf">get_data</span>' in html
    assert "style=" not in html


def test_unlabelled_fence_is_not_guessed():
    html = render_markdown("```\nplain words here\n```")
    assert "plain words here" in html
    assert 'class="k"' not in html


def test_inline_code_and_html_in_code_are_shown_as_text():
    html = render_markdown("Use `await` here.\n\n```python\nx = '<script>alert(1)</script>'\n```")
    assert "<code>await</code>" in html
    assert "&lt;script&gt;" in html
    assert "<script" not in html


def test_tables_render_with_alignment_as_attribute():
    html = render_markdown("| kind | helps |\n|:--|--:|\n| I/O | async |\n")
    assert "<table>" in html and "<th" in html
    assert '<td align="left">I/O</td>' in html and '<td align="right">async</td>' in html


def test_links_keep_http_and_get_a_safe_rel():
    html = render_markdown("[docs](https://docs.python.org/3/library/asyncio.html)")
    assert 'href="https://docs.python.org/3/library/asyncio.html"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_rendering_is_cached_and_stable():
    assert render_markdown("*x*") is render_markdown("*x*")


# --- sanitising --------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "![x](javascript:alert(1))",
    '[x](https://a.example" onclick="alert(1))',
    "<div style=\"background:url('javascript:alert(1)')\">x</div>",
    "<style>body { display: none }</style>",
    '<span class="k" onmouseover="alert(1)">k</span>',
    '<form action="https://evil.example"><input name="password"></form>',
    "<object data=x></object><embed src=x>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "<!-- <script>alert(1)</script> -->",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<details open ontoggle=alert(1)>",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_are_neutralised(payload):
    html = render_markdown(payload)
    assert_harmless(html)
    # As escaped text a handler's name is harmless; inside a real tag it is not.
    assert not re.search(r"<[^>]*\bon\w+\s*=", html), html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_inside_a_card_with_code_are_neutralised(payload):
    html = render_markdown(f"# Card\n\n{payload}\n\n```python\nprint('hi')\n```\n\n| a |\n|---|\n| {payload} |\n")
    assert_harmless(html)


def test_authored_html_is_text_so_no_class_of_the_page_can_be_borrowed():
    html = render_markdown('<span class="k admin-button">x</span><div class="messagelist">y</div>')
    assert html == (
        '<p>&lt;span class="k admin-button"&gt;x&lt;/span&gt;&lt;div class="messagelist"&gt;y&lt;/div&gt;</p>'
    )
    assert all(tag != "span" for tag, _ in parsed_tags(html))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Can't pickle local object 'run_all.<locals>.<lambda>'", "'run_all.&lt;locals&gt;.&lt;lambda&gt;'"),
        ("A `list<int>` is a list<int>.", "<code>list&lt;int&gt;</code> is a list&lt;int&gt;."),
        ("1 < 2 > 0 and <br> as typed", "1 &lt; 2 &gt; 0 and &lt;br&gt; as typed"),
        ("<b>not bold</b>", "&lt;b&gt;not bold&lt;/b&gt;"),
    ],
)
def test_text_in_angle_brackets_is_escaped_never_stripped(text, shown):
    assert shown in render_markdown(text)


def test_mailto_links_survive():
    assert 'href="mailto:me@example.com"' in render_markdown("<mailto:me@example.com>")


FRAGMENTS = st.sampled_from(
    [
        "<script>", "</script>", "<a href=", '"javascript:alert(1)"', "javascript:", "<img src=x ",
        "onerror=alert(1)", ">", "<", '"', "'", "```python\n", "```\n", "\n", " ", "[x](", ")", "&#106;",
        "<svg/onload=alert(1)>", "<style>", "<span class=k ", "style=color:red", "| a |\n|---|\n", "**",
        "`", "<div ", "on", "load", "=", "data:", "<iframe ", "<!--", "-->", "text",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=30).map("".join))
def test_any_mix_of_dangerous_fragments_comes_out_harmless(text):
    assert_harmless(render_markdown(text))


# --- template filter ---------------------------------------------------------------------


def test_template_filter_renders_without_double_escaping():
    template = Template("{% load markdown_tags %}<article>{{ text|markdown }}</article>")
    html = template.render(Context({"text": "```python\nx = 1 < 2\n```\n\n<script>alert(1)</script>"}))
    assert '<div class="highlight">' in html
    assert "&lt;" in html and "&amp;lt;" not in html
    assert "<script" not in html


def test_template_filter_treats_none_as_empty():
    template = Template("{% load markdown_tags %}[{{ text|markdown }}]")
    assert template.render(Context({"text": None})) == "[]"


# --- stylesheet --------------------------------------------------------------------------


def relative_luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_committed_stylesheet_is_what_the_generator_makes():
    assert STATIC_CSS.read_text() == pygments_css(), "run: python -m studyapp.markdown > static/css/pygments.css"


def test_stylesheet_is_scoped_and_every_colour_meets_wcag_aa_on_its_background():
    css = pygments_css()
    rules = [line for line in css.splitlines() if "{" in line]
    assert rules and all(line.startswith(".highlight") for line in rules)
    background = re.search(r"^\.highlight \{ background: (#[0-9a-fA-F]{3,6})", css, re.MULTILINE).group(1)
    bg = relative_luminance(background)
    colours = re.findall(r"[^-]color: (#[0-9a-fA-F]{3,6})", css)
    assert len(colours) > 10
    for colour in colours:
        fg = relative_luminance(colour)
        ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
        assert ratio >= 4.5, (colour, ratio)


# --- standalone HTML (an Anki export): the stylesheet's colours inline ------------------------

STANDALONE_SAMPLE = (
    "Text `x` <b>not bold</b>\n\n```python\n@dataclass\nclass A:\n    n: int = 1  # <T> & 'caf\u00e9'\n"
    '    async def f(self):\n        return f"{self.n!r}"\n```\n\n    plain block\n\n[bad](javascript:alert(1))'
)


def test_standalone_html_carries_the_stylesheets_colours_inline_and_no_class():
    with_classes = str(render_markdown(STANDALONE_SAMPLE))
    standalone = render_markdown_standalone(STANDALONE_SAMPLE)
    assert "class=" not in standalone
    assert html_plain_text(standalone) == html_plain_text(with_classes)  # the same text, escaped the same way
    assert "&lt;b&gt;not bold&lt;/b&gt;" in standalone and "javascript" not in standalone
    # Each token's span gets exactly the rule static/css/pygments.css gives its class (read from the CSS).
    css = pygments_css()
    rules = dict(re.findall(r"^\.highlight \.(\S+) \{ (.+?) \}", css, re.MULTILINE))
    expected = re.sub(
        r'<span class="([^"]*)">',
        lambda match: f'<span style="{rules[match[1]]}">' if match[1] in rules else "<span>",
        with_classes,
    )
    background = re.search(r"^\.highlight \{ (background: #[0-9a-fA-F]+);? \}", css, re.MULTILINE).group(1)
    layout = re.search(r"^\.highlight pre \{ (.+?) \}", css, re.MULTILINE).group(1)
    block = f'<div style="{background}"><pre style="{layout} text-align: left;">'
    assert standalone == expected.replace('<div class="highlight"><pre>', block)
    assert standalone.count(block) == 2 and '<span style="color: #A90D91">async</span>' in standalone


def test_standalone_html_without_code_is_render_markdowns():
    for text in ("", "*a* & <b>", "| a |\n|:-|\n| 1 |"):
        assert render_markdown_standalone(text) == str(render_markdown(text))
