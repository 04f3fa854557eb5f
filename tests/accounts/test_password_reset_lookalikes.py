"""Password reset and look-alike addresses (issue 10, item 1; the CVE-2019-19844 pattern).

The database finds reset candidates case-insensitively, and its case mapping is wider than
an address's identity: PostgreSQL's UPPER() turns the dotless "ı" into "I", so
"admin@maıl.example" finds "admin@mail.example". The form must compare each stored address
with the typed one in Python, as Django does (NFKC, then casefold), and mail only the stored
address. Mail goes to Django's locmem outbox; every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
NEW_PASSWORD = "a-brand-new-passphrase-42"
_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def _site_url(settings) -> None:
    settings.SITE_URL = "https://study.example.org"


@pytest.fixture
def domain() -> str:
    """A fresh mail domain per test: the reset throttles count per address in Redis and outlive a test."""
    return f"mail-{uuid.uuid4().hex[:8]}.example"


def ask(typed: str):
    """Ask for a reset link from a fresh client address (the per-client throttle is not under test here)."""
    n = next(_addresses)
    address = f"10.{uuid.uuid4().int % 250}.{n // 250 % 250}.{n % 250 + 1}"
    return Client().post(reverse("password_reset"), {"email": typed}, REMOTE_ADDR=address)


def prefilter_finds(typed: str) -> bool:
    """Whether the database's case-insensitive lookup alone would take `typed` for a stored address."""
    return get_user_model().objects.filter(email__iexact=typed).exists()


# (stored address, typed address, the same address for Django?); {d} makes the domain fresh.
# Django's comparison (NFKC, then casefold) maps the long s, the Kelvin sign and fullwidth
# letters to ASCII: those are the victim's own address, and may be mailed there, only there.
# It maps neither the dotless ı nor the dotted capital İ to a plain i: those get no mail.
# Django's EmailField takes ı, İ, ſ and K in the local part (Python's re folds them) and
# fullwidth letters only in the domain.
LOOKALIKES = [
    pytest.param("admin@mail-{d}.example", "admin@ma\u0131l-{d}.example", False, id="dotless-i-domain"),
    pytest.param("admin@mail-{d}.example", "adm\u0131n@mail-{d}.example", False, id="dotless-i-local"),
    pytest.param("admin@mail-{d}.example", "admin@ma\u0130l-{d}.example", False, id="dotted-capital-I-domain"),
    pytest.param("admin@mail-{d}.example", "adm\u0130n@mail-{d}.example", False, id="dotted-capital-I-local"),
    pytest.param("sam@mails-{d}.example", "sam@mail\u017f-{d}.example", True, id="long-s-domain"),
    pytest.param("sam@mail-{d}.example", "\u017fam@mail-{d}.example", True, id="long-s-local"),
    pytest.param("admin@kmail-{d}.example", "admin@\u212amail-{d}.example", True, id="kelvin-sign-domain"),
    pytest.param("kate@mail-{d}.example", "\u212aate@mail-{d}.example", True, id="kelvin-sign-local"),
    pytest.param("admin@mail-{d}.example", "admin@\uff4d\uff41\uff49\uff4c-{d}.example", True, id="fullwidth"),
]


def pair(stored: str, typed: str) -> tuple[str, str]:
    d = uuid.uuid4().hex[:8]
    return stored.format(d=d), typed.format(d=d)


def folded_by_postgres(typed: str) -> bool:
    """ı and ſ: PostgreSQL's UPPER() (C.UTF-8 and most UTF-8 locales) makes them I and S."""
    return "\u0131" in typed or "\u017f" in typed


@pytest.mark.parametrize(("stored", "typed", "same"), LOOKALIKES)
def test_a_lookalike_of_the_account_address_mails_nobody_else(stored, typed, same):
    stored, typed = pair(stored, typed)
    victim = make_user(email=stored)

    response = ask(typed)

    # The same answer as for any address: nothing tells the visitor whether it matched.
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert all(message.to == [stored] for message in mail.outbox), [m.to for m in mail.outbox]
    # One link at most, to the victim's own mailbox, and none for an address that is not theirs.
    # (Whether the database's lookup finds an NFKC look-alike at all depends on its case
    # mapping, exactly as with Django's own form.)
    assert len(mail.outbox) <= (1 if same else 0)
    if connection.vendor == "postgresql" and folded_by_postgres(typed):
        # These pass PostgreSQL's lookup: the comparison in Python alone decides.
        assert prefilter_finds(typed), "this cluster's UPPER() does not fold ı/ſ: the test would prove nothing"
        assert len(mail.outbox) == (1 if same else 0)
    victim.refresh_from_db()
    assert victim.email == stored


@pytest.mark.parametrize(("stored", "typed", "same"), LOOKALIKES)
def test_a_lookalike_of_the_reminder_address_mails_nobody_else(stored, typed, same):
    stored, typed = pair(stored, typed)
    victim = make_user()  # no account address: the reminder address is the only way in
    victim.profile.reminder_email = stored
    victim.profile.save()

    assert ask(typed).status_code == 302

    assert all(message.to == [stored] for message in mail.outbox), [m.to for m in mail.outbox]
    assert len(mail.outbox) <= (1 if same else 0)
    if connection.vendor == "postgresql" and folded_by_postgres(typed):
        assert get_user_model().objects.filter(profile__reminder_email__iexact=typed).exists()
        assert len(mail.outbox) == (1 if same else 0)


def test_the_link_goes_to_the_stored_address_not_the_one_typed(domain):
    """A different spelling of the same address is fine to ask with, but the mail goes to the one on file."""
    stored = f"Ada.Lovelace@{domain}"
    user = make_user(email=stored)

    ask(f"ada.lovelace@{domain.upper()}")

    assert [message.to for message in mail.outbox] == [[stored]]
    link = re.search(r"https://study\.example\.org(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    client = Client()
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_reminder_address_is_matched_and_mailed_as_stored(domain):
    user = make_user(email=f"work@{domain}")
    user.profile.reminder_email = f"Home@{domain}"
    user.profile.save()

    ask(f"HOME@{domain}")

    # The stored reminder address only: not the typed spelling, not the account's other address.
    assert [message.to for message in mail.outbox] == [[f"Home@{domain}"]]
    assert f"Hello {user.username}" in mail.outbox[0].body


def test_an_account_with_a_lookalike_address_gets_no_link_for_the_real_one(domain):
    """An attacker's account at "admin@maıl…" must not be mailed, or mail the victim, when "admin@mail…" is asked."""
    victim = make_user(email=f"admin@{domain}")
    lookalike = domain.replace("mail", "ma\u0131l")
    make_user(email=f"admin@{lookalike}")

    ask(f"admin@{domain}")

    assert [message.to for message in mail.outbox] == [[f"admin@{domain}"]]
    assert f"Hello {victim.username}" in mail.outbox[0].body


def test_lookalikes_of_one_address_share_its_reset_limit(domain, settings):
    """Spellings that reach one mailbox count as that mailbox: they cannot multiply the mails it gets."""
    settings.PASSWORD_RESETS_PER_EMAIL = 2
    make_user(email=f"sam@{domain}")
    assert ask(f"sam@{domain}").status_code == 302
    assert ask(f"SAM@{domain}").status_code == 302

    fullwidth_domain = domain.replace("mail", "\uff4d\uff41\uff49\uff4c")
    for spelling in (f"\u017fam@{domain}", f"sam@{fullwidth_domain}", f"Sam@{domain}"):
        response = ask(spelling)
        assert response.status_code == 429, spelling
        assert int(response["Retry-After"]) > 0
    assert len(mail.outbox) == 2
