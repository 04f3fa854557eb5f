"""A card's text kind (Markdown or sanitised HTML) and clozes, everywhere card text is shown."""

from __future__ import annotations

import re

import pytest

from cards import cloze
from cards.models import Card
from cards.reminders.message import TeaserLine
from cards.review.views import card_label
from studyapp.markdown import render_markdown
from tests.factories import make_card, make_superuser, make_user

HTML = Card.TextFormat.HTML
ANKI_FIELD = (
    '<div style="color:red" class="card">x &lt; y &amp;&amp; caf\u00e9 \u65e5\u672c&nbsp;\u2014 '
    '<font color="red">red</font><b onclick="steal()">b</b><img src="x.png" onerror="steal()">'
    '<a href="javascript:steal()">j</a><a href="https://example.org">ok</a><script>steal()</script></div>'
    "<pre><code>if a &lt; b:\n    print('&amp;')</code></pre>"
)
CLOZE_TEXT = "{{c1::Paris}} is the capital of {{c2::France::a country}}, on the {{c3::<b>Seine</b>}}."


def test_existing_and_new_cards_are_markdown():
    assert Card._meta.get_field("text_format").default == "markdown"
    assert Card().text_format == Card.TextFormat.MARKDOWN


def test_markdown_cards_render_as_before():
    card = Card(question="What does `await` do?\n\n```python\nawait x\n```", answer="*It* pauses.")
    assert card.question_html() == render_markdown(card.question)
    assert card.answer_html() == render_markdown(card.answer)
    raw = Card(question="<b>not bold</b>", answer="a")
    assert "&lt;b&gt;not bold&lt;/b&gt;" in raw.question_html()  # Markdown cards show HTML as typed


def test_html_cards_go_through_the_allow_list_on_the_way_out():
    html = str(Card(question=ANKI_FIELD, answer="", text_format=HTML).question_html())
    for gone in ("style", "onclick", "onerror", "<img", "<font", "<script", "steal()", "javascript:", 'class="card"'):
        assert gone not in html, gone
    assert html.startswith("<div>x &lt; y &amp;&amp; caf\u00e9 \u65e5\u672c&nbsp;\u2014 red<b>b</b>")
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html
    assert "<pre><code>if a &lt; b:\n    print('&amp;')</code></pre>" in html  # code stays code, exactly


def cloze_card(number: int, answer: str = "Extra <i>note</i>") -> Card:
    return Card(question=CLOZE_TEXT, answer=answer, text_format=HTML, cloze=number)


def test_cloze_question_hides_the_deletion_and_shows_the_others():
    assert str(cloze_card(1).question_html()) == (
        '<span class="cloze cloze-blank">[...]</span> is the capital of France, on the <b>Seine</b>.'
    )
    assert str(cloze_card(2).question_html()) == (
        'Paris is the capital of <span class="cloze cloze-blank">[a country]</span>, on the <b>Seine</b>.'
    )


def test_cloze_answer_shows_the_deletion_highlighted_then_the_extra():
    assert str(cloze_card(3).answer_html()) == (
        'Paris is the capital of France, on the <span class="cloze"><b>Seine</b></span>.Extra <i>note</i>'
    )
    assert str(cloze_card(1, answer="").answer_html()).startswith('<span class="cloze">Paris</span> is')


def test_a_cloze_crossing_a_tag_is_well_formed_and_classes_cannot_be_forged():
    card = Card(question="<b>{{c1::a</b>b}} <span class='cloze'>fake</span>", answer="", text_format=HTML, cloze=1)
    html = str(card.answer_html())
    assert html.count("<span") == html.count("</span>") and html.count("<b>") == html.count("</b>")
    assert "<span>fake</span>" in html  # an incoming class="cloze" is dropped
    assert cloze.cloze_numbers(CLOZE_TEXT) == [1, 2, 3]


def test_plain_text_places():
    card = cloze_card(2)
    assert card.plain_question() == "Paris is the capital of [a country], on the Seine."
    assert card_label(card) == "Paris is the capital of [a country], on the Seine."
    html_card = Card(key="k", question="<div>a &lt;T&gt;</div><div>*b*</div>", answer="", text_format=HTML)
    assert html_card.plain_question() == "a <T> *b*"
    # The reminder email renders teaser lines as Markdown: an HTML card's text comes through exactly.
    for card in (html_card, card):
        teaser = TeaserLine.of(Card.teaser_markdown(card.question, card.text_format, card.cloze))
        assert teaser.text == card.plain_question()
        assert re.sub(r"<[^>]+>", "", str(teaser.html)).replace("&lt;", "<").replace("&gt;", ">") == teaser.text


@pytest.mark.django_db
def test_the_review_page_renders_a_cloze_card(client):
    user = make_user()
    make_card(question=CLOZE_TEXT, answer="Extra", text_format=HTML, cloze=2)
    client.force_login(user)
    page = client.get("/review/").content.decode()
    question = page.split('class="card-question"')[1].split("</div>")[0]
    answer = page.split('class="card-answer"')[1].split("</div>")[0]
    assert '<span class="cloze cloze-blank">[a country]</span>' in question and "France" not in question
    assert '<span class="cloze">France</span>' in answer and "Extra" in answer


@pytest.mark.django_db
def test_the_welcome_page_renders_an_html_sample(client):
    make_card(question="<div style='x'>caf\u00e9 &amp; <b>bold</b></div>", answer="<i>a</i>", text_format=HTML)
    page = client.get("/").content.decode()
    assert "<div>caf\u00e9 &amp; <b>bold</b></div>" in page and "style='x'" not in page


@pytest.mark.django_db
def test_the_admin_preview_renders_a_cloze_card(client):
    client.force_login(make_superuser())
    card = make_card(question=CLOZE_TEXT, answer="Extra", text_format=HTML, cloze=1)
    page = client.get(f"/admin/cards/card/{card.pk}/change/").content.decode()
    assert '<span class="cloze cloze-blank">[...]</span> is the capital of France' in page
    assert '<span class="cloze">Paris</span> is the capital of France' in page
    listing = client.get("/admin/cards/card/").content.decode()
    assert "[...] is the capital of France" in listing
