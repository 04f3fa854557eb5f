"""Live code challenges: list, page, submit, a submission's status (htmx polling)."""

from django.urls import path

from . import views

urlpatterns = [
    path("challenges/", views.challenge_list, name="challenge_list"),
    path("challenges/<slug:slug>/", views.challenge_detail, name="challenge_detail"),
    path("challenges/<slug:slug>/submit/", views.challenge_submit, name="challenge_submit"),
    path("challenges/<slug:slug>/show-me/", views.challenge_reveal, name="challenge_reveal"),
    path("submissions/<int:pk>/", views.submission_status, name="challenge_submission"),
]
