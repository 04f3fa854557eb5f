"""Root URLs: the learner's pages (cards.urls), accounts and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("cards.urls")),
]
