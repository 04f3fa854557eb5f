"""Accounts: sign up, and resetting a forgotten password by email (log in, log out and
changing a password are Django's own views, with this app's templates).

A reset is asked for by address: the account's email or its reminder address (a learner
who gave either can get back in). The link in the email is built on SITE_URL, never on the
request's Host header, and requests are rate-limited per client address and per target
address, so the form cannot be used to flood someone's mailbox.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cards import ratelimit
from cards.login_throttle import client_ip
from cards.models import Profile

TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class SignupForm(UserCreationForm):
    """A new account, with the time zone that decides where the learner's day starts."""

    email = forms.EmailField(
        required=False,
        help_text="Optional: where a password reset link (and, if you turn them on, reminders) can reach you.",
    )
    timezone = forms.ChoiceField(
        choices=TIMEZONE_CHOICES,
        initial="UTC",
        help_text="Your reviews reset at midnight in this time zone.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and its Profile, log the new user in, go home."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            Profile.objects.create(user=user, timezone=form.cleaned_data["timezone"])
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


class ResetForm(PasswordResetForm):
    """Django's reset form, matching the account's address or its reminder address, mailing the one typed."""

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        users = get_user_model()._default_manager.filter(
            Q(email__iexact=email) | Q(profile__reminder_email__iexact=email), is_active=True
        )
        return (user for user in users.distinct() if user.has_usable_password())

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        # The user matched on one of their two addresses: write to the one the visitor typed.
        super().send_mail(
            subject_template_name, email_template_name, context, from_email, self.cleaned_data["email"], **kwargs
        )


class ResetView(auth_views.PasswordResetView):
    """Ask for a reset link: the same answer whether or not the address is known; 429 when over a limit."""

    form_class = ResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form: ResetForm) -> HttpResponse:
        keys = (client_ip(self.request), form.cleaned_data["email"].strip().lower())
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
