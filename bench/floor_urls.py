"""The app's URLs plus bench/load.py's signed-in no-op (see bench/floor_settings.py)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@login_required
def signed_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"signed in as {request.user.username}", content_type="text/plain")


urlpatterns = [path("bench/signed-in/", signed_in), path("", include("studyapp.urls"))]
