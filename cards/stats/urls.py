"""The learner's statistics, and their data as CSV."""

from django.urls import path

from . import views

urlpatterns = [
    path("stats/", views.stats, name="stats"),
    path("stats/review-log.csv", views.review_log_csv, name="stats_review_log_csv"),
    path("stats/attempts.csv", views.attempts_csv, name="stats_attempts_csv"),
]
