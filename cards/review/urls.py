"""Home and the daily review."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("review/", views.review_page, name="review"),
    path("review/answer/", views.answer, name="review_answer"),
    path("review/undo/", views.undo, name="review_undo"),
]
