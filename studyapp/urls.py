"""Root URLs: each app's pages (no prefixes: the URLs are those from before the app split), the admin, health,
and the stored card images (MEDIA_URL + "cards/...", served by the app with DEBUG on or off: cards/anki/media.py)."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from cards.anki import media as card_media
from studyapp import health


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): answer, not a logged 404."""

    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("favicon.svg")  # at request time: the hashed name needs collectstatic's manifest


class MovedAdminView(RedirectView):
    """Admin pages of the models that moved out of the cards app: old bookmarks land on the new page."""

    permanent = True
    query_string = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return f"/admin/{MOVED_MODELS[kwargs['model']]}/{kwargs['model']}/{kwargs['rest']}"


MOVED_MODELS = {
    "profile": "accounts",
    "reviewlog": "review",
    "challenge": "challenges",
    "submission": "challenges",
    "challengecheck": "challenges",
    "remindersend": "reminders",
}

urlpatterns = [
    re_path(
        rf"^admin/cards/(?P<model>{'|'.join(MOVED_MODELS)})/(?P<rest>.*)$",
        MovedAdminView.as_view(),
        name="moved_admin",
    ),
    path("admin/", admin.site.urls),
    path("", include("cards.review.urls")),
    path("", include("cards.accounts.urls")),
    path("", include("cards.challenges.urls")),
    path("", include("cards.reminders.urls")),
    path("", include("cards.stats.urls")),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    # The health probe for monitors and container healthchecks.
    path("healthz", health.healthz, name="healthz"),
    # Images imported from Anki packages: content-addressed, public (the SHA-256 name is only in cards).
    path("media/cards/<str:name>", card_media.serve, name="card_media"),
]
