"""Settings: the learner's reminder preferences and time zone (their own profile only)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from cards.accounts.models import Profile, timezone_choices

DEFAULT_TIMEZONE = Profile._meta.get_field("timezone").default
HOUR_CHOICES = [(hour, f"{hour:02d}:00") for hour in range(24)]


class SettingsForm(forms.ModelForm):
    """The learner's day (time zone, new cards, their order) and reminders, validated together."""

    reminder_hour = forms.TypedChoiceField(
        choices=HOUR_CHOICES,
        coerce=int,
        label="Send at (local time)",
        help_text="The reminder goes out at this hour, or later the same day if a run was missed.",
    )
    timezone = forms.ChoiceField(
        choices=timezone_choices,
        label="Time zone",
        help_text="Your day (for reviews and reminders) starts at midnight here.",
    )

    new_cards_per_day = forms.IntegerField(
        min_value=0,
        max_value=500,
        label="New cards a day",
        help_text="How many cards you have not seen yet a day may bring (0 to 500; 0 for reviews only).",
    )
    new_card_order = forms.ChoiceField(
        choices=Profile.NewCardOrder.choices,
        widget=forms.RadioSelect,
        label="When new cards come",
    )

    class Meta:
        model = Profile
        fields = (
            "timezone", "new_cards_per_day", "new_card_order", "reminders_enabled", "reminder_hour", "reminder_email",
        )  # fmt: skip
        labels = {"reminders_enabled": "Email me when cards are due", "reminder_email": "Send reminders to"}

    def __init__(self, *args: object, account_email: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = account_email
        email = self.fields["reminder_email"]
        email.help_text = (
            f"Leave blank to use your account's address ({account_email})."
            if account_email
            else "Your account has no address, so reminders need one here."
        )
        current = self.instance.timezone
        if current and current not in dict(self.fields["timezone"].choices):
            # Saved under a name no longer offered (an alias such as "US/Eastern"): keep it choosable.
            self.fields["timezone"].choices = [(current, current), *self.fields["timezone"].choices]
        if self.instance.timezone == DEFAULT_TIMEZONE and not self.is_bound:
            # The static script offers the browser's zone instead of the untouched default.
            self.fields["timezone"].widget.attrs["data-browser-default"] = "1"

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("reminders_enabled") and not cleaned.get("reminder_email") and not self.account_email:
            self.add_error("reminder_email", "Give an address to send reminders to, or turn reminders off.")
        return cleaned


@require_http_methods(["GET", "POST"])
@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """Show and save the logged-in learner's own settings."""
    profile, _ = Profile.objects.get_or_create(user=request.user)
    # Record the study day in progress in the zone it began in, before a new zone can be saved: a
    # change of zone then neither ends it early nor hands out a second batch of new cards.
    profile.today(timezone.now())
    form = SettingsForm(request.POST or None, instance=profile, account_email=request.user.email)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("settings")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/settings.html", {"form": form}, status=status)
