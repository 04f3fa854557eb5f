"""The learner's URLs. Each area of the app adds its own block below."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
