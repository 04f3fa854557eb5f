"""Root URLs: the learner's pages (cards.urls), accounts and the admin."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("cards.urls")),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's): answer, not a logged 404.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
]
