"""Customer review links, mounted at ``/r/`` by the root URLconf (namespace ``reviews``). The
first segment is the secret token (listed in ``crewcommand.lib.logging.SECRET_URL_SHAPES``)."""

from __future__ import annotations

from django.urls import path

from reviews import views_public

app_name = "reviews"

urlpatterns = [
    path("<str:token>/", views_public.landing, name="landing"),
    path("<str:token>/go/", views_public.go, name="go"),
]
