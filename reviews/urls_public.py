"""Customer review links, mounted at ``/r/`` by the root URLconf (namespace ``reviews``). The
first segment is the secret token (listed in ``crewcommand.lib.logging.SECRET_URL_SHAPES``)."""

from __future__ import annotations

from django.urls import path

from reviews import views_public

app_name = "reviews"

# The same views without the trailing slash (unnamed): Django's APPEND_SLASH would otherwise
# answer with a redirect that carries the token in its Location, without the private headers.
urlpatterns = [
    path("<str:token>/", views_public.landing, name="landing"),
    path("<str:token>", views_public.landing),
    path("<str:token>/go/", views_public.go, name="go"),
    path("<str:token>/go", views_public.go),
    path("<str:token>/feedback/", views_public.feedback, name="feedback"),
]
