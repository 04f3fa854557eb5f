"""The learner's URLs. Each area of the app adds its own block below."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from cards.views import accounts, home, review

urlpatterns: list = []

# Accounts, home and the daily review (issue 2).
urlpatterns += [
    path("", home.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password/reset/", accounts.ResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            extra_context={"timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400}
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("review/", review.review_page, name="review"),
    path("review/answer/", review.answer, name="review_answer"),
    path("review/undo/", review.undo, name="review_undo"),
]

# Operations (issue 6): health probe for monitors and container healthchecks.
from cards.views import health  # noqa: E402

urlpatterns += [path("healthz", health.healthz, name="healthz")]

# Reminder emails (issue 5): settings, and the one-click unsubscribe link.
from cards.views import settings as settings_views  # noqa: E402
from cards.views import unsubscribe  # noqa: E402

urlpatterns += [
    path("settings/", settings_views.settings_page, name="settings"),
    path("reminders/unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="reminders_unsubscribe"),
]

# Live code challenges (issue 4): list, page, submit, a submission's status (htmx polling).
from cards.views import challenges  # noqa: E402

urlpatterns += [
    path("challenges/", challenges.challenge_list, name="challenge_list"),
    path("challenges/<slug:slug>/", challenges.challenge_detail, name="challenge_detail"),
    path("challenges/<slug:slug>/submit/", challenges.challenge_submit, name="challenge_submit"),
    path("submissions/<int:pk>/", challenges.submission_status, name="challenge_submission"),
]
