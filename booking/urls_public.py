"""Public booking pages, mounted by the root URLconf at the site's root (``/book/…``)."""

from __future__ import annotations

from django.urls import path

from booking import views_public

app_name = "booking_public"

urlpatterns = [
    path("book/<slug:slug>/", views_public.book, name="book"),
    path("book/<slug:slug>/sent/", views_public.sent, name="sent"),
]
