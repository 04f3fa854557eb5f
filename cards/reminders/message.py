"""The reminder email itself, and the signed token behind its one-click unsubscribe link.

The token is `django.core.signing.TimestampSigner` over the user's id with a
salt of its own, so it proves the link came from us, names whom to unsubscribe,
and expires (REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS, 60 by default: every reminder
carries a fresh one). No login is needed to use it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString

from studyapp.markdown import plain_text, render_inline

UNSUBSCRIBE_SALT = "cards.reminders.sending.unsubscribe"


@dataclass(frozen=True, slots=True)
class Reminder:
    """What one learner's reminder says."""

    user_id: int
    username: str
    address: str
    local_date: dt.date
    cards: int  # plain cards due (re-drills included), challenges not included
    challenges: int
    minutes: int
    teaser: tuple[str, ...]  # first lines of due questions, in Markdown


@dataclass(frozen=True, slots=True)
class TeaserLine:
    """One due question in the email: plain text for the text part, rendered Markdown for the HTML part."""

    text: str
    html: SafeString

    @classmethod
    def of(cls, markdown_line: str, limit: int = 120) -> TeaserLine:
        text = plain_text(markdown_line)
        if len(text) > limit:
            # Cut the plain text, never the HTML (which could lose a closing tag); show the cut text in both.
            text = text[: limit - 1].rstrip() + "\u2026"
            return cls(text, escape(text))
        return cls(text, render_inline(markdown_line))


def unsubscribe_max_age() -> dt.timedelta:
    """How long an unsubscribe link stays valid."""
    return dt.timedelta(days=settings.REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS)


def unsubscribe_token(user_id: int) -> str:
    """A signed, timestamped token naming `user_id`, for the unsubscribe link."""
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign(str(user_id))


def read_unsubscribe_token(token: str) -> int:
    """The user id in a valid token.

    Raises signing.SignatureExpired for a genuine but stale token, and
    signing.BadSignature (its parent class) for anything forged or mangled.
    """
    value = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).unsign(token, max_age=unsubscribe_max_age())
    try:
        return int(value)
    except ValueError:
        raise signing.BadSignature("not a user id") from None


def absolute_url(path: str) -> str:
    """SITE_URL + path: emails need links that work outside the site."""
    return f"{settings.SITE_URL}{path}"


@dataclass(frozen=True, slots=True)
class Links:
    """The absolute links every reminder carries, resolved once per run rather than once per email."""

    review: str
    settings: str
    unsubscribe_prefix: str

    @classmethod
    def resolve(cls) -> Links:
        """Reverse the URLs now (the unsubscribe URL around a placeholder token)."""
        placeholder = "TOKEN"
        unsubscribe = absolute_url(reverse("reminders_unsubscribe", args=[placeholder]))
        prefix, suffix = unsubscribe.split(placeholder)
        if suffix != "/":
            raise ValueError(f"unexpected unsubscribe URL shape: {unsubscribe}")
        return cls(absolute_url(reverse("review")), absolute_url(reverse("settings")), prefix)

    def unsubscribe(self, user_id: int) -> str:
        """The one-click unsubscribe link for `user_id`, with a fresh token."""
        return f"{self.unsubscribe_prefix}{unsubscribe_token(user_id)}/"


def _message_id(reminder: Reminder) -> str:
    # The same for a repeat of the same day's reminder, so a store that de-duplicates by
    # Message-ID drops a repeat that a crash at the worst moment could cause.
    domain = urlsplit(settings.SITE_URL).hostname or ""
    try:
        ipaddress.ip_address(domain)
        domain = ""  # an IP literal is no Message-ID domain: use the host's name, as make_msgid does
    except ValueError:
        pass
    domain = domain or str(DNS_NAME)
    return f"<reminder.{reminder.user_id}.{reminder.local_date.isoformat()}@{domain}>"


def subject_for(reminder: Reminder) -> str:
    """'3 cards due today', '3 cards and 1 challenge due today', '1 challenge due today'."""
    parts = []
    if reminder.cards:
        parts.append(f"{reminder.cards} card{'s' if reminder.cards != 1 else ''}")
    if reminder.challenges:
        parts.append(f"{reminder.challenges} challenge{'s' if reminder.challenges != 1 else ''}")
    return f"{' and '.join(parts)} due today"


def build_message(
    reminder: Reminder, links: Links | None = None, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    """The reminder as a plain-text email with an HTML alternative and List-Unsubscribe headers."""
    links = links or Links.resolve()
    unsubscribe = links.unsubscribe(reminder.user_id)
    context = {
        "reminder": reminder,
        "review_url": links.review,
        "settings_url": links.settings,
        "unsubscribe_url": unsubscribe,
        "subject": subject_for(reminder),
        "teaser": [TeaserLine.of(line) for line in reminder.teaser],
    }
    message = EmailMultiAlternatives(
        subject=context["subject"],
        body=render_to_string("reminders/email.txt", context),
        to=[reminder.address],
        connection=connection,
        headers={
            "Message-ID": _message_id(reminder),
            "List-Unsubscribe": f"<{unsubscribe}>",
            # RFC 8058: mail clients may unsubscribe with a POST to the link, no page shown.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("reminders/email.html", context), "text/html")
    return message
