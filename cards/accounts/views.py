"""Accounts: sign up, and resetting a forgotten password by email (log in, log out and
changing a password are Django's own views, with this app's templates).

A reset is asked for by address: the account's email or its reminder address (a learner
who gave either can get back in). The typed address is compared with each stored one in
Python, as Django's own form does, and the link goes only to the stored address, never to
the one typed: a look-alike ("admin@maıl.example", which PostgreSQL's UPPER() folds onto
"admin@mail.example") gets nothing (the CVE-2019-19844 pattern). The link is built on
SITE_URL, never on the request's Host header, and requests are rate-limited per client
address and per target address, so the form cannot be used to flood someone's mailbox.

Sign-up is limited per client address (SIGNUPS_PER_CLIENT accounts per SIGNUP_WINDOW):
every account may queue gradings, so unlimited accounts would mean unlimited gradings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm

# Django's own Unicode-aware comparison (NFKC, then casefold), the one its get_users uses.
from django.contrib.auth.forms import _unicode_ci_compare as same_address
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cards.accounts.login_throttle import client_ip
from cards.accounts.models import Profile, timezone_choices
from studyapp import ratelimit


class SignupForm(UserCreationForm):
    """A new account, with the time zone that decides where the learner's day starts."""

    email = forms.EmailField(
        required=False,
        help_text="Optional: where a password reset link (and, if you turn them on, reminders) can reach you.",
    )
    reminders = forms.BooleanField(
        required=False,
        label="Email me on days when cards are due",
        help_text="One short email a day at most, sent to the address above; change it any time in Settings.",
    )
    timezone = forms.ChoiceField(
        choices=timezone_choices,
        initial="UTC",
        help_text="Your reviews reset at midnight in this time zone.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("reminders") and not cleaned.get("email"):
            self.add_error("reminders", "Reminders need an email address: give one above, or leave this unticked.")
        return cleaned


def signup_limit() -> ratelimit.Limit:
    """Accounts one client address may create per window (a classroom behind one NAT gets this many an hour)."""
    return ratelimit.Limit("signup-client", settings.SIGNUPS_PER_CLIENT, settings.SIGNUP_WINDOW)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and its Profile, log the new user in, go home; 429 past the per-client limit."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Only a valid form counts: a typo in the password confirmation costs no one a sign-up.
        decision = ratelimit.hit(signup_limit(), client_ip(request))
        if not decision.allowed:
            minutes = max(1, round(decision.retry_after / 60))
            form.add_error(
                None,
                f"Too many accounts have been created from your network recently. "
                f"Try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
            )
            response = render(request, "registration/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(decision.retry_after)
            return response
        with transaction.atomic():
            user = form.save()
            Profile.objects.create(
                user=user, timezone=form.cleaned_data["timezone"], reminders_enabled=form.cleaned_data["reminders"]
            )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


def reset_limits() -> tuple[ratelimit.Limit, ratelimit.Limit]:
    """Reset emails asked for per client address, and sent to one address, per window."""
    window = settings.PASSWORD_RESET_WINDOW
    return (
        ratelimit.Limit("reset-client", settings.PASSWORD_RESETS_PER_CLIENT, window),
        ratelimit.Limit("reset-email", settings.PASSWORD_RESETS_PER_EMAIL, window),
    )


def address_key(email: str) -> str:
    """The per-address throttle's key: look-alikes that reach one stored address share one counter."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def stored_address(user: AbstractBaseUser, typed: str) -> str | None:
    """The account's or the reminder address that is the typed one (compared as Django does), else None."""
    profile = getattr(user, "profile", None)
    for stored in (user.email, profile.reminder_email if profile else ""):
        if stored and same_address(typed, stored):
            return stored
    return None


class ResetForm(PasswordResetForm):
    """Django's reset form, also reaching an account through its reminder address; mails only stored addresses.

    The database lookup is only a case-insensitive prefilter (its UPPER() maps "ı" to "I");
    each candidate is kept only if one of its stored addresses is the typed one in Python.
    """

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        self.recipients: dict[int, str] = {}
        candidates = (
            get_user_model()
            ._default_manager.filter(Q(email__iexact=email) | Q(profile__reminder_email__iexact=email), is_active=True)
            .select_related("profile")
            .distinct()
        )
        for user in candidates:
            address = stored_address(user, email)
            if address is not None and user.has_usable_password():
                self.recipients[user.pk] = address
                yield user

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        # Django passes the account's address; the match may have been the reminder address.
        # Either way it is the stored one that get_users matched, never what was typed.
        to_email = self.recipients[context["user"].pk]
        super().send_mail(
            subject_template_name, email_template_name, {**context, "email": to_email}, from_email, to_email, **kwargs
        )


class ResetView(auth_views.PasswordResetView):
    """Ask for a reset link: the same answer whether or not the address is known; 429 when over a limit."""

    form_class = ResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form: ResetForm) -> HttpResponse:
        keys = (client_ip(self.request), address_key(form.cleaned_data["email"]))
        for limit, key in zip(reset_limits(), keys, strict=True):
            decision = ratelimit.hit(limit, key)
            if not decision.allowed:
                minutes = max(1, round(decision.retry_after / 60))
                response = render(
                    self.request, "registration/password_reset_throttled.html", {"minutes": minutes}, status=429
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)
