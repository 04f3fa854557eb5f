"""The reminder email: counts, estimate, teaser (escaped), links, headers; and one trip through real SMTP."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from cards.reminders.message import read_unsubscribe_token
from cards.reminders.sending import send_due_reminders
from tests.factories import make_cards, make_due_challenge, make_learner
from tests.mail_helpers import Inbox
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 1, 20, 9)


def only_message() -> mail.EmailMultiAlternatives:
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def html_of(message: mail.EmailMultiAlternatives) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


def test_counts_estimate_teaser_and_review_link(settings):
    settings.SITE_URL = "https://study.example.org"
    cards = make_cards(5, question="## Why does `requests.get` block the loop? ({i})\n\nMore text.")
    user = make_learner(due=5, cards=cards)
    make_due_challenge(user=user, due_on=dt.date(2026, 1, 19))

    send_due_reminders(NOW)

    message = only_message()
    assert message.subject == "5 cards and 1 challenge due today"
    # 5 cards x 12 s (no answer history yet) + 1 challenge x 5 min = 6 minutes.
    assert "about 6 minutes of review" in message.body
    # The first card (make_cards numbers from 1), as plain text: no Markdown marks.
    assert "  - Why does requests.get block the loop? (1)\n" in message.body
    assert "<li>Why does <code>requests.get</code> block the loop? (1)</li>" in html_of(message)
    assert message.body.count("  - ") == 3  # a few questions, not all
    assert "More text" not in message.body
    assert "https://study.example.org/review/" in message.body
    assert 'href="https://study.example.org/review/"' in html_of(message)


def test_teaser_is_escaped_in_html_and_left_plain_in_text():
    cards = make_cards(1, question="<script>alert('x')</script> & <b>bold</b>? ({i})")
    make_learner(due=1, cards=cards)
    send_due_reminders(NOW)
    message = only_message()
    html = html_of(message)
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html
    assert "<script>alert('x')</script> & <b>bold</b>?" in message.body  # plain text: no entities


def test_teaser_markdown_is_rendered_in_html_and_plain_in_text():
    question = "In **synchronous** code, `time.sleep(1)` blocks _everything_ in `run_all.<locals>` ({i})"
    make_learner(due=1, cards=make_cards(1, question=question))
    send_due_reminders(NOW)
    message = only_message()
    assert "  - In synchronous code, time.sleep(1) blocks everything in run_all.<locals> (1)\n" in message.body
    assert "**" not in message.body and "`" not in message.body
    assert (
        "<li>In <strong>synchronous</strong> code, <code>time.sleep(1)</code> blocks <em>everything</em> in "
        "<code>run_all.&lt;locals&gt;</code> (1)</li>"
    ) in html_of(message)


def test_a_long_question_is_cut_the_same_in_both_parts():
    make_learner(due=1, cards=make_cards(1, question="**Why** " + "very " * 40 + "long? ({i})"))
    send_due_reminders(NOW)
    message = only_message()
    line = next(line for line in message.body.splitlines() if line.startswith("  - "))
    assert len(line) <= 4 + 120 and line.endswith("\u2026") and line.startswith("  - Why very very")
    assert f"<li>{line[4:]}</li>" in html_of(message)  # the cut text, escaped, never half a tag


def test_pace_comes_from_the_learners_own_answer_times():
    from cards.review.models import ReviewLog

    user = make_learner(due=10)
    card = user.review_states.first().card
    for i in range(3):
        ReviewLog.objects.create(
            user=user,
            card=card,
            source="review",
            quality=4,
            before={},
            after={},
            reviewed_on=dt.date(2026, 1, 19),
            answered_at=NOW - dt.timedelta(days=1, minutes=i),
            duration_ms=30_000,
        )
    send_due_reminders(NOW)
    assert "about 5 minutes of review" in only_message().body  # 10 cards x 30 s


def test_unsubscribe_headers_and_token(settings):
    settings.SITE_URL = "https://study.example.org"
    user = make_learner()
    send_due_reminders(NOW)
    message = only_message()
    header = message.extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://study.example.org/reminders/unsubscribe/") and header.endswith("/>")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = header.removesuffix("/>").rsplit("/", 1)[1]
    assert read_unsubscribe_token(token) == user.pk
    assert header[1:-1] in message.body
    assert message.extra_headers["Message-ID"] == f"<reminder.{user.pk}.2026-01-20@study.example.org>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5


def test_smtp_server_down_then_back_sends_everyone_once(settings):
    from cards.reminders.models import ReminderSend

    port = free_port()  # nothing listens here yet
    use_smtp(settings, port)
    users = [make_learner() for _ in range(3)]
    down = send_due_reminders(NOW)
    assert "ConnectionRefusedError" in down.error
    assert down.sent == [] and sorted(down.released) == sorted(user.pk for user in users)
    assert not ReminderSend.objects.exists()

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        back = send_due_reminders(NOW + dt.timedelta(minutes=15))
        send_due_reminders(NOW + dt.timedelta(minutes=30))
    finally:
        controller.stop()
    assert back.error == "" and len(back.sent) == 3
    assert sorted(rcpt for envelope in inbox.envelopes for rcpt in envelope.rcpt_tos) == sorted(
        user.email for user in users
    )


def test_through_a_real_smtp_server_on_loopback(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        use_smtp(settings, controller.port)
        settings.DEFAULT_FROM_EMAIL = "Study app <noreply@study.example.org>"
        settings.SITE_URL = "https://study.example.org"
        user = make_learner(due=2, reminder_email="learner@example.net")

        report = send_due_reminders(NOW)
        assert report.error == "" and report.sent == [user.pk]
        assert len(send_due_reminders(NOW).sent) == 0  # and not twice
    finally:
        controller.stop()

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "noreply@study.example.org"
    assert envelope.rcpt_tos == ["learner@example.net"]
    received = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert received["Subject"] == "2 cards due today"
    assert received["To"] == "learner@example.net"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(received["List-Unsubscribe"]).strip()  # long: folded onto its own line
    assert unsubscribe.startswith("<https://study.example.org/reminders/unsubscribe/")
    assert received["Message-ID"] == f"<reminder.{user.pk}.2026-01-20@study.example.org>"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "https://study.example.org/review/" in text
    assert unsubscribe[1:-1] in text
    assert 'href="https://study.example.org/review/"' in html
