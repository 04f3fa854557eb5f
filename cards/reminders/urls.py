"""Reminder emails: the one-click unsubscribe link."""

from django.urls import path

from . import views

urlpatterns = [
    path("reminders/unsubscribe/<str:token>/", views.unsubscribe, name="reminders_unsubscribe"),
]
