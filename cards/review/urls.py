"""Home, the daily review and the review of one concept."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("review/", views.review_page, name="review"),
    path("review/answer/", views.answer, name="review_answer"),
    path("review/undo/", views.undo, name="review_undo"),
    # A tag's name is a slug. Due answers go to review_answer (with the concept in the form).
    path("review/concept/<slug:name>/", views.concept_review, name="review_concept"),
    path("review/concept/<slug:name>/practice/", views.concept_practice, name="review_concept_practice"),
]
