"""Root URLs: the learner's pages (cards.urls), the admin, the health probe."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from studyapp import health


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): answer, not a logged 404."""

    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("favicon.svg")  # at request time: the hashed name needs collectstatic's manifest


urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("cards.urls")),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    # The health probe for monitors and container healthchecks.
    path("healthz", health.healthz, name="healthz"),
]
