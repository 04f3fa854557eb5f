"""The learner's URLs: accounts, home, the daily review, reminder settings, the challenges."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from cards.views import accounts, challenges, home, review, unsubscribe
from cards.views import settings as settings_views

urlpatterns = [
    path("", home.home, name="home"),
    # Accounts.
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
    # The daily review.
    path("review/", review.review_page, name="review"),
    path("review/answer/", review.answer, name="review_answer"),
    path("review/undo/", review.undo, name="review_undo"),
    # Reminder emails: settings, and the one-click unsubscribe link.
    path("settings/", settings_views.settings_page, name="settings"),
    path("reminders/unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="reminders_unsubscribe"),
    # Live code challenges: list, page, submit, a submission's status (htmx polling).
    path("challenges/", challenges.challenge_list, name="challenge_list"),
    path("challenges/<slug:slug>/", challenges.challenge_detail, name="challenge_detail"),
    path("challenges/<slug:slug>/submit/", challenges.challenge_submit, name="challenge_submit"),
    path("submissions/<int:pk>/", challenges.submission_status, name="challenge_submission"),
]
